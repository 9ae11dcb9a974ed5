/** A figure file (experiments/figure5.yaml, figure7.yaml): which experiments it compares, and how. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

export const figureSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  title: z.string(),
  /** curves: mean test accuracy per epoch with a 95% band (Figure 5); best: best test accuracy per approach (Figure 7). */
  kind: z.enum(['curves', 'best']),
  experiments: z.array(z.strictObject({ label: z.string(), file: z.string() })).min(1),
  /** For `curves`: report the epochs each approach needs to reach these test accuracies. */
  accuracies: z.array(z.number().gt(0).lte(1)).default([]),
  /** The paper's numbers, quoted next to ours. */
  paper: z.string().default(''),
});
export type Figure = z.output<typeof figureSchema>;

export function loadFigure(file: string): Figure {
  const parsed = figureSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${file}: invalid figure\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return { ...parsed.data, experiments: parsed.data.experiments.map((e) => ({ ...e, file: path.resolve(path.dirname(file), e.file) })) };
}

/** A figure file (experiments/figure5.yaml, figure7.yaml): which experiments it compares, and how. */
import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths.js';
import { shownPath } from '../util/shown-path.js';
import { hasKeys, parseYamlFile, readInputFile } from '../experiments/yaml-file.js';

/** The paper's figures, experiments/NAME.yaml each, in the order `reproduce` draws them; each is a Makefile target of its
 * name (`make figure5`). The AlexNet figure last: its features take minutes to compute, once. */
export const PAPER_FIGURES = ['figure5', 'figure6', 'figure7', 'figure-conv-gamma', 'figure-conv', 'figure-alexnet'] as const;

export const figureSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  title: z.string(),
  /** curves: mean test accuracy per epoch with a 95% band (Figure 5); best: best test accuracy per approach (Figure 7);
   * aps: Average Perturbation Sensitivity per layer of the source and target columns (Figure 6). */
  kind: z.enum(['curves', 'final', 'aps']),
  experiments: z.array(z.strictObject({ label: z.string(), file: z.string() })).min(1),
  /** For `curves`: report the epochs each approach needs to reach these test accuracies. */
  accuracies: z.array(z.number().gt(0).lte(1)).default([]),
  /** The paper's numbers, quoted next to ours. */
  paper: z.string().default(''),
});
/** `file`: where the figure was read from, relative to the project when inside it (as a command names it). */
export type Figure = z.output<typeof figureSchema> & { file: string };

export function loadFigure(file: string): Figure {
  const experiment = (value: unknown) =>
    hasKeys(value, ['model', 'training']) ? `this is an experiment, not a figure: train it with 'bin/pladder run ${file}'; a figure lists experiments (experiments/figure5.yaml)` : undefined;
  const { data } = parseYamlFile(readInputFile(file, 'figure'), file, figureSchema, 'figure', experiment);
  return {
    ...data,
    file: shownPath(file, PROJECT_ROOT),
    experiments: data.experiments.map((e) => ({ ...e, file: path.resolve(path.dirname(file), e.file) })),
  };
}

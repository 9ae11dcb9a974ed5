/** A benchmark's numbers as a committed artifact: `figures/bench-<name>.json` (who measured, and what), written
 * atomically and read back through its schema, so that its section of docs/results.md and its figure
 * (`figures/bench-<name>.svg`/`.png`, where it has one) are made from the file, not from the values in memory. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { z } from 'zod';
import { renderFigure } from '../figures/render.js';
import { PROJECT_ROOT } from '../paths.js';
import { figureLinks } from '../results/document.js';
import { machineStamp, machineStampSchema, type MachineStamp } from '../provenance/machine.js';
import { writeJsonAtomic } from '../util/atomic.js';

export interface RecordedBench<T> {
  stamp: MachineStamp;
  measured: T;
  /** The section's line linking its numbers and its picture (docs/results.md sits one folder below the root). */
  links: string;
}

export async function recordBench<S extends z.ZodTypeAny>(
  name: string,
  schema: S,
  measured: z.input<S>,
  device: string,
  draw?: (measured: z.output<S>, subtitle: string) => TopLevelSpec,
): Promise<RecordedBench<z.output<S>>> {
  const base = path.join(PROJECT_ROOT, 'figures', `bench-${name}`);
  writeJsonAtomic(`${base}.json`, { stamp: machineStampSchema.parse(await machineStamp(device)), measured: schema.parse(measured) });
  const back = z.object({ stamp: machineStampSchema, measured: z.unknown() }).parse(JSON.parse(readFileSync(`${base}.json`, 'utf8')));
  const stored: z.output<S> = schema.parse(back.measured);
  const numbers = `- numbers: ${path.relative(PROJECT_ROOT, `${base}.json`)}`;
  if (!draw) return { stamp: back.stamp, measured: stored, links: numbers };
  const figure = await renderFigure(draw(stored, `${back.stamp.date}, commit ${back.stamp.commit}`), base);
  return { stamp: back.stamp, measured: stored, links: `${numbers}; figure: ${figureLinks(figure)}` };
}

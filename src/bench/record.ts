/** A benchmark's numbers as a committed artifact: `figures/bench-<name>.json` (who measured, and what), written
 * atomically and read back through its schema, so that its section of docs/results.md and its figure are made from
 * the file, not from the values in memory. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths.js';
import { machineStamp } from '../provenance/machine.js';
import { writeJsonAtomic } from '../util/atomic.js';

const stampSchema = z.object({ date: z.string(), commit: z.string(), machine: z.string() });

export const benchFile = (name: string) => path.join(PROJECT_ROOT, 'figures', `bench-${name}.json`);

export async function recordBench<S extends z.ZodTypeAny>(name: string, schema: S, measured: z.input<S>, device: string) {
  const file = benchFile(name);
  const envelope = z.object({ stamp: stampSchema, measured: z.unknown() });
  writeJsonAtomic(file, { stamp: stampSchema.parse(await machineStamp(device)), measured: schema.parse(measured) });
  const back = envelope.parse(JSON.parse(readFileSync(file, 'utf8')));
  const stored: z.output<S> = schema.parse(back.measured);
  return { file: path.relative(PROJECT_ROOT, file), stamp: back.stamp, measured: stored };
}

/** A run directory: everything one training run writes, each file written atomically.
 *
 *   config.json       the resolved experiment, seed, quick flag, device and data directory
 *   environment.json  versions, device, git commit, start time
 *   metrics.jsonl     one line per completed epoch (rewritten whole after each checkpoint)
 *   checkpoint.pt     the trainer after the last complete epoch (written by the kernel)
 *   model.pt          the final model;  column.pt  its clean encoder as a reusable source column
 *   result.json       the outcome; its presence marks the run complete
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { epochMetricsSchema } from '../bridge/calls.js';
import { experimentSchema } from '../experiments/schema.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';

export const runConfigSchema = z.strictObject({
  experiment: experimentSchema,
  seed: z.number().int().nonnegative(),
  quick: z.boolean(),
  device: z.string(),
  data_dir: z.string(),
});
export type RunConfig = z.output<typeof runConfigSchema>;

export const epochRecordSchema = epochMetricsSchema.extend({
  /** Wall time of the epoch's bridge call as TypeScript saw it. */
  wall_seconds: z.number(),
  /** wall_seconds minus the time spent inside the kernel: the bridge's share. */
  bridge_seconds: z.number(),
});
export type EpochRecord = z.infer<typeof epochRecordSchema>;

export const runResultSchema = z.object({
  epochs: z.number().int(),
  stop_reason: z.enum(['epochs', 'target_accuracy']),
  final_test_error: z.number(),
  best_test_error: z.number(),
  best_epoch: z.number().int(),
  mean_epoch_seconds: z.number(),
  examples_per_second: z.number(),
  bridge_share: z.number(),
  completed_at: z.string(),
});
export type RunResult = z.infer<typeof runResultSchema>;

export class RunDirectory {
  constructor(readonly dir: string) {}

  file(name: 'config.json' | 'environment.json' | 'metrics.jsonl' | 'checkpoint.pt' | 'model.pt' | 'column.pt' | 'result.json'): string {
    return path.join(this.dir, name);
  }

  exists(): boolean {
    return existsSync(this.file('config.json'));
  }

  isComplete(): boolean {
    return existsSync(this.file('result.json'));
  }

  readConfig(): RunConfig {
    const file = this.file('config.json');
    if (!existsSync(file)) throw new Error(`${this.dir} is not a run directory: ${file} is missing`);
    const parsed = runConfigSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file} is not a valid run configuration: ${parsed.error.message}`);
    return parsed.data;
  }

  writeConfig(config: RunConfig): void {
    writeJsonAtomic(this.file('config.json'), config);
  }

  /** environment.json as written (its shape is checked by whoever reads a field of it). */
  readEnvironment(): Record<string, unknown> {
    return JSON.parse(readFileSync(this.file('environment.json'), 'utf8')) as Record<string, unknown>;
  }

  writeEnvironment(environment: Record<string, unknown>): void {
    writeJsonAtomic(this.file('environment.json'), environment);
  }

  /** The records of completed epochs; a line that does not parse (never expected: writes are atomic) is dropped. */
  readMetrics(): EpochRecord[] {
    const file = this.file('metrics.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .flatMap((line) => {
        const parsed = epochRecordSchema.safeParse(JSON.parse(line));
        return parsed.success ? [parsed.data] : [];
      });
  }

  writeMetrics(records: EpochRecord[]): void {
    writeFileAtomic(this.file('metrics.jsonl'), records.map((record) => JSON.stringify(record)).join('\n') + '\n');
  }

  readResult(): RunResult {
    return runResultSchema.parse(JSON.parse(readFileSync(this.file('result.json'), 'utf8')));
  }

  writeResult(result: RunResult): void {
    writeJsonAtomic(this.file('result.json'), result);
  }
}

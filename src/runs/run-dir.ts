/** A run directory: everything one training run writes, each file written atomically.
 *
 *   config.json       the resolved experiment, seed, quick flag, device and data directory
 *   environment.json  versions, device, git commit, start time
 *   metrics.jsonl     one line per completed epoch (rewritten whole after each checkpoint)
 *   checkpoint.pt     the trainer after the last complete epoch (written by the kernel)
 *   model.pt          the final model;  column.pt  its clean encoder as a reusable source column
 *   result.json       the outcome; its presence marks the run complete
 *   aps.json          Average Perturbation Sensitivity of a finished progressive run (runs/perturbation.ts)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { epochMetricsSchema } from '../bridge/calls.js';
import { experimentSchema } from '../spec/experiment.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { formatPath } from '../util/field-path.js';
import type { ApsMeasurement } from './perturbation.js';

export const runConfigSchema = z.strictObject({
  experiment: experimentSchema,
  seed: z.number().int().nonnegative(),
  quick: z.boolean(),
  device: z.string(),
  data_dir: z.string(),
});
export type RunConfig = z.output<typeof runConfigSchema>;

/** A timing TypeScript measures around the epoch's call: NaN where nobody measured it (an epoch recovered from the
 * checkpoint of a run killed before its metrics were written), which JSON writes as null. */
const timing = z.number().nullable().transform((seconds) => seconds ?? NaN);

export const epochRecordSchema = epochMetricsSchema.extend({
  kernel_seconds: timing,
  /** Wall time of the epoch's bridge call as TypeScript saw it. */
  wall_seconds: timing,
  /** wall_seconds minus the time spent inside the kernel: the bridge's share. */
  bridge_seconds: timing,
});
export type EpochRecord = z.infer<typeof epochRecordSchema>;

/** Where a run's loss first became NaN or infinite (the epoch) and the last finite loss before it. */
export const divergenceSchema = z.object({ epoch: z.number().int().positive(), last_finite_loss: z.number().nullable() });
export type Divergence = z.infer<typeof divergenceSchema>;

export const runResultSchema = z.object({
  epochs: z.number().int(),
  /** `diverged`: stopped at a non-finite loss; such a run is left out of every aggregate and marked where shown. */
  /** target_accuracy: a run of an older version that stopped on its test accuracy. */
  stop_reason: z.enum(['epochs', 'validation_accuracy', 'target_accuracy', 'diverged']),
  /** Present when the loss went non-finite (also with --allow-divergence, which trains on regardless). */
  diverged: divergenceSchema.optional(),
  final_test_error: z.number(),
  best_test_error: z.number(),
  best_epoch: z.number().int(),
  mean_epoch_seconds: z.number(),
  examples_per_second: z.number(),
  bridge_share: z.number(),
  completed_at: z.string(),
  /** What a reader of the result must know of how the network was made, e.g. that an AlexNet column's weights were
   * random (pretrained: false), not ImageNet's (run_create's notes). */
  notes: z.array(z.string()).optional(),
});
export type RunResult = z.infer<typeof runResultSchema>;

export class RunDirectory {
  constructor(readonly dir: string) {}

  file(name: 'config.json' | 'environment.json' | 'metrics.jsonl' | 'checkpoint.pt' | 'model.pt' | 'column.pt' | 'result.json' | 'aps.json'): string {
    return path.join(this.dir, name);
  }

  exists(): boolean {
    return existsSync(this.file('config.json'));
  }

  isComplete(): boolean {
    return existsSync(this.file('result.json'));
  }

  /** Whether anything of the run is worth keeping: a finished epoch or a checkpoint. A directory with only its
   * config.json was refused before training (bad device, data or labels) and may simply be started again. */
  hasProgress(): boolean {
    return this.isComplete() || existsSync(this.file('checkpoint.pt')) || this.readMetrics().length > 0;
  }

  readConfig(): RunConfig {
    const file = this.file('config.json');
    if (!existsSync(file)) throw new RunDirectoryError(notARunDirectory(this.dir));
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new RunDirectoryError(`${file} cannot be read as JSON (${(error as Error).message}); the run directory is damaged: start the run over with --fresh`);
    }
    const parsed = runConfigSchema.safeParse(json);
    if (!parsed.success) throw new RunDirectoryError(`${file} is not a valid run configuration (${z.prettifyError(parsed.error).replace(/\n/g, '; ')}); start the run over with --fresh`);
    // A run's identity is its folder's seed (runs/<experiment>/seed-N): a config.json that says another trains or
    // reports another data split under this name.
    const folderSeed = /^seed-(\d+)$/.exec(path.basename(this.dir))?.[1];
    if (folderSeed !== undefined && Number(folderSeed) !== parsed.data.seed) {
      throw new RunDirectoryError(
        `${file} says "seed": ${parsed.data.seed}, but its run directory is seed-${folderSeed}; a run keeps the seed it was started with: ` +
          `put "seed": ${folderSeed} back in config.json, or start the run over with --fresh`,
      );
    }
    return parsed.data;
  }

  writeConfig(config: RunConfig): void {
    writeJsonAtomic(this.file('config.json'), config);
  }

  /** environment.json as written (its shape is checked by whoever reads a field of it); a file that is not a JSON
   * object is refused, naming it. */
  readEnvironment(): Record<string, unknown> {
    const file = this.file('environment.json');
    const json = readJson(file, this.startOver());
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new RunDirectoryError(`${file} is not a JSON object; the run directory is damaged: ${this.startOver()}`);
    return json as Record<string, unknown>;
  }

  writeEnvironment(environment: Record<string, unknown>): void {
    writeJsonAtomic(this.file('environment.json'), environment);
  }

  /** The records of completed epochs, 1, 2, 3, ... A line that is not such a record (never written by pladder: the
   * file is written whole and atomically) is refused, naming the file, the line and what is wrong with it. */
  readMetrics(): EpochRecord[] {
    const file = this.file('metrics.jsonl');
    if (!existsSync(file)) return [];
    const records: EpochRecord[] = [];
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim()) return;
        const damaged = (what: string) => new RunDirectoryError(`${file}:${i + 1}: ${what}; the file is damaged: ${this.startOver()}`);
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch (error) {
          throw damaged(`not a JSON epoch record (${(error as Error).message})`);
        }
        if (typeof json !== 'object' || json === null || Array.isArray(json)) throw damaged('not a JSON epoch record (an object per line)');
        const parsed = epochRecordSchema.safeParse(json);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw damaged(`not an epoch record: ${formatPath(issue.path) || 'the record'}: ${issue.message}`);
        }
        if (parsed.data.epoch !== records.length + 1) throw damaged(`the record of epoch ${parsed.data.epoch} where epoch ${records.length + 1}'s belongs`);
        records.push(parsed.data);
      });
    return records;
  }

  writeMetrics(records: EpochRecord[]): void {
    writeFileAtomic(this.file('metrics.jsonl'), records.map((record) => JSON.stringify(record)).join('\n') + '\n');
  }

  /** aps.json as written by measureAps (its shape is that module's; a missing or unreadable file is no measurement). */
  readAps<T = ApsMeasurement[]>(): T | undefined {
    try {
      return JSON.parse(readFileSync(this.file('aps.json'), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  readResult(): RunResult {
    const file = this.file('result.json');
    const parsed = runResultSchema.safeParse(readJson(file, this.startOver()));
    if (!parsed.success) throw new RunDirectoryError(`${file} is not a run's result (${z.prettifyError(parsed.error).replace(/\n/g, '; ')}); the run directory is damaged: ${this.startOver()}`);
    return parsed.data;
  }

  /** What to do with a damaged run directory: train it again, or take it out of whatever reads it. */
  private startOver(): string {
    return `start the run over with --fresh, or delete ${this.dir} to leave it out`;
  }

  writeResult(result: RunResult): void {
    writeJsonAtomic(this.file('result.json'), result);
  }
}

/** A path given as a run directory that is not one (missing, a file, an experiment's folder), or a damaged one. */
export class RunDirectoryError extends Error {
  override readonly name = 'RunDirectoryError';
}

/** A JSON file of a run directory, or a RunDirectoryError naming it and saying `fix`. */
function readJson(file: string, fix: string): unknown {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RunDirectoryError(`${file} cannot be read as JSON (${(error as Error).message}); the run directory is damaged: ${fix}`);
  }
}

function notARunDirectory(dir: string): string {
  if (!existsSync(dir)) return `${dir} does not exist; give the directory of one seed's run, e.g. runs/<experiment>/seed-1`;
  if (!statSync(dir).isDirectory()) return `${dir} is a file, not a run directory; give the directory of one seed's run, e.g. runs/<experiment>/seed-1`;
  const seeds = readdirSync(dir).filter((name) => /^seed-\d+$/.test(name) && existsSync(path.join(dir, name, 'config.json')));
  if (seeds.length) {
    return `${dir} is an experiment's folder, not one run: resume one of its seeds (${seeds.map((s) => path.join(dir, s)).join(', ')}), or continue them all with 'pladder run FILE --continue'`;
  }
  return `${dir} is not a run directory (it has no config.json); give the directory of one seed's run, e.g. runs/<experiment>/seed-1`;
}

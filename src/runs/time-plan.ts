/** How long a job takes on this machine, from the epochs this machine has measured: each run's own epochs, else those
 * of its other seeds or other lengths and label budgets of the same experiment. Nothing is trained or timed anew. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { JobRun } from './job.js';
import { RunDirectory, type EpochRecord } from './run-dir.js';
import { variantOf } from './runner.js';

const measurementSchema = z.strictObject({
  /** Mean wall-clock seconds of one epoch (training, evaluation and the bridge), as measured. */
  seconds_per_epoch: z.number().positive(),
  epochs_measured: z.number().int().positive(),
  /** The run directories the epochs were read from. */
  from: z.array(z.string()).min(1),
  /** 'own': this run's epochs; 'sibling': other seeds, lengths or label budgets of the same experiment. */
  kind: z.enum(['own', 'sibling']),
});

const plannedRunSchema = z.strictObject({
  run: z.string(),
  role: z.enum(['source', 'target']),
  /** The run's length: the experiment's epochs, or where it stops at a validation accuracy, the epochs it (or its
   * complete siblings, on average) took. */
  epochs: z.number().int().positive(),
  epochs_done: z.number().int().nonnegative(),
  /** null: no epoch of this experiment has been measured in the runs directory. */
  measured: measurementSchema.nullable(),
  /** Seconds the whole run takes (its measured epochs as they took, the rest at the measured rate); null if unmeasured. */
  run_seconds: z.number().nonnegative().nullable(),
  /** Seconds still to train (0 when complete, or when no unfinished run needs this source). */
  left_seconds: z.number().nonnegative().nullable(),
});
export type PlannedRun = z.output<typeof plannedRunSchema>;

export const timePlanSchema = z.strictObject({
  runs_dir: z.string(),
  runs: z.array(plannedRunSchema),
  /** Sums over the measured runs, one after another. */
  total_run_seconds: z.number().nonnegative(),
  left_run_seconds: z.number().nonnegative(),
  /** Runs whose experiment has no measured epoch: not in the sums. */
  unmeasured: z.array(z.string()),
});
export type TimePlan = z.output<typeof timePlanSchema>;

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** A variant's folder of `name`: the experiment itself, or it with a length and/or label budget (not --quick, whose
 * short epochs and test subset time nothing of a full run). */
const isVariantOf = (folder: string, name: string) => variantOf(folder, name)?.quick === false;

/** The measured epochs of every seed of `name`'s full-length runs and their variants in `runsDir`. */
function siblingEpochs(runsDir: string, name: string, except: string): { dir: string; records: EpochRecord[]; complete: boolean }[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir)
    .filter((folder) => isVariantOf(folder, name))
    .flatMap((folder) => readdirSync(path.join(runsDir, folder)).filter((seed) => /^seed-\d+$/.test(seed)).map((seed) => path.join(runsDir, folder, seed)))
    .filter((dir) => path.resolve(dir) !== path.resolve(except))
    .map((dir) => new RunDirectory(dir))
    .map((run) => ({ dir: run.dir, records: run.readMetrics(), complete: run.isComplete() }))
    .filter(({ records }) => records.length > 0);
}

interface Measured {
  measured: PlannedRun['measured'];
  /** The run's own epochs so far, and whether it is complete. */
  done: EpochRecord[];
  complete: boolean;
  /** The epochs a run of this experiment lasts: its length, or for one that stops at a validation accuracy the mean
   * length of its complete siblings. */
  expectedEpochs: number;
}

/** An epoch's wall time; the kernel's own time for an epoch whose wall time was not measured (recovered from a
 * checkpoint). */
const epochSeconds = (record: EpochRecord) => (Number.isFinite(record.wall_seconds) ? record.wall_seconds : record.seconds);

function measure(run: JobRun, runsDir: string): Measured {
  const epochs = run.experiment.training.epochs;
  const own = new RunDirectory(run.trainedIn ?? run.dir);
  const done = own.readMetrics();
  const complete = run.complete || own.isComplete();
  if (done.length) {
    const measured = { seconds_per_epoch: mean(done.map(epochSeconds)), epochs_measured: done.length, from: [own.dir], kind: 'own' as const };
    return { measured, done, complete, expectedEpochs: complete ? done.length : epochs };
  }
  const siblings = siblingEpochs(runsDir, run.experiment.name, own.dir);
  if (!siblings.length) return { measured: null, done, complete, expectedEpochs: epochs };
  const records = siblings.flatMap((s) => s.records);
  const measured = { seconds_per_epoch: mean(records.map(epochSeconds)), epochs_measured: records.length, from: siblings.map((s) => s.dir), kind: 'sibling' as const };
  const stopped = siblings.filter((s) => s.complete).map((s) => s.records.length);
  const stopsEarly = run.experiment.training.stop_at_validation_accuracy !== null && stopped.length > 0;
  return { measured, done, complete, expectedEpochs: stopsEarly ? Math.min(epochs, Math.round(mean(stopped))) : epochs };
}

export function timePlan(runs: JobRun[], runsDir: string): TimePlan {
  const planned = runs.map((run): PlannedRun => {
    const { measured, done, complete, expectedEpochs } = measure(run, runsDir);
    const rate = measured?.seconds_per_epoch;
    const doneSeconds = done.reduce((sum, r) => sum + epochSeconds(r), 0);
    const rest = complete ? 0 : Math.max(0, expectedEpochs - done.length);
    return {
      run: `${path.basename(path.dirname(run.dir))}/${path.basename(run.dir)}`,
      role: run.role,
      epochs: expectedEpochs,
      epochs_done: complete ? expectedEpochs : done.length,
      measured,
      run_seconds: rate === undefined ? null : doneSeconds + rate * rest,
      left_seconds: rate === undefined ? null : run.toTrain ? rate * rest : 0,
    };
  });
  const sum = (values: (number | null)[]) => values.reduce<number>((total, value) => total + (value ?? 0), 0);
  return timePlanSchema.parse({
    runs_dir: runsDir,
    runs: planned,
    total_run_seconds: sum(planned.map((p) => p.run_seconds)),
    left_run_seconds: sum(planned.map((p) => p.left_seconds)),
    unmeasured: planned.filter((p) => p.measured === null).map((p) => p.run),
  });
}

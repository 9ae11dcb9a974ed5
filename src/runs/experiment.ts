/** Running an experiment: one run per seed (each its own directory), then the aggregate over seeds. */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kernel } from '../bridge/index.js';
import { summarize, type Summary } from '../analysis/stats.js';
import type { DataLocation } from '../data/index.js';
import type { Experiment } from '../experiments/schema.js';
import { learningCurveSpec } from '../figures/learning-curve.js';
import { renderFigure, type RenderedFigure } from '../figures/render.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { RunDirectory, type RunResult } from './run-dir.js';
import { applyVariant, runDirFor, trainRun, type RunEvents } from './runner.js';
import { resolveSources } from './sources.js';

export interface ExperimentOptions {
  runsDir: string;
  device: string;
  quick: boolean;
  seeds?: number[];
  /** Start over where a run directory already exists (otherwise: complete runs are reused, partial ones refused). */
  fresh?: boolean;
  /** Train this many epochs instead of the experiment's (its sources keep theirs). */
  epochs?: number;
  /** Labeled examples of the experiment's own (target) dataset instead of its `data.labels` (null: all). */
  labels?: number | null;
  /** Runs trained side by side (seeds, and the experiments of one call), each in its own Python process with an
   * equal share of the CPU cores (default 1). */
  parallel?: number;
}

export interface ExperimentOutcome {
  experiment: Experiment;
  runs: { seed: number; dir: string; result: RunResult }[];
  finalTestError: Summary;
  bestTestError: Summary;
  summaryFile: string;
  learningCurve: RenderedFigure;
}

export class RunExistsError extends Error {
  override readonly name = 'RunExistsError';
}

export async function runExperiment(kernel: Kernel, experiment: Experiment, where: DataLocation, options: ExperimentOptions, events: RunEvents): Promise<ExperimentOutcome> {
  const [outcome] = await runExperiments(kernel, [experiment], where, options, events);
  return outcome!;
}

/** Runs every seed of every experiment, `options.parallel` at a time (the pool spans experiments, so a figure's
 * runs all share it), then aggregates each experiment. */
export async function runExperiments(kernel: Kernel, experiments: Experiment[], where: DataLocation, options: ExperimentOptions, events: RunEvents): Promise<ExperimentOutcome[]> {
  // A source column is trained (once, for its own seed and length) by running its experiment like any other.
  const train = async (source: Experiment, sourceSeed: number) => {
    const { epochs: _ownLength, labels: _ownLabels, ...sourceOptions } = options;
    const outcome = await runExperiment(kernel, source, where, { ...sourceOptions, seeds: [sourceSeed], fresh: false, parallel: 1 }, events);
    return outcome.runs[0]!.dir;
  };
  const plans = experiments.map((experiment) => {
    const effective = applyVariant(experiment, options);
    const seeds = (options.seeds ?? experiment.seeds).map((seed) => ({ seed, dir: new RunDirectory(runDirFor(options.runsDir, experiment, seed, options)) }));
    return { effective, seeds, resolved: undefined as Promise<Experiment> | undefined };
  });
  // Every run directory is checked before any training, so that a refusal never comes hours in.
  for (const { dir } of plans.flatMap((plan) => plan.seeds)) {
    if (dir.exists() && options.fresh) rmSync(dir.dir, { recursive: true, force: true });
    if (dir.exists() && !dir.isComplete()) {
      throw new RunExistsError(`${dir.dir} holds an unfinished run (${dir.readMetrics().length} epochs). Continue it with 'pladder run --resume ${dir.dir}', or start over with --fresh.`);
    }
  }
  // Sources are resolved (found in the cache, or trained) once per experiment, when its first run needs them.
  const sourcesResolved = (plan: (typeof plans)[number]) =>
    (plan.resolved ??= resolveSources(plan.effective, { where, device: options.device, quick: options.quick, events, train }));
  const jobs = plans.flatMap((plan) =>
    plan.seeds.map(({ seed, dir }) => async (worker: Kernel) => {
      if (dir.isComplete()) {
        events.log(`${dir.dir}: already complete, reusing its result (--fresh to train again)`);
      } else {
        dir.writeConfig({ experiment: await sourcesResolved(plan), seed, quick: options.quick, device: options.device, data_dir: where.dataDir });
        await trainRun(worker, dir, where, events);
      }
      return { seed, dir: dir.dir, result: dir.readResult() };
    }),
  );

  const pending = plans.flatMap((plan) => plan.seeds).filter(({ dir }) => !dir.isComplete()).length;
  const workers = Math.min(options.parallel ?? 1, pending);
  let runs: ExperimentOutcome['runs'];
  if (workers <= 1) {
    runs = [];
    for (const job of jobs) runs.push(await job(kernel));
  } else {
    // Sources first, on the shared kernel: runs side by side must not train the same source twice.
    for (const plan of plans) await sourcesResolved(plan);
    runs = await inParallel(workers, options.device, jobs);
  }
  const outcomes: ExperimentOutcome[] = [];
  for (const { effective, seeds } of plans) {
    const own = runs.splice(0, seeds.length);
    outcomes.push(await aggregate(effective, own, path.dirname(own[0]?.dir ?? options.runsDir)));
  }
  return outcomes;
}

/** Runs the jobs on `workers` fresh kernels (separate Python processes) that split the cores between them; every job
 * runs to its end even when another fails (the first failure is thrown after all have settled). */
async function inParallel<T>(workers: number, device: string, jobs: ((kernel: Kernel) => Promise<T>)[]): Promise<T[]> {
  const threads = Math.max(1, Math.floor(os.availableParallelism() / workers));
  const kernels = Array.from({ length: workers }, () => new Kernel({ device, threads }));
  const results: PromiseSettledResult<T>[] = new Array(jobs.length);
  let next = 0;
  try {
    await Promise.all(
      kernels.map(async (worker) => {
        for (let job = next++; job < jobs.length; job = next++) {
          results[job] = await jobs[job]!(worker).then(
            (value) => ({ status: 'fulfilled' as const, value }),
            (reason: unknown) => ({ status: 'rejected' as const, reason }),
          );
        }
      }),
    );
  } finally {
    await Promise.all(kernels.map((worker) => worker.stop({ final: true })));
  }
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** The summary over seeds and the learning-curve figure, written next to the seed directories. */
export async function aggregate(experiment: Experiment, runs: ExperimentOutcome['runs'], dir: string): Promise<ExperimentOutcome> {
  const finalTestError = summarize(runs.map((r) => r.result.final_test_error));
  const bestTestError = summarize(runs.map((r) => r.result.best_test_error));
  const summaryFile = path.join(dir, 'summary.json');
  writeJsonAtomic(summaryFile, {
    experiment: experiment.name,
    seeds: runs.map((r) => r.seed),
    final_test_error: finalTestError,
    best_test_error: bestTestError,
    mean_epoch_seconds: summarize(runs.map((r) => r.result.mean_epoch_seconds)).mean,
    bridge_share: summarize(runs.map((r) => r.result.bridge_share)).mean,
    runs: runs.map((r) => ({ seed: r.seed, dir: r.dir, ...r.result })),
  });
  const curves = runs.map((r) => ({ seed: r.seed, records: new RunDirectory(r.dir).readMetrics() }));
  const learningCurve = await renderFigure(learningCurveSpec(experiment.name, curves), path.join(dir, 'learning-curve'));
  return { experiment, runs, finalTestError, bestTestError, summaryFile, learningCurve };
}

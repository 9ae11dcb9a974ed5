/** Running an experiment: one run per seed (each its own directory), then the aggregate over seeds. */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kernel } from '../bridge/index.js';
import { summarize, type Summary } from '../analysis/stats.js';
import type { DataLocation } from '../data/index.js';
import type { Experiment } from '../spec/experiment.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { acquireRunLock } from './lock.js';
import { checkInputs, refuseSharedRunDirs, refuseUnseenDevices } from './preflight.js';
import { RunDirectory, type Divergence, type EpochRecord, type RunResult } from './run-dir.js';
import { applyVariant, runDirFor, trainRun, trainRunsBatched, whySeedsApart, type RunEvents } from './runner.js';
import { resolveSources, sameDefinition } from './sources.js';
import { runOnWorkers, visibleDevices, workerSlots, type PoolJob } from './workers.js';

export interface ExperimentOptions {
  runsDir: string;
  device: string;
  quick: boolean;
  seeds?: number[];
  /** Start over where a run directory already exists (otherwise: complete runs are reused, partial ones refused). */
  fresh?: boolean;
  /** Continue unfinished runs from their last complete epoch instead of refusing them. */
  continue?: boolean;
  /** Train this many epochs instead of the experiment's (its sources keep theirs). */
  epochs?: number;
  /** Labeled examples of the experiment's own (target) dataset instead of its `data.labels` (null: all). */
  labels?: number | null;
  /** Runs trained side by side on each device (seeds, and the experiments of one call), each in its own Python
   * process with an equal share of the CPU cores (default 1). */
  parallel?: number;
  /** The devices the runs are spread over, `parallel` workers on each (default: `device` alone). */
  devices?: string[];
  /** CPU threads of each worker process (default: the cores shared evenly between the workers). */
  threads?: number;
  /** Train on past a NaN or infinite loss instead of ending the run as diverged. */
  allowDivergence?: boolean;
  /** Train the unfinished seeds of an experiment together as one job, when they stand at one epoch (runner.ts
   * `whySeedsApart`, `trainRunsBatched`); other experiments train one run per seed. Undefined: where it pays
   * (`seedsTogetherPay`). */
  batchSeeds?: boolean;
}

export interface FinishedRun {
  seed: number;
  dir: string;
  result: RunResult;
}

export interface ExperimentOutcome {
  experiment: Experiment;
  /** The runs the summary is over: every seed that did not diverge. */
  runs: FinishedRun[];
  /** Seeds that ended at a non-finite loss: reported, never averaged in. */
  diverged: FinishedRun[];
  finalTestError: Summary;
  bestTestError: Summary;
  summaryFile: string;
}

export class RunExistsError extends Error {
  override readonly name = 'RunExistsError';
}

export class MissingRunsError extends Error {
  override readonly name = 'MissingRunsError';
}

/** Some runs of the job diverged (the others completed and were summarised without them). */
export class DivergedError extends Error {
  override readonly name = 'DivergedError';
}

export const isDiverged = (result: RunResult) => result.stop_reason === 'diverged';

export function describeDivergence(seed: number, divergence: Divergence | undefined): string {
  return `seed ${seed} diverged at epoch ${divergence?.epoch ?? '?'} (last finite loss ${divergence?.last_finite_loss ?? 'none'})`;
}

/** The error a command ends with when runs of its job diverged (after every other run has finished). */
export function divergedError(outcomes: ExperimentOutcome[]): DivergedError | undefined {
  const lines = outcomes.flatMap((o) => o.diverged.map((r) => `  ${o.experiment.name}: ${describeDivergence(r.seed, r.result.diverged)}: ${r.dir}`));
  if (!lines.length) return undefined;
  return new DivergedError(
    `${lines.length} run(s) diverged (the loss became NaN or infinite) and are left out of every summary and figure:\n${lines.join('\n')}\n` +
      `Lower training.learning_rate and start them over with --fresh (or train on regardless with --allow-divergence).`,
  );
}

export interface ExistingRun {
  seed: number;
  dir: string;
  records: EpochRecord[];
  complete: boolean;
  /** Set when the run ended at a non-finite loss (such runs are shown as diverged, never averaged). */
  diverged?: Divergence | undefined;
}

/** An experiment's runs as they stand, complete or not, training nothing (seeds without a finished epoch are left out). */
export function existingRuns(experiment: Experiment, options: ExperimentOptions): ExistingRun[] {
  const seeds = options.seeds ?? experiment.seeds;
  const runs = seeds.flatMap((seed): ExistingRun[] => {
    const dir = new RunDirectory(runDirFor(options.runsDir, experiment, seed, options));
    const records = dir.readMetrics();
    const result = dir.isComplete() ? dir.readResult() : undefined;
    const diverged = result && isDiverged(result) ? (result.diverged ?? { epoch: result.epochs, last_finite_loss: null }) : undefined;
    return records.length ? [{ seed, dir: dir.dir, records, complete: dir.isComplete(), diverged }] : [];
  });
  if (!runs.length) {
    const where = path.dirname(runDirFor(options.runsDir, experiment, seeds[0] ?? 1, options));
    throw new MissingRunsError(`${experiment.name}: no run in ${where} has finished an epoch (seeds ${seeds.join(', ')}); train them first (the same command without --no-train)`);
  }
  return runs;
}

/** The files aggregate() and drawLearningCurve() write beside an experiment's seed-N folders. */
const EXPERIMENT_SUMMARY_FILES = ['summary.json', 'learning-curve.svg', 'learning-curve.png'];

function removeExperimentSummary(experimentDir: string): void {
  for (const name of EXPERIMENT_SUMMARY_FILES) rmSync(path.join(experimentDir, name), { force: true });
}

export async function runExperiment(kernel: Kernel, experiment: Experiment, where: DataLocation, options: ExperimentOptions, events: RunEvents): Promise<ExperimentOutcome> {
  const [outcome] = await runExperiments(kernel, [experiment], where, options, events);
  return outcome!;
}

/** Runs every seed of every experiment, `options.parallel` at a time (the pool spans experiments, so a figure's
 * runs all share it), then aggregates each experiment. */
export async function runExperiments(kernel: Kernel, experiments: Experiment[], where: DataLocation, options: ExperimentOptions, events: RunEvents): Promise<ExperimentOutcome[]> {
  // A source column is trained (once, for its own seed and length, on the shared kernel, however many runs side by
  // side need it) by running its experiment like any other.
  const trainings = new Map<string, Promise<string>>();
  const train = (source: Experiment, sourceSeed: number): Promise<string> => {
    const key = `${source.name}/${sourceSeed}`;
    const known = trainings.get(key);
    if (known) return known;
    const training = trainSource(source, sourceSeed);
    trainings.set(key, training);
    return training;
  };
  const trainSource = async (source: Experiment, sourceSeed: number) => {
    const { epochs: _ownLength, labels: _ownLabels, ...sourceOptions } = options;
    const outcome = await runExperiment(kernel, source, where, { ...sourceOptions, seeds: [sourceSeed], fresh: false, parallel: 1 }, events);
    const run = outcome.runs[0] ?? outcome.diverged[0]!;
    if (isDiverged(run.result)) throw new DivergedError(`the source ${source.name} ${describeDivergence(sourceSeed, run.result.diverged)}; it cannot serve as a column (${run.dir}). Fix its training and start it over with --fresh.`);
    return run.dir;
  };
  const plans = experiments.map((experiment) => {
    const effective = applyVariant(experiment, options);
    const seeds = (options.seeds ?? experiment.seeds).map((seed) => ({ seed, dir: new RunDirectory(runDirFor(options.runsDir, experiment, seed, options)) }));
    return { effective, seeds, resolved: new Map<number, Promise<Experiment>>() };
  });
  refuseSharedRunDirs(plans.map((plan) => ({ name: plan.effective.name, dirs: plan.seeds.map(({ dir }) => dir.dir) })));
  if (options.devices) await refuseUnseenDevices(kernel, options.devices);
  // One process per run directory: all of the job's are taken before anything is removed or trained.
  const releases: (() => void)[] = [];
  try {
    for (const { dir } of plans.flatMap((plan) => plan.seeds)) releases.push(acquireRunLock(dir.dir));
    return await runLocked(kernel, plans, where, options, events, train);
  } finally {
    for (const release of releases) release();
  }
}

interface Plan {
  effective: Experiment;
  seeds: { seed: number; dir: RunDirectory }[];
  /** The experiment as each seed's run trains it (its sources found or trained: target seed s uses source seed s + 1000). */
  resolved: Map<number, Promise<Experiment>>;
}

async function runLocked(kernel: Kernel, plans: Plan[], where: DataLocation, options: ExperimentOptions, events: RunEvents, train: (source: Experiment, seed: number) => Promise<string>): Promise<ExperimentOutcome[]> {
  // Every run directory and every input (device, data files, label budgets, sources) is checked before any training,
  // and before any directory is made, so that a refusal never comes hours in nor leaves a directory behind.
  for (const { dir } of plans.flatMap((plan) => plan.seeds)) {
    // (--fresh first: a damaged run is what it starts over)
    if (!options.continue && !options.fresh && dir.exists() && dir.hasProgress() && !dir.isComplete()) {
      throw new RunExistsError(`${dir.dir} holds an unfinished run (${dir.readMetrics().length} epochs). Continue it with --continue (or 'bin/pladder run --resume ${dir.dir}'), or start over with --fresh.`);
    }
  }
  const toTrain = plans.map((plan) => ({ experiment: plan.effective, seeds: plan.seeds.filter(({ dir }) => options.fresh || !dir.isComplete()).map(({ seed }) => seed) }));
  await checkInputs(kernel, toTrain.filter((job) => job.seeds.length), where, options);
  for (const { dir } of plans.flatMap((plan) => plan.seeds)) {
    // --fresh starts over; a directory holding nothing but its config (refused before its first epoch) is simply redone.
    if (dir.exists() && (options.fresh || !dir.hasProgress())) {
      rmSync(dir.dir, { recursive: true, force: true });
      // The experiment's summary and learning curve described the run just removed: they go with it (written again
      // when the job ends), so that a job that fails from here leaves nothing describing a run that is gone.
      if (options.fresh) removeExperimentSummary(path.dirname(dir.dir));
    }
  }
  // Sources are resolved (found in the cache, or trained) once per experiment and seed, when that run needs them.
  const sourcesResolved = (plan: Plan, seed: number): Promise<Experiment> => {
    const known = plan.resolved.get(seed);
    if (known) return known;
    const resolved = resolveSources(plan.effective, seed, { where, device: options.device, quick: options.quick, events, train });
    plan.resolved.set(seed, resolved);
    return resolved;
  };
  const pendingRuns = plans.flatMap((plan) => plan.seeds).filter(({ dir }) => !dir.isComplete()).length;
  const cores = os.availableParallelism();
  const devices = options.devices ?? (options.device === 'auto' && pendingRuns ? visibleDevices((await kernel.info()).cuda_device_count) : [options.device]);
  const onCpu = devices.every((d) => d === 'cpu');
  const unfinished = (p: number, s: number[]) => s.some((i) => !plans[p]!.seeds[i]!.dir.isComplete());
  // Each plan's jobs if its seeds train together: asked of the kernel only where they may (a GPU job with
  // --devices need not start the shared kernel for it).
  const mayGroup = options.batchSeeds ?? seedsTogetherConsidered(devices, options);
  const grouped: number[][][] = [];
  for (const plan of plans) {
    grouped.push(mayGroup ? await seedGroups(kernel, plan, onCpu, options.batchSeeds ? events.log : undefined) : plan.seeds.map((_, i) => [i]));
  }
  const jobsIfTogether = grouped.flatMap((jobs, p) => jobs.filter((s) => unfinished(p, s)));
  const groups = jobsIfTogether.filter((s) => s.length > 1).length;
  const together = options.batchSeeds ?? seedsTogetherPay({ runs: pendingRuns, jobs: jobsIfTogether.length, groups, devices, cores, options });
  if (together && options.batchSeeds === undefined) {
    events.log(`${pendingRuns} runs on ${cores} cores: the seeds of each experiment train together in one kernel (--no-batch-seeds: one run per core)`);
  }
  // The jobs: one run each, or with --batch-seeds the unfinished seeds of an experiment as one where they can train
  // together. Seed-major order (every experiment's first seed, then every second seed...): a figure stopped part way has
  // runs of every approach to compare, not all seeds of the first approaches and nothing of the last.
  const order = plans
    .flatMap((plan, p) => (together ? grouped[p]! : plan.seeds.map((_, i) => [i])).map((s) => ({ p, s })))
    .sort((a, b) => a.s[0]! - b.s[0]! || a.p - b.p);
  const jobEvents = poolProgress(
    events,
    order.map(({ p, s }) => {
      const { training } = plans[p]!.effective;
      const { dir } = plans[p]!.seeds[s[0]!]!; // the seeds of a group stand at one epoch and train together
      const total = training.epochs * training.iterations_per_epoch;
      return { total, done: dir.isComplete() ? total : dir.readMetrics().length * training.iterations_per_epoch };
    }),
  );
  const jobs = order.map(({ p, s }, job): PoolJob<FinishedRun[]> => {
    const plan = plans[p]!;
    const runs = s.map((i) => plan.seeds[i]!);
    const events = jobEvents(job);
    const run = async (worker: Kernel) => {
      const toTrain = runs.filter(({ dir }) => !dir.isComplete());
      for (const { dir } of runs) if (dir.isComplete()) events.log(`${dir.dir}: already complete, reusing its result (--fresh to train again)`);
      for (const { seed, dir } of toTrain) {
        const experiment = await sourcesResolved(plan, seed);
        if (!dir.exists()) dir.writeConfig({ experiment, seed, quick: options.quick, device: worker.device, data_dir: where.dataDir });
        // --continue: only the experiment it was started with may be continued, or its epochs would mix two recipes.
        else if (!sameDefinition(dir.readConfig().experiment, experiment)) {
          throw new RunExistsError(`${dir.dir} was started from another definition of ${plan.effective.name} (its config.json differs from the experiment file now); start it over with --fresh`);
        }
      }
      const dirs = toTrain.map(({ dir }) => dir);
      const train = { allowDivergence: options.allowDivergence ?? false };
      try {
        if (dirs.length > 1) await trainRunsBatched(worker, dirs, where, events, train);
        else if (dirs.length === 1) await trainRun(worker, dirs[0]!, where, events, train);
      } catch (error) {
        // Refused before its first epoch (a kernel error, a signal): nothing to keep, and nothing to block a rerun.
        for (const dir of dirs) if (!dir.hasProgress()) rmSync(dir.dir, { recursive: true, force: true });
        throw error;
      }
      return runs.map(({ seed, dir }) => ({ seed, dir: dir.dir, result: dir.readResult() }));
    };
    return { label: runs.map(({ seed }) => `${plan.effective.name}/seed-${seed}`).join(' + '), run };
  });

  // No more workers than jobs with a run left to train: a group of seeds (--batch-seeds) is one job, and on the CPU the
  // worker it gets has the cores that idle workers would have held (its seeds then train in threads, seed_threads.py).
  const pending = order.filter(({ p, s }) => unfinished(p, s)).length;
  const asked = options.parallel ?? defaultParallel(devices);
  const perDevice = Math.max(1, Math.min(asked, Math.ceil(pending / devices.length)));
  // One run at a time on the job's own device keeps to the shared kernel (and its threads).
  const alone = devices.length === 1 && perDevice === 1 && options.threads === undefined && (!options.devices || devices[0] === options.device);
  const slots = workerSlots(devices, perDevice, cores, options.threads);
  const finished = await runOnWorkers(slots, jobs, events.log, alone ? kernel : undefined);
  const outcomes: ExperimentOutcome[] = [];
  for (const [p, { effective, seeds }] of plans.entries()) {
    const own = order.flatMap((job, i) => (job.p === p ? finished[i]! : []));
    own.sort((a, b) => seeds.findIndex((x) => x.seed === a.seed) - seeds.findIndex((x) => x.seed === b.seed));
    outcomes.push(await aggregate(effective, own, path.dirname(seeds[0]!.dir.dir)));
  }
  return outcomes;
}

/** Runs side by side on each device when --parallel is not given: one per core on the CPU (each with a core's share
 * of threads), one per GPU. */
export function defaultParallel(devices: string[]): number {
  return devices.every((d) => d === 'cpu') ? os.availableParallelism() : 1;
}

/** Without --batch-seeds or --no-batch-seeds: on the CPU the seeds of an experiment train together (in threads of one
 * kernel, bit for bit their runs with one thread each, as runs side by side have) where that is faster: more runs to
 * train than cores, so that some would wait for a core and the last run alone, and few enough jobs (a group of seeds
 * is one) that each starts at once with two or more cores (README, "Seeds together"). Not on a GPU (not measured
 * there), nor where --parallel or --threads set the workers. */
export function seedsTogetherPay(job: { runs: number; jobs: number; groups: number; devices: string[]; cores: number; options: Pick<ExperimentOptions, 'parallel' | 'threads'> }): boolean {
  const { runs, jobs, groups, devices, cores, options } = job;
  return seedsTogetherConsidered(devices, options) && groups > 0 && runs > cores && jobs * 2 <= cores;
}

/** Where `seedsTogetherPay` may choose seeds together at all: on the CPU, with the workers pladder's to set. */
function seedsTogetherConsidered(devices: string[], options: Pick<ExperimentOptions, 'parallel' | 'threads'>): boolean {
  return options.parallel === undefined && options.threads === undefined && devices.every((d) => d === 'cpu');
}

/** A plan's jobs with its seeds together, as indices into its seeds: the unfinished seeds of the experiment that stand
 * at one epoch as one job, where the kernel says they can train together on these devices (runner.ts `whySeedsApart`;
 * `log` says why not), every other seed a job of its own. (--fresh has removed the run directories it starts over
 * before the jobs are made.) */
async function seedGroups(kernel: Kernel, plan: Plan, onCpu: boolean, log?: (line: string) => void): Promise<number[][]> {
  const singles = plan.seeds.map((_, i) => [i]);
  const unfinished = plan.seeds.flatMap(({ dir }, i) => (!dir.isComplete() ? [i] : []));
  const epochs = new Set(unfinished.map((i) => plan.seeds[i]!.dir.readMetrics().length));
  if (unfinished.length < 2 || epochs.size !== 1) return singles;
  const reason = await whySeedsApart(kernel, plan.effective, onCpu);
  if (reason !== null) {
    log?.(`${plan.effective.name}: one run per seed, since ${reason}`);
    return singles;
  }
  return [unfinished, ...singles.filter(([i]) => !unfinished.includes(i!))];
}

/** The progress lane of a pool's whole job (each run reports in its own lane, by its run id). */
export const POOL_LANE = 'all runs';

/** For a pool of several runs, one more progress line: the iterations done over all of them, so that the time left
 * is the whole job's, not the current run's. Returns the events that job `i` reports through. */
export function poolProgress(events: RunEvents, runs: { done: number; total: number }[]): (job: number) => RunEvents {
  if (runs.length < 2) return () => events;
  const done = runs.map((run) => run.done);
  const total = runs.reduce((sum, run) => sum + run.total, 0);
  const report = () => {
    const ended = done.filter((d, i) => d >= runs[i]!.total).length;
    events.progress(done.reduce((a, b) => a + b, 0), total, `${ended} of ${runs.length} runs done`, POOL_LANE);
  };
  report();
  return (job) => ({
    log: events.log,
    progress: (d, t, label, runId) => {
      events.progress(d, t, label, runId);
      done[job] = Math.min(d, runs[job]!.total);
      report();
    },
  });
}

/** The summary over seeds, written next to the seed directories. Diverged runs are listed in it and left out of its
 * numbers. */
export async function aggregate(experiment: Experiment, all: FinishedRun[], dir: string): Promise<ExperimentOutcome> {
  const runs = all.filter((r) => !isDiverged(r.result));
  const diverged = all.filter((r) => isDiverged(r.result));
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
    diverged: diverged.map((r) => ({ seed: r.seed, dir: r.dir, ...r.result })),
  });
  return { experiment, runs, diverged, finalTestError, bestTestError, summaryFile };
}

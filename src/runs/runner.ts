/** The epoch loop: TypeScript drives, the kernel trains one whole epoch per call. */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { CallResult, EpochMetrics, Kernel, ProgressEvent } from '../bridge/index.js';
import { isNonFinite } from '../bridge/wire.js';
import { loadView, type DataLocation } from '../data/index.js';
import { buildGraph, kernelModel as progressiveKernelModel } from '../progressive/graph.js';
import { resumeRecord, runEnvironment } from '../provenance/environment.js';
import type { Experiment } from '../spec/experiment.js';
import type { KernelModel } from '../spec/kernel.js';
import type { DatasetName, ViewName, ViewOptions } from '../spec/names.js';
import { RunDirectory, RunDirectoryError, type Divergence, type EpochRecord, type RunConfig, type RunResult } from './run-dir.js';
import { storeSource } from './source-cache.js';

export interface RunEvents {
  /** Progress within the run `runId`: iterations done of the run's total (runs may progress side by side). */
  progress(done: number, total: number, label: string, runId: string): void;
  log(line: string): void;
}

/** The experiment as `--quick` runs it: few short epochs and a test subset (and batch-norm statistics over no more
 * images than that subset), the whole pipeline in about a minute. */
export function applyQuick(experiment: Experiment): Experiment {
  const { quick, training } = experiment;
  const population = training.population_statistics === null ? null : Math.min(training.population_statistics, quick.test_subset);
  return {
    ...experiment,
    training: { ...training, epochs: quick.epochs, iterations_per_epoch: quick.iterations_per_epoch, population_statistics: population },
  };
}

/** What a command line may change of an experiment: its length, its (target) label budget, the quick mode. */
export interface Variant {
  quick: boolean;
  /** Train this many epochs (the schedule, including its decay, follows the new length). */
  epochs?: number | undefined;
  /** Labeled training examples of the experiment's own dataset (null: all), balanced over the classes. */
  labels?: number | null | undefined;
}

/** The experiment as the variant runs it (its sources are not touched: they keep their own length and labels). */
export function applyVariant(experiment: Experiment, variant: Variant): Experiment {
  const training = variant.epochs ? { ...experiment.training, epochs: variant.epochs } : experiment.training;
  const data = variant.labels !== undefined ? { ...experiment.data, labels: variant.labels } : experiment.data;
  const varied = { ...experiment, training, data };
  return variant.quick ? applyQuick(varied) : varied;
}

/** The name suffix of a variant, e.g. -epochs10-labels1000-quick: variants never share a run directory or figure. */
export function variantSuffix(variant: Variant): string {
  const labels = variant.labels === undefined ? '' : `-labels${variant.labels ?? 'all'}`;
  return `${variant.epochs ? `-epochs${variant.epochs}` : ''}${labels}${variant.quick ? '-quick' : ''}`;
}

/** variantSuffix read back: the variant that `name` (a run folder or figure name) is of `base`, or undefined when it
 * is another name (e.g. transfer-mnistm-ladder-sup-no-bn is no variant of transfer-mnistm-ladder-sup). */
export function variantOf(name: string, base: string): Variant | undefined {
  const match = name.startsWith(base) ? /^(?:-epochs(\d+))?(?:-labels(\d+|all))?(-quick)?$/.exec(name.slice(base.length)) : null;
  if (!match) return undefined;
  const [, epochs, labels, quick] = match;
  return {
    quick: quick !== undefined,
    ...(epochs ? { epochs: Number(epochs) } : {}),
    ...(labels ? { labels: labels === 'all' ? null : Number(labels) } : {}),
  };
}

/** runs/<name><variant suffix>/seed-S. */
export function runDirFor(runsDir: string, experiment: Experiment, seed: number, variant: Variant): string {
  return path.join(runsDir, `${experiment.name}${variantSuffix(variant)}`, `seed-${seed}`);
}

type DescribedView = CallResult<'model_describe'>['views'][number];

/** Tensor names of the dataset splits loaded into this kernel's current process (a restarted process has none). */
const loaded = new WeakMap<Kernel, { generation: number; names: Set<string> }>();

/** The kernel's tensors of a loaded split: `<name>.x` and `<name>.y`; a view computed by a frozen network carries its
 * options in the name (e.g. data.mnist-m.alexnet-features.pretrained-false.trunk_seed-0.train), so that two trunks'
 * features never share one. */
export const dataTensorName = (dataset: DatasetName, view: ViewName, split: 'train' | 'test', options: ViewOptions | null = null) =>
  ['data', dataset, view, ...Object.entries(options ?? {}).map(([key, value]) => `${key}-${String(value)}`), split].join('.');

export async function ensureData(
  kernel: Kernel,
  dataset: DatasetName,
  split: 'train' | 'test',
  view: ViewName,
  where: DataLocation,
  options: ViewOptions | null = null,
  onProgress?: (event: ProgressEvent) => void,
): Promise<string> {
  const name = dataTensorName(dataset, view, split, options);
  await kernel.info(); // the process that will hold the data, started now, so that its generation is current
  let held = loaded.get(kernel);
  if (held?.generation !== kernel.generation) loaded.set(kernel, (held = { generation: kernel.generation, names: new Set() }));
  const { names } = held;
  if (!names.has(name)) {
    await loadView(kernel, { name: dataset, split, view, as: name, options }, where, onProgress);
    names.add(name);
  }
  return name;
}

/** A model's input of one split, loaded: x is one tensor's name when its columns all read one view (every
 * fully-connected network), else {view: name} (a ladder column on flat784 beside an AlexNet column on its features);
 * y the split's labels. `views`: model_describe's. A view computed by a frozen network (minutes, the first time)
 * logs its progress at every tenth. */
export async function modelInputs(
  kernel: Kernel,
  views: DescribedView[],
  dataset: DatasetName,
  split: 'train' | 'test',
  where: DataLocation,
  log: (line: string) => void,
): Promise<{ x: string | Partial<Record<ViewName, string>>; y: string }> {
  const loadedViews: [ViewName, string][] = [];
  for (const { view, options } of views) {
    const shown = new Map<string, number>(); // per stage (an md5, then the features): the last tenth logged
    const onProgress = (event: ProgressEvent) => {
      const tenth = Math.floor((10 * event.done) / Math.max(1, event.total));
      if (tenth > (shown.get(event.stage) ?? -1)) log(`${dataset} ${split}: ${event.stage}: ${event.done} of ${event.total}`);
      shown.set(event.stage, Math.max(shown.get(event.stage) ?? -1, tenth));
    };
    loadedViews.push([view, await ensureData(kernel, dataset, split, view, where, options, options ? onProgress : undefined)]);
  }
  const [first] = loadedViews;
  if (!first) throw new Error('model_describe named no view for the model to read');
  const y = `${first[1]}.y`; // every view of a split holds its images in the same order, so the same labels
  return loadedViews.length === 1 ? { x: `${first[1]}.x`, y } : { x: Object.fromEntries(loadedViews.map(([view, name]) => [view, `${name}.x`])), y };
}

export interface TrainOptions {
  /** Train on after the loss goes NaN or infinite (recorded in the result) instead of ending the run as diverged. */
  allowDivergence?: boolean;
}

/** An epoch's total loss, or null when it is NaN or infinite (the kernel sends those as null or a marker). */
export function finiteLoss(record: Pick<EpochRecord, 'loss_total'>): number | null {
  const loss = record.loss_total;
  return loss === null || isNonFinite(loss) ? null : loss;
}

/** The runs this process is training now (for what an interrupted command says it leaves behind). */
export const activeRuns = new Set<RunDirectory>();

/** Trains (or continues) the run in `dir`, whose config.json must exist; returns its result. */
export async function trainRun(kernel: Kernel, dir: RunDirectory, where: DataLocation, events: RunEvents, options: TrainOptions = {}): Promise<RunResult> {
  const { experiment, seed } = dir.readConfig();
  const runId = `${experiment.name}/seed-${seed}`;
  activeRuns.add(dir);
  try {
    return await trainRunIn(kernel, dir, where, events, options, runId);
  } finally {
    activeRuns.delete(dir);
  }
}

async function trainRunIn(kernel: Kernel, dir: RunDirectory, where: DataLocation, events: RunEvents, options: TrainOptions, runId: string): Promise<RunResult> {
  const config = dir.readConfig();
  const { experiment, seed } = config;
  const { training } = experiment;
  if (!dir.readMetrics().length) dir.writeEnvironment(await runEnvironment(await kernel.info(), config.device));

  const model = kernelModel(experiment);
  const log = (line: string) => events.log(`${runId}: ${line}`);
  const { train, test } = await runInputs(kernel, model, experiment, where, log);
  const split = await poolSplit(kernel, train.y, experiment, seed, runId);
  const created = await kernel.call('run_create', {
    run_id: runId,
    model,
    training,
    seed,
    tensors: { train_x: train.x, train_y: train.y, train: split.train, labeled: split.labeled, validation: split.validation, test_x: test.x, test_y: test.y },
    test_limit: config.quick ? experiment.quick.test_subset : null,
  });
  // e.g. "AlexNet with RANDOM weights (pretrained: false, ...)": said at the start, and kept in result.json
  for (const note of created.notes) events.log(`${runId}: ${note}`);

  try {
    const checkpoint = dir.file('checkpoint.pt');
    const restored = existsSync(checkpoint) ? await kernel.call('run_load_checkpoint', { run_id: runId, path: checkpoint }) : null;
    const run = await RunProgress.start(dir, runId, restored && keptRecords(dir, restored.epoch, restored.last_metrics), events);
    const total = training.epochs * training.iterations_per_epoch;
    for (let epoch = run.records.length + 1; epoch <= training.epochs; epoch++) {
      const before = (epoch - 1) * training.iterations_per_epoch;
      const label = run.label(epoch);
      events.progress(before, total, label, runId);
      const started = performance.now();
      const metrics = await kernel.call('run_epoch', { run_id: runId, checkpoint_path: checkpoint }, { onProgress: (event) => events.progress(before + event.done, total, label, runId) });
      if (run.record(metrics, (performance.now() - started) / 1000, options)) break;
    }
    events.progress(total, total, `${runId} ${run.stopReason === 'diverged' ? 'diverged' : 'done'}`, runId);
    return await run.finish(config, created.notes, () => kernel.call('run_export', { run_id: runId, model_path: dir.file('model.pt'), column_path: dir.file('column.pt') }));
  } finally {
    await kernel.call('run_close', { run_id: runId }).catch(() => undefined);
  }
}

/** Why the seeds of the experiment cannot train together (`--batch-seeds`, `trainRunsBatched`) on these devices (`onCpu`:
 * every device of the job is the CPU), or null where they can. The rule is the kernel's (py_kernels/run_groups.py
 * `why_seeds_apart`, the one run_group_create applies), asked of the model's shape: its source columns as fresh
 * weights, since nothing is read and the sources may not be trained yet. */
export async function whySeedsApart(kernel: Kernel, experiment: Experiment, onCpu: boolean): Promise<string | null> {
  const { model, training } = experiment;
  const shape = model.architecture === 'progressive' ? progressiveKernelModel(buildGraph(model), () => undefined) : model;
  const { reason } = await kernel.call('run_group_support', { model: shape, training, device: onCpu ? 'cpu' : 'cuda' });
  return reason;
}

/** Trains (or continues) the runs of several seeds of one experiment together in one kernel (`--batch-seeds`): each
 * keeps its own directory, metrics, checkpoint, stopping and result, as `trainRun` gives it. The runs must stand at
 * one epoch (the seeds share a clock); `seedGroups` in experiment.ts groups only such runs. */
export async function trainRunsBatched(kernel: Kernel, dirs: RunDirectory[], where: DataLocation, events: RunEvents, options: TrainOptions = {}): Promise<RunResult[]> {
  const configs = dirs.map((dir) => dir.readConfig());
  const { experiment, quick } = configs[0]!;
  const seeds = configs.map((config) => config.seed);
  const groupId = `${experiment.name}/seeds-${seeds.join('-')}`;
  const { training } = experiment;
  const info = await kernel.info();
  for (const [k, dir] of dirs.entries()) if (!dir.readMetrics().length) dir.writeEnvironment(await runEnvironment(info, configs[k]!.device));
  for (const dir of dirs) activeRuns.add(dir);
  try {
    const models = configs.map((config) => kernelModel(config.experiment)); // each seed on its own sources
    const { train, test } = await runInputs(kernel, models[0]!, experiment, where, (line) => events.log(`${groupId}: ${line}`));
    if (typeof train.x !== 'string' || typeof test.x !== 'string') throw new Error(`${experiment.name}: batched seeds read one view of the data`);
    const splits = [];
    for (const seed of seeds) splits.push(await poolSplit(kernel, train.y, experiment, seed, `${experiment.name}/seed-${seed}`));
    const group = await kernel.call('run_group_create', {
      group_id: groupId,
      models,
      training,
      seeds,
      tensors: { train_x: train.x, train_y: train.y, test_x: test.x, test_y: test.y },
      splits: splits.map(({ train, labeled, validation }) => ({ train, labeled, validation })),
      test_limit: quick ? experiment.quick.test_subset : null,
    });
    const how = group.trained_as.kind === 'seed_threads' ? `each by its own trainer, ${group.trained_as.threads} at a time in threads of one kernel` : 'as one batched network';
    events.log(`${groupId}: seeds ${seeds.join(', ')} trained together, ${how}`);
    const checkpoints = dirs.map((dir) => dir.file('checkpoint.pt'));
    const resuming = checkpoints.filter((file) => existsSync(file)).length;
    if (resuming && resuming < dirs.length) throw new Error(`${groupId}: only ${resuming} of the ${dirs.length} seeds have a checkpoint; batched seeds share one clock: continue them without --batch-seeds`);
    const restored = resuming ? await kernel.call('run_group_load_checkpoints', { group_id: groupId, paths: checkpoints }) : null;
    const runs: RunProgress[] = [];
    for (const [k, dir] of dirs.entries()) {
      runs.push(await RunProgress.start(dir, `${experiment.name}/seed-${seeds[k]}`, restored && keptRecords(dir, restored.epoch, restored.last_metrics[k] ?? null), events));
    }
    const results: (RunResult | undefined)[] = dirs.map(() => undefined);
    const finish = async (k: number) => {
      const dir = dirs[k]!;
      results[k] = await runs[k]!.finish(configs[k]!, [], () => kernel.call('run_group_export', { group_id: groupId, index: k, model_path: dir.file('model.pt'), column_path: dir.file('column.pt') }));
    };
    const total = training.epochs * training.iterations_per_epoch;
    for (let epoch = (restored?.epoch ?? 0) + 1; epoch <= training.epochs && results.includes(undefined); epoch++) {
      const before = (epoch - 1) * training.iterations_per_epoch;
      const label = `${groupId} epoch ${epoch}/${training.epochs}`;
      events.progress(before, total, label, groupId);
      const started = performance.now();
      const paths = checkpoints.map((file, k) => (results[k] ? null : file));
      const metrics = await kernel.call('run_group_epoch', { group_id: groupId, checkpoint_paths: paths }, { onProgress: (event) => events.progress(before + event.done, total, label, groupId) });
      const wall = (performance.now() - started) / 1000;
      for (const [k, run] of runs.entries()) if (!results[k] && run.record(metrics[k]!, wall, options)) await finish(k);
    }
    for (const k of runs.keys()) if (!results[k]) await finish(k);
    events.progress(total, total, `${groupId} done`, groupId);
    return results as RunResult[];
  } finally {
    for (const dir of dirs) activeRuns.delete(dir);
    await kernel.call('run_group_close', { group_id: groupId }).catch(() => undefined);
  }
}

/** The model's training and test inputs: the views its columns read (flat784 for fully-connected columns, AlexNet's
 * features for an AlexNet column), asked, not assumed; features not cached yet are computed now (progress in the log). */
async function runInputs(kernel: Kernel, model: KernelModel, experiment: Experiment, where: DataLocation, log: (line: string) => void) {
  const { views } = await kernel.call('model_describe', { model });
  const train = await modelInputs(kernel, views, experiment.data.dataset, 'train', where, log);
  const test = await modelInputs(kernel, views, experiment.data.dataset, 'test', where, log);
  return { train, test };
}

/** A run's share of the training split (seed `seed`'s): its pool, the validation images held out of it, its labeled set. */
function poolSplit(kernel: Kernel, labels: string, experiment: Experiment, seed: number, runId: string) {
  return kernel.call('data_pool_split', {
    labels,
    pool: experiment.data.pool,
    validation: experiment.data.validation,
    labeled: experiment.data.labels,
    seed,
    store_as: `${runId}.split`,
  });
}

/** One run's epochs as they come back from the kernel (on its own or batched with other seeds): each recorded in
 * metrics.jsonl and logged, divergence and the validation target checked, then its export and result. */
class RunProgress {
  stopReason: RunResult['stop_reason'] = 'epochs';
  private lastFiniteLoss: number | null;
  private diverged: Divergence | undefined;
  private readonly training: Experiment['training'];

  private constructor(
    readonly dir: RunDirectory,
    readonly runId: string,
    readonly records: EpochRecord[],
    private readonly events: RunEvents,
  ) {
    this.training = dir.readConfig().experiment.training;
    this.lastFiniteLoss = records.map(finiteLoss).filter((loss) => loss !== null).at(-1) ?? null;
    this.diverged = divergenceIn(records);
  }

  /** A run starting, or resuming with the records of its completed epochs (noted in environment.json). */
  static async start(dir: RunDirectory, runId: string, resumedRecords: EpochRecord[] | null, events: RunEvents): Promise<RunProgress> {
    if (resumedRecords?.length) {
      events.log(`${runId}: resuming after epoch ${resumedRecords.length}`);
      await noteResume(dir, resumedRecords.length);
    }
    return new RunProgress(dir, runId, resumedRecords ?? [], events);
  }

  label(epoch: number): string {
    const last = this.records.at(-1);
    // The error of the last epoch finished, said as such: while epoch N trains (its bar up to 100 %), N's is not known.
    return `${this.runId} epoch ${epoch}/${this.training.epochs}${last ? `, test error ${(100 * last.test_error).toFixed(2)}% after epoch ${last.epoch}` : ''}`;
  }

  /** Records an epoch's metrics; true when the run ends with it (diverged, or at its validation target). */
  record(metrics: EpochMetrics, wall: number, options: TrainOptions): boolean {
    const { runId, events, training } = this;
    const epoch = metrics.epoch;
    this.records.push({ ...metrics, wall_seconds: wall, bridge_seconds: Math.max(0, wall - metrics.kernel_seconds) });
    this.dir.writeMetrics(this.records);
    events.log(
      `${runId} epoch ${epoch}/${training.epochs}: test error ${(100 * metrics.test_error).toFixed(2)}%` +
        `${metrics.validation_error === null ? '' : `, validation error ${(100 * metrics.validation_error).toFixed(2)}%`}, ` +
        `${metrics.seconds.toFixed(1)} s (${Math.round(metrics.examples_per_s)} examples/s)`,
    );
    const loss = finiteLoss(metrics);
    if (loss === null) {
      this.diverged ??= { epoch, last_finite_loss: this.lastFiniteLoss };
      if (!options.allowDivergence) {
        this.stopReason = 'diverged';
        events.log(
          `${runId}: DIVERGED at epoch ${epoch}: the loss is not finite (last finite loss: ${this.lastFiniteLoss ?? 'none'}); the run ends here and is left out ` +
            `of every summary. Lower training.learning_rate, or train on regardless with --allow-divergence.`,
        );
        return true;
      }
      events.log(`${runId}: the loss is not finite at epoch ${epoch}; training on (--allow-divergence)`);
    } else {
      this.lastFiniteLoss = loss;
    }
    const target = training.stop_at_validation_accuracy;
    if (target !== null && metrics.validation_accuracy !== null && metrics.validation_accuracy >= target) {
      this.stopReason = 'validation_accuracy';
      events.log(`${runId}: reached validation accuracy ${metrics.validation_accuracy} >= ${target}, stopping`);
      return true;
    }
    return false;
  }

  /** The run's end: its network exported (`exportFiles` writes model.pt and column.pt) unless it diverged, its
   * column offered as a source, result.json written, the checkpoint removed. */
  async finish(config: RunConfig, notes: string[], exportFiles: () => Promise<unknown>): Promise<RunResult> {
    const { dir } = this;
    // A diverged network is kept for inspection (model.pt) but never offered as a source column.
    if (this.stopReason !== 'diverged') {
      await exportFiles();
      if (!this.diverged) storeSource(config, dir.file('column.pt'), dir.dir);
    }
    const result = { ...summarizeRun(this.records, this.stopReason), ...(this.diverged ? { diverged: this.diverged } : {}), ...(notes.length ? { notes } : {}) };
    dir.writeResult(result);
    rmSync(dir.file('checkpoint.pt'), { force: true }); // model.pt holds the final state; keep the run small
    return result;
  }
}

/** The model as the kernel builds it: a progressive network as its one spec, built from the validated graph. */
export function kernelModel(experiment: Experiment): KernelModel {
  const { model } = experiment;
  if (model.architecture !== 'progressive') return model;
  return progressiveKernelModel(buildGraph(model), (column) => {
    if (column.weights.from === 'source') throw new Error(`column '${column.name}' still names its source experiment; resolve sources before the run`);
    return column.weights.from === 'file' ? column.weights.path : undefined;
  });
}

/** The records of a run continued from its checkpoint at `epoch`: exactly those of its completed epochs. */
function keptRecords(dir: RunDirectory, epoch: number, lastMetrics: Omit<EpochMetrics, 'kernel_seconds'> | null): EpochRecord[] {
  const kept = dir.readMetrics().filter((record) => record.epoch <= epoch);
  // Killed between the checkpoint and the metrics write: the checkpoint carries that epoch's record.
  if (kept.length < epoch && lastMetrics && lastMetrics.epoch === epoch) {
    kept.push({ ...lastMetrics, kernel_seconds: NaN, wall_seconds: NaN, bridge_seconds: NaN });
  }
  if (kept.length !== epoch) {
    throw new RunDirectoryError(
      `checkpoint ${dir.file('checkpoint.pt')} is at epoch ${epoch}, but ${dir.file('metrics.jsonl')} holds ${kept.length} of its epochs ` +
        `(the two were not written together); delete the checkpoint to train the run again from its first epoch (or start the run over: pladder run FILE --fresh)`,
    );
  }
  dir.writeMetrics(kept);
  return kept;
}

/** The first epoch of `records` with a non-finite loss, if any (a run continued with --allow-divergence). */
function divergenceIn(records: EpochRecord[]): Divergence | undefined {
  const epoch = records.findIndex((record) => finiteLoss(record) === null);
  if (epoch < 0) return undefined;
  const before = records.slice(0, epoch).map(finiteLoss).filter((loss) => loss !== null);
  return { epoch: records[epoch]!.epoch, last_finite_loss: before.at(-1) ?? null };
}

function summarizeRun(records: EpochRecord[], stopReason: RunResult['stop_reason']): RunResult {
  const final = records.at(-1);
  if (!final) throw new Error('a run with no completed epoch has no result');
  const best = records.reduce((a, b) => (b.test_error < a.test_error ? b : a));
  const timed = records.filter((r) => Number.isFinite(r.wall_seconds));
  const sum = (pick: (r: EpochRecord) => number) => timed.reduce((a, r) => a + pick(r), 0);
  return {
    epochs: final.epoch,
    stop_reason: stopReason,
    final_test_error: final.test_error,
    best_test_error: best.test_error,
    best_epoch: best.epoch,
    mean_epoch_seconds: sum((r) => r.seconds) / Math.max(1, timed.length),
    examples_per_second: sum((r) => r.examples_per_s) / Math.max(1, timed.length),
    bridge_share: sum((r) => r.bridge_seconds) / Math.max(1e-9, sum((r) => r.wall_seconds)),
    completed_at: new Date().toISOString(),
  };
}

/** Appends this continuation to environment.json, so a run's record says where it was stopped and resumed. */
async function noteResume(dir: RunDirectory, afterEpoch: number): Promise<void> {
  if (!existsSync(dir.file('environment.json'))) return;
  const environment = dir.readEnvironment();
  const resumes = Array.isArray(environment.resumes) ? environment.resumes : [];
  dir.writeEnvironment({ ...environment, resumes: [...resumes, await resumeRecord(afterEpoch)] });
}

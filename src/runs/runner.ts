/** The epoch loop: TypeScript drives, the kernel trains one whole epoch per call. */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { CallResult, Kernel, ProgressEvent } from '../bridge/index.js';
import { isNonFinite } from '../bridge/wire.js';
import { loadView, type DataLocation } from '../data/index.js';
import { buildGraph, kernelModel as progressiveKernelModel } from '../progressive/graph.js';
import { resumeRecord, runEnvironment } from '../provenance/environment.js';
import type { Experiment } from '../spec/experiment.js';
import type { KernelModel } from '../spec/kernel.js';
import type { DatasetName, ViewName, ViewOptions } from '../spec/names.js';
import { RunDirectory, type Divergence, type EpochRecord, type RunResult } from './run-dir.js';
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
  const info = await kernel.info();
  if (!dir.readMetrics().length) dir.writeEnvironment(await runEnvironment(info, config.device));

  const model = kernelModel(experiment);
  // The model says which views of the data its columns read (flat784 for fully-connected columns, AlexNet's features
  // for an AlexNet column): asked, not assumed. Features not cached yet are computed now (progress in the log).
  const { views } = await kernel.call('model_describe', { model });
  const log = (line: string) => events.log(`${runId}: ${line}`);
  const train = await modelInputs(kernel, views, experiment.data.dataset, 'train', where, log);
  const test = await modelInputs(kernel, views, experiment.data.dataset, 'test', where, log);
  // The run's share of the training split: its pool, the validation images held out of it, the labeled set.
  const split = await kernel.call('data_pool_split', {
    labels: train.y,
    pool: experiment.data.pool,
    validation: experiment.data.validation,
    labeled: experiment.data.labels,
    seed,
    store_as: `${runId}.split`,
  });
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

  let records = dir.readMetrics();
  try {
    records = await resumeFromCheckpoint(kernel, dir, runId, records);
    if (records.length) {
      events.log(`${runId}: resuming after epoch ${records.length}`);
      await noteResume(dir, records.length);
    }
    const total = training.epochs * training.iterations_per_epoch;
    let stopReason: RunResult['stop_reason'] = 'epochs';
    let lastFiniteLoss = records.map(finiteLoss).filter((loss) => loss !== null).at(-1) ?? null;
    let diverged: Divergence | undefined = divergenceIn(records);
    for (let epoch = records.length + 1; epoch <= training.epochs; epoch++) {
      const before = (epoch - 1) * training.iterations_per_epoch;
      const last = records.at(-1);
      const label = `${runId} epoch ${epoch}/${training.epochs}${last ? `, test error ${(100 * last.test_error).toFixed(2)}%` : ''}`;
      events.progress(before, total, label, runId);
      const started = performance.now();
      const metrics = await kernel.call(
        'run_epoch',
        { run_id: runId, checkpoint_path: dir.file('checkpoint.pt') },
        { onProgress: (event) => events.progress(before + event.done, total, label, runId) },
      );
      const wall = (performance.now() - started) / 1000;
      records.push({ ...metrics, wall_seconds: wall, bridge_seconds: Math.max(0, wall - metrics.kernel_seconds) });
      dir.writeMetrics(records);
      events.log(
        `${runId} epoch ${epoch}/${training.epochs}: test error ${(100 * metrics.test_error).toFixed(2)}%` +
          `${metrics.validation_error === null ? '' : `, validation error ${(100 * metrics.validation_error).toFixed(2)}%`}, ` +
          `${metrics.seconds.toFixed(1)} s (${Math.round(metrics.examples_per_s)} examples/s)`,
      );
      const loss = finiteLoss(metrics);
      if (loss === null) {
        diverged ??= { epoch, last_finite_loss: lastFiniteLoss };
        if (!options.allowDivergence) {
          stopReason = 'diverged';
          events.log(
            `${runId}: DIVERGED at epoch ${epoch}: the loss is not finite (last finite loss: ${lastFiniteLoss ?? 'none'}); the run ends here and is left out ` +
              `of every summary. Lower training.learning_rate, or train on regardless with --allow-divergence.`,
          );
          break;
        }
        events.log(`${runId}: the loss is not finite at epoch ${epoch}; training on (--allow-divergence)`);
      } else {
        lastFiniteLoss = loss;
      }
      const target = training.stop_at_validation_accuracy;
      if (target !== null && metrics.validation_accuracy !== null && metrics.validation_accuracy >= target) {
        stopReason = 'validation_accuracy';
        events.log(`${runId}: reached validation accuracy ${metrics.validation_accuracy} >= ${target}, stopping`);
        break;
      }
    }
    events.progress(total, total, `${runId} ${stopReason === 'diverged' ? 'diverged' : 'done'}`, runId);
    // A diverged network is kept for inspection (model.pt) but never offered as a source column.
    if (stopReason !== 'diverged') {
      await kernel.call('run_export', { run_id: runId, model_path: dir.file('model.pt'), column_path: dir.file('column.pt') });
      if (!diverged) storeSource(config, dir.file('column.pt'), dir.dir);
    }
    const result = { ...summarizeRun(records, stopReason), ...(diverged ? { diverged } : {}), ...(created.notes.length ? { notes: created.notes } : {}) };
    dir.writeResult(result);
    rmSync(dir.file('checkpoint.pt'), { force: true }); // model.pt holds the final state; keep the run small
    return result;
  } finally {
    await kernel.call('run_close', { run_id: runId }).catch(() => undefined);
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

/** Continues from checkpoint.pt when it exists: the records kept are exactly those of its completed epochs. */
async function resumeFromCheckpoint(kernel: Kernel, dir: RunDirectory, runId: string, records: EpochRecord[]): Promise<EpochRecord[]> {
  const checkpoint = dir.file('checkpoint.pt');
  if (!existsSync(checkpoint)) return [];
  const restored = await kernel.call('run_load_checkpoint', { run_id: runId, path: checkpoint });
  const kept = records.filter((record) => record.epoch <= restored.epoch);
  // Killed between the checkpoint and the metrics write: the checkpoint carries that epoch's record.
  if (kept.length < restored.epoch && restored.last_metrics && restored.last_metrics.epoch === restored.epoch) {
    kept.push({ ...restored.last_metrics, kernel_seconds: NaN, wall_seconds: NaN, bridge_seconds: NaN });
  }
  if (kept.length !== restored.epoch) throw new Error(`${dir.dir}: checkpoint is at epoch ${restored.epoch} but metrics.jsonl holds ${kept.length} of its epochs`);
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

/** What a job needs, checked before it trains anything or makes any directory: the device starts, every dataset of
 * its experiments and of the sources it will have to train is present and readable, and every label budget fits. */
import type { Kernel } from '../bridge/index.js';
import { describeDataset, type DataLocation, type DatasetName } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import type { Experiment } from '../spec/experiment.js';
import { applyQuick } from './runner.js';
import { cachedSource } from './source-cache.js';
import { sourceSeed } from './sources.js';

/** An input of the job that is missing or cannot serve (the user's to fix: exit code 2). */
export class JobInputError extends Error {
  override readonly name = 'JobInputError';
}

/** Two experiments of one job that would train into the same run directory (one file named twice, or two files with
 * the same `name`) are refused before anything trains: both would write it at once, and the second's "started from
 * another definition" advice (--fresh) would delete the first's run. */
export function refuseSharedRunDirs(experiments: { name: string; dirs: string[] }[]): void {
  const seen = new Set<string>();
  for (const { name, dirs } of experiments) {
    const shared = dirs.find((dir) => seen.has(dir));
    if (shared) {
      throw new JobInputError(`nothing was trained: the job names experiment '${name}' twice, so two runs would share ${shared}; name each experiment file once, and give different experiments different names`);
    }
    for (const dir of dirs) seen.add(dir);
  }
}

/** `--devices` naming a CUDA device this machine's kernel does not see is refused before anything trains (the runs
 * on the devices it has would otherwise train, and the job fail part way when a run reached the missing one). */
export async function refuseUnseenDevices(kernel: Kernel, devices: string[]): Promise<void> {
  const cuda = devices.filter((d) => d.startsWith('cuda'));
  if (!cuda.length) return;
  const count = (await kernel.info()).cuda_device_count;
  const unseen = cuda.filter((d) => (d === 'cuda' ? 0 : Number(d.slice('cuda:'.length))) >= count);
  if (!unseen.length) return;
  const seen = count ? `the ${count} CUDA device(s) this machine's kernel sees are cuda:0${count > 1 ? `..cuda:${count - 1}` : ''}` : "this machine's kernel sees no CUDA device";
  throw new JobInputError(`nothing was trained: --devices ${devices.join(',')} names ${unseen.join(', ')}, but ${seen}; name devices it has (e.g. --devices cpu)`);
}

interface Need {
  dataset: DatasetName;
  labels: number | null;
  /** data.pool: the training images it draws from, [start, stop); null: every one. */
  pool: { start: number; stop: number } | null;
  /** Who needs it, for the message: the experiment, or "the source X of Y". */
  by: string;
}

/** `jobs`: each experiment with the seeds of its runs still to train. */
export async function checkInputs(kernel: Kernel, jobs: { experiment: Experiment; seeds: number[] }[], where: DataLocation, options: { quick: boolean; device: string }): Promise<void> {
  if (!jobs.length) return;
  await kernel.info(); // starts the kernel on the device asked for: a refused --device ends the job here
  const needs = jobs.flatMap(({ experiment, seeds }) => needsOf(experiment, seeds, experiment.name, where, options));
  const problems: string[] = [];
  const reports = new Map<DatasetName, Awaited<ReturnType<typeof describeDataset>>>();
  for (const need of needs) {
    const report = reports.get(need.dataset) ?? (await describeDataset(kernel, need.dataset, where));
    reports.set(need.dataset, report);
    if (!report.found || report.errors.length) continue; // reported once below
    const trainImages = (report.train_label_counts ?? []).reduce((a, b) => a + b, 0);
    if (need.pool && need.pool.stop > trainImages) {
      problems.push(`${need.by}: data.pool [${need.pool.start}, ${need.pool.stop}) goes past the ${trainImages} training images of ${need.dataset}; give a range within [0, ${trainImages})`);
      continue;
    }
    const smallestClass = Math.min(...(report.train_label_counts ?? [0]));
    const perClass = need.labels === null ? 0 : need.labels / (report.train_label_counts?.length ?? 10);
    if (perClass > smallestClass) {
      problems.push(`${need.by}: ${need.labels} labels of ${need.dataset} means ${perClass} per class, but its smallest class has ${smallestClass} training examples; use at most ${smallestClass * (report.train_label_counts?.length ?? 10)} (or 'all')`);
    }
  }
  for (const [name, report] of reports) {
    if (report.found && !report.errors.length) continue;
    const users = [...new Set(needs.filter((need) => need.dataset === name).map((need) => need.by))].join(', ');
    problems.unshift(`dataset ${name} (needed by ${users}) cannot be used: ${report.errors.join(' ') || `not found in ${report.location}`}`);
  }
  if (problems.length) throw new JobInputError(`nothing was trained, because:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

/** The datasets an experiment's runs (of `seeds`) train on, and those of their sources not trained yet (recursively). */
function needsOf(experiment: Experiment, seeds: number[], by: string, where: DataLocation, options: { quick: boolean; device: string }): Need[] {
  const own: Need = { dataset: experiment.data.dataset, labels: experiment.data.labels, pool: experiment.data.pool, by };
  const { model } = experiment;
  if (model.architecture !== 'progressive') return [own];
  return [
    own,
    ...model.columns.flatMap((column) => {
      const { weights } = column;
      if (weights.from !== 'source') return [];
      const source = loadExperiment(weights.experiment);
      const effective = options.quick ? applyQuick(source) : source;
      const untrained = [...new Set(seeds.map((seed) => sourceSeed(weights, seed)))].filter(
        (seed) => !cachedSource({ experiment: effective, seed, quick: options.quick, device: options.device, data_dir: where.dataDir }, { repair: false }),
      );
      return untrained.length ? needsOf(effective, untrained, `the source ${source.name} of ${by}`, where, options) : [];
    }),
  ];
}

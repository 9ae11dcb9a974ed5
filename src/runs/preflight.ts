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

interface Need {
  dataset: DatasetName;
  labels: number | null;
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
  const own: Need = { dataset: experiment.data.dataset, labels: experiment.data.labels, by };
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
        (seed) => !cachedSource({ experiment: effective, seed, quick: options.quick, device: options.device, data_dir: where.dataDir }, undefined, undefined, { repair: false }),
      );
      return untrained.length ? needsOf(effective, untrained, `the source ${source.name} of ${by}`, where, options) : [];
    }),
  ];
}

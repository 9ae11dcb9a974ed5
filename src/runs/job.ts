/** The runs a job of experiment files consists of, found without training anything: every seed of every file (as the
 * variant runs it) and the source runs those seeds need. Slurm's plan and the time plan both start here. */
import { loadExperiment } from '../experiments/load.js';
import type { Experiment } from '../spec/experiment.js';
import type { ExperimentOptions } from './experiment.js';
import { refuseSharedRunDirs } from './preflight.js';
import { RunDirectory } from './run-dir.js';
import { applyQuick, applyVariant, runDirFor } from './runner.js';
import { cachedSource, cachedSourceRun } from './source-cache.js';
import { sourceSeed } from './sources.js';

export interface JobRun {
  role: 'source' | 'target';
  /** The experiment file, as given (targets) or as the progressive experiment names it (sources). */
  file: string;
  /** The experiment as this run trains it (the variant or quick applied; sources keep their own length and labels). */
  experiment: Experiment;
  seed: number;
  /** Where the job trains it. */
  dir: string;
  /** Complete: its result is in `dir`, or (a source) its column is in the source cache. A source is never started
   * over (--fresh is its targets'), so its complete run directory serves as it stands. */
  complete: boolean;
  /** A cached source's column, and the run directory that trained it (which may lie outside this job's runs). */
  cachedColumn?: string;
  trainedIn?: string;
  /** Whether the job still has to train it: a target not complete, or a source not cached that such a target needs. */
  toTrain: boolean;
}

/** Every target run of `files` (complete or not), then every source run a target needs, once each. */
export function jobRuns(files: string[], options: ExperimentOptions, dataDir: string): JobRun[] {
  const targets: JobRun[] = [];
  const sources = new Map<string, JobRun>();
  const experiments = files.map((file) => ({ file, experiment: loadExperiment(file) }));
  refuseSharedRunDirs(experiments.map(({ experiment }) => ({ name: experiment.name, dirs: (options.seeds ?? experiment.seeds).map((seed) => runDirFor(options.runsDir, experiment, seed, options)) })));
  for (const { file, experiment } of experiments) {
    const effective = applyVariant(experiment, options);
    for (const seed of options.seeds ?? experiment.seeds) {
      const dir = runDirFor(options.runsDir, experiment, seed, options);
      const targetComplete = !options.fresh && new RunDirectory(dir).isComplete();
      targets.push({ role: 'target', file, experiment: effective, seed, dir, complete: targetComplete, toTrain: !targetComplete });
      for (const need of sourcesOf(effective, seed)) {
        const dir = runDirFor(options.runsDir, need.experiment, need.seed, { quick: options.quick });
        const known = sources.get(dir);
        if (known) {
          known.toTrain ||= !known.complete && !targetComplete;
          continue;
        }
        const source = options.quick ? applyQuick(need.experiment) : need.experiment;
        const column = cachedSource({ experiment: source, seed: need.seed, quick: options.quick, device: options.device, data_dir: dataDir }, { repair: false });
        const trainedIn = column ? cachedSourceRun(column) : undefined;
        const complete = column !== undefined || new RunDirectory(dir).isComplete();
        sources.set(dir, {
          role: 'source',
          file: need.file,
          experiment: source,
          seed: need.seed,
          dir,
          complete,
          ...(column ? { cachedColumn: column } : {}),
          ...(trainedIn ? { trainedIn } : {}),
          toTrain: !complete && !targetComplete,
        });
      }
    }
  }
  return [...targets, ...sources.values()];
}

/** The source experiments (and their seeds) of run `seed` of a progressive experiment. */
function sourcesOf(experiment: Experiment, seed: number): { file: string; experiment: Experiment; seed: number }[] {
  const { model } = experiment;
  if (model.architecture !== 'progressive') return [];
  return model.columns.flatMap((column) =>
    column.weights.from === 'source'
      ? [{ file: column.weights.experiment, experiment: loadExperiment(column.weights.experiment), seed: sourceSeed(column.weights, seed) }]
      : [],
  );
}


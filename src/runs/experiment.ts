/** Running an experiment: one run per seed (each its own directory), then the aggregate over seeds. */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Kernel } from '../bridge/index.js';
import { summarize, type Summary } from '../analysis/stats.js';
import type { DataLocation } from '../data/index.js';
import type { Experiment } from '../experiments/schema.js';
import { learningCurveSpec } from '../figures/learning-curve.js';
import { renderFigure, type RenderedFigure } from '../figures/render.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { RunDirectory, type RunResult } from './run-dir.js';
import { applyQuick, runDirFor, trainRun, withEpochs, type RunEvents } from './runner.js';
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
  const shortened = options.epochs ? withEpochs(experiment, options.epochs) : experiment;
  const effective = options.quick ? applyQuick(shortened) : shortened;
  const seeds = options.seeds ?? experiment.seeds;
  const runs: ExperimentOutcome['runs'] = [];
  // A source column is trained (once, for its own seed and length) by running its experiment like any other.
  const train = async (source: Experiment, sourceSeed: number) => {
    const { epochs: _ownLength, ...sourceOptions } = options;
    const outcome = await runExperiment(kernel, source, where, { ...sourceOptions, seeds: [sourceSeed], fresh: false }, events);
    return outcome.runs[0]!.dir;
  };
  for (const seed of seeds) {
    const dir = new RunDirectory(runDirFor(options.runsDir, experiment, seed, options));
    if (dir.exists() && options.fresh) rmSync(dir.dir, { recursive: true, force: true });
    if (dir.isComplete()) {
      events.log(`${dir.dir}: already complete, reusing its result (--fresh to train again)`);
    } else {
      if (dir.exists()) {
        throw new RunExistsError(`${dir.dir} holds an unfinished run (${dir.readMetrics().length} epochs). Continue it with 'pladder run --resume ${dir.dir}', or start over with --fresh.`);
      }
      const resolved = await resolveSources(effective, { where, device: options.device, quick: options.quick, events, train });
      dir.writeConfig({ experiment: resolved, seed, quick: options.quick, device: options.device, data_dir: where.dataDir });
      await trainRun(kernel, dir, where, events);
    }
    runs.push({ seed, dir: dir.dir, result: dir.readResult() });
  }
  return aggregate(effective, runs, path.dirname(runs[0]?.dir ?? options.runsDir));
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

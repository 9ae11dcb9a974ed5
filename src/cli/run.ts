/** `pladder run FILE...` and `pladder run --resume DIR`. */
import path from 'node:path';
import { kernelFor } from '../bridge/index.js';
import { resolveDataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import { drawLearningCurve } from '../figures/learning-curve.js';
import type { RenderedFigure } from '../figures/render.js';
import { aggregate, describeDivergence, divergedError, runExperiments, type ExperimentOutcome } from '../runs/experiment.js';
import { acquireRunLock } from '../runs/lock.js';
import { runEnvironmentIfAny } from '../results/record.js';
import { RunDirectory } from '../runs/run-dir.js';
import { trainRun } from '../runs/runner.js';
import { UsageError } from './exit.js';
import { planCommand } from './plan.js';
import { submitToSlurm } from './slurm.js';
import { progressBar } from './progress.js';
import { barEvents, parseTrainingArgs } from './training-options.js';

const percent = (value: number) => (Number.isFinite(value) ? `${(100 * value).toFixed(2)}%` : 'n/a');

export function formatOutcome(outcome: ExperimentOutcome, learningCurve: RenderedFigure): string {
  const lines = outcome.runs.map(
    (r) => `  seed ${r.seed}: test error ${percent(r.result.final_test_error)} after ${r.result.epochs} epochs (best ${percent(r.result.best_test_error)} at ${r.result.best_epoch}); ${r.result.mean_epoch_seconds.toFixed(1)} s/epoch  ${r.dir}`,
  );
  lines.push(...outcome.diverged.map((r) => `  ${describeDivergence(r.seed, r.result.diverged)}: left out of the summary  ${r.dir}`));
  const e = outcome.finalTestError;
  lines.push(`  ${outcome.experiment.name}: final test error ${percent(e.mean)}${e.n > 1 ? ` +- ${percent(e.std)} (std), 95% CI +- ${percent(e.ci95)}` : ''} over ${e.n} seed(s)`);
  lines.push(`  summary: ${outcome.summaryFile}`, `  figure: ${learningCurve.svg} (and .png)`);
  return lines.join('\n');
}

/** The CPU threads the run's steps used, so that a resume continues with its bits (README, "When results are
 * bit-identical"): one for a seed trained in threads of a shared kernel (each its own BLAS thread), else the threads of
 * the kernel that started it; undefined (the default) where environment.json does not say. */
export function trainedThreads(dir: RunDirectory): number | undefined {
  // Both files read either way: a resume reads them here first, so that a damaged one is refused before anything else
  const last = dir.readMetrics().at(-1);
  const environment = runEnvironmentIfAny(dir);
  return last?.seed_threads ? 1 : environment?.kernel.threads;
}

export async function runCommand(args: string[]): Promise<void> {
  const parsed = parseTrainingArgs(args, { resume: true });
  const { positionals, experiment: options, where, dataDir, resume } = parsed;
  if (parsed.plan) {
    if (!positionals.length) throw new UsageError('run --plan: name the experiment files, e.g. pladder run experiments/ladder-mnist100.yaml --plan');
    return planCommand('run', positionals, parsed);
  }
  if (parsed.slurm) {
    if (resume || !positionals.length) throw new UsageError('run --slurm: name the experiment files to submit, e.g. pladder run experiments/ladder-mnist100.yaml --slurm');
    return submitToSlurm('run', positionals, { ...parsed, slurm: parsed.slurm }, args);
  }
  const bar = progressBar('train');
  const events = barEvents(bar);
  try {
    let outcomes: ExperimentOutcome[];
    if (resume) {
      const dir = new RunDirectory(path.resolve(resume));
      const config = dir.readConfig();
      if (dir.isComplete()) throw new UsageError(`${dir.dir} is already complete; nothing to resume`);
      // Its records are read before anything is said or loaded: a damaged file is refused, named, up front.
      const threads = trainedThreads(dir);
      const release = acquireRunLock(dir.dir);
      try {
        const kernel = kernelFor(options.device, { threads });
        const result = await trainRun(kernel, dir, resolveDataLocation(dataDir ?? config.data_dir), events, { allowDivergence: options.allowDivergence ?? false });
        bar.stop();
        outcomes = [await aggregate(config.experiment, [{ seed: config.seed, dir: dir.dir, result }], dir.dir)];
      } finally {
        release();
      }
    } else {
      if (!positionals.length) throw new UsageError('run: which experiment? e.g. pladder run experiments/ladder-mnist100.yaml [--quick]');
      outcomes = await runExperiments(kernelFor(options.device), positionals.map((file) => loadExperiment(file)), where, options, events);
      bar.stop();
    }
    for (const outcome of outcomes) console.log(formatOutcome(outcome, await drawLearningCurve(outcome)));
    const diverged = divergedError(outcomes);
    if (diverged) throw diverged;
  } finally {
    bar.stop();
  }
}

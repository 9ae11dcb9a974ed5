/** `pladder run FILE` and `pladder run --resume DIR`. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kernelFor } from '../bridge/index.js';
import { resolveDataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import { aggregate, runExperiment, type ExperimentOutcome } from '../runs/experiment.js';
import { RunDirectory } from '../runs/run-dir.js';
import { trainRun, type RunEvents } from '../runs/runner.js';
import { UsageError } from './exit.js';
import { progressBar } from './progress.js';

const percent = (value: number) => (Number.isFinite(value) ? `${(100 * value).toFixed(2)}%` : 'n/a');

export function formatOutcome(outcome: ExperimentOutcome): string {
  const lines = outcome.runs.map(
    (r) => `  seed ${r.seed}: test error ${percent(r.result.final_test_error)} after ${r.result.epochs} epochs (best ${percent(r.result.best_test_error)} at ${r.result.best_epoch}); ${r.result.mean_epoch_seconds.toFixed(1)} s/epoch  ${r.dir}`,
  );
  const e = outcome.finalTestError;
  lines.push(`  ${outcome.experiment.name}: final test error ${percent(e.mean)}${e.n > 1 ? ` +- ${percent(e.std)} (std), 95% CI +- ${percent(e.ci95)}` : ''} over ${e.n} seed(s)`);
  lines.push(`  summary: ${outcome.summaryFile}`, `  figure: ${outcome.learningCurve.svg} (and .png)`);
  return lines.join('\n');
}

function parseSeeds(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const seeds = text.split(',').map((s) => Number(s.trim()));
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UsageError(`--seeds ${text}: a comma-separated list of whole numbers >= 0, e.g. --seeds 1,2,3`);
  return seeds;
}

export async function runCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      seeds: { type: 'string' },
      device: { type: 'string', default: 'auto' },
      quick: { type: 'boolean', default: false },
      'runs-dir': { type: 'string', default: 'runs' },
      'data-dir': { type: 'string' },
      fresh: { type: 'boolean', default: false },
      resume: { type: 'string' },
    },
  });
  const kernel = kernelFor(values.device);
  const bar = progressBar('train');
  const events: RunEvents = { progress: (done, total, label) => bar.update(done, total, label), log: (line) => bar.log(line) };
  try {
    if (values.resume) {
      const dir = new RunDirectory(path.resolve(values.resume));
      const config = dir.readConfig();
      if (dir.isComplete()) throw new UsageError(`${dir.dir} is already complete; nothing to resume`);
      const where = resolveDataLocation(values['data-dir'] ?? config.data_dir);
      const result = await trainRun(kernel, dir, where, events);
      bar.stop();
      console.log(formatOutcome(await aggregate(config.experiment, [{ seed: config.seed, dir: dir.dir, result }], dir.dir)));
      return;
    }
    const [file] = positionals;
    if (!file) throw new UsageError('run: which experiment? e.g. pladder run experiments/ladder-mnist100.yaml [--quick]');
    const experiment = loadExperiment(file);
    const seeds = parseSeeds(values.seeds);
    const where = resolveDataLocation(values['data-dir']);
    const outcome = await runExperiment(kernel, experiment, where, { runsDir: path.resolve(values['runs-dir']), device: values.device, quick: values.quick, fresh: values.fresh, ...(seeds ? { seeds } : {}) }, events);
    bar.stop();
    console.log(formatOutcome(outcome));
  } finally {
    bar.stop();
  }
}

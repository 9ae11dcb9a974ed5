/** The options that every training command (run, figure, reproduce) shares, parsed and checked once. */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveDataLocation, type DataLocation } from '../data/index.js';
import { CLASSES } from '../spec/experiment.js';
import type { ExperimentOptions } from '../runs/experiment.js';
import type { RunEvents } from '../runs/runner.js';
import { writableDirProblem } from '../util/writable-dir.js';
import { joinNegativeValues } from './args.js';
import { UsageError } from './exit.js';
import type { Bar } from './progress.js';

const shared = {
  seeds: { type: 'string' },
  device: { type: 'string', default: 'auto' },
  quick: { type: 'boolean', default: false },
  'runs-dir': { type: 'string', default: 'runs' },
  'data-dir': { type: 'string' },
  fresh: { type: 'boolean', default: false },
  continue: { type: 'boolean', default: false },
  epochs: { type: 'string' },
  labels: { type: 'string' },
  parallel: { type: 'string', default: '1' },
  'allow-divergence': { type: 'boolean', default: false },
} as const;

export function parseSeeds(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((s) => s.trim());
  // Number('') is 0: an empty item must be refused by its text, not read as seed 0.
  if (parts.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--seeds '${text}': a comma-separated list of whole numbers >= 0, e.g. --seeds 1,2,3`);
  const seeds = parts.map(Number);
  const repeated = seeds.find((seed, i) => seeds.indexOf(seed) !== i);
  if (repeated !== undefined) throw new UsageError(`--seeds ${text}: seed ${repeated} is named twice; each seed is one run (e.g. --seeds 1,2,3)`);
  return seeds;
}

/** `extra` adds the options of one command: `run --resume DIR`, `figure --no-train`. */
export function parseTrainingArgs(args: string[], extra: { resume?: boolean; noTrain?: boolean } = {}) {
  const options = {
    ...shared,
    ...(extra.resume ? { resume: { type: 'string' } } : {}),
    ...(extra.noTrain ? { 'no-train': { type: 'boolean', default: false } } : {}),
  } as typeof shared & { resume?: { type: 'string' }; 'no-train'?: { type: 'boolean'; default: false } };
  const { values, positionals } = parseArgs({ args: joinNegativeValues(args, options), allowPositionals: true, options });
  const runsDirProblem = writableDirProblem('--runs-dir', values['runs-dir']);
  if (runsDirProblem) throw new UsageError(runsDirProblem);
  if (values.fresh && values.continue) throw new UsageError('--fresh and --continue: choose one (start unfinished runs over, or continue them)');
  const seeds = parseSeeds(values.seeds);
  const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
  if (epochs !== undefined && (!Number.isInteger(epochs) || epochs < 1)) throw new UsageError(`--epochs ${values.epochs}: a whole number of epochs, at least 1`);
  const labels = values.labels === undefined ? undefined : values.labels === 'all' ? null : Number(values.labels);
  if (typeof labels === 'number' && (!Number.isInteger(labels) || labels < CLASSES || labels % CLASSES !== 0)) {
    throw new UsageError(`--labels ${values.labels}: labeled target examples, a multiple of the ${CLASSES} classes (e.g. 1000), or 'all'`);
  }
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel ${values.parallel}: how many seeds train side by side, a whole number >= 1 (e.g. 2 on 2 cores, 3 on a GPU)`);
  // Each run side by side is a Python process that needs a core of its own to drive it (on a GPU too).
  const cores = os.availableParallelism();
  if (parallel > cores) throw new UsageError(`--parallel ${parallel}: more runs side by side than this machine's ${cores} CPU cores (each needs one); use at most --parallel ${cores}`);
  const experiment: ExperimentOptions = {
    runsDir: path.resolve(values['runs-dir']),
    device: values.device,
    quick: values.quick,
    fresh: values.fresh,
    continue: values.continue,
    parallel,
    allowDivergence: values['allow-divergence'],
    ...(seeds ? { seeds } : {}),
    ...(epochs ? { epochs } : {}),
    ...(labels !== undefined ? { labels } : {}),
  };
  const where: DataLocation = resolveDataLocation(values['data-dir']);
  const own = values as { resume?: string; 'no-train'?: boolean };
  return { positionals, experiment, where, dataDir: values['data-dir'], resume: own.resume, noTrain: own['no-train'] ?? false };
}

export function barEvents(bar: Bar): RunEvents {
  return { progress: (done, total, label, runId) => bar.update(done, total, label, runId), log: (line) => bar.log(line) };
}

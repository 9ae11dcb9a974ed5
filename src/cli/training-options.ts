/** The options that every training command (run, figure, reproduce) shares, parsed and checked once. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveDataLocation, type DataLocation } from '../data/index.js';
import { CLASSES } from '../experiments/schema.js';
import type { ExperimentOptions } from '../runs/experiment.js';
import type { RunEvents } from '../runs/runner.js';
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
} as const;

export function parseSeeds(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const seeds = text.split(',').map((s) => Number(s.trim()));
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UsageError(`--seeds ${text}: a comma-separated list of whole numbers >= 0, e.g. --seeds 1,2,3`);
  return seeds;
}

/** `extra` adds the options of one command: `run --resume DIR`, `figure --no-train`. */
export function parseTrainingArgs(args: string[], extra: { resume?: boolean; noTrain?: boolean } = {}) {
  const options = {
    ...shared,
    ...(extra.resume ? { resume: { type: 'string' } } : {}),
    ...(extra.noTrain ? { 'no-train': { type: 'boolean', default: false } } : {}),
  } as typeof shared & { resume?: { type: 'string' }; 'no-train'?: { type: 'boolean'; default: false } };
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
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
  const experiment: ExperimentOptions = {
    runsDir: path.resolve(values['runs-dir']),
    device: values.device,
    quick: values.quick,
    fresh: values.fresh,
    continue: values.continue,
    parallel,
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

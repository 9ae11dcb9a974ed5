/** The options that every training command (run, figure, reproduce) shares, parsed and checked once. */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveDataLocation, type DataLocation } from '../data/index.js';
import { CLASSES, trainingSchema } from '../spec/experiment.js';
import type { ExperimentOptions } from '../runs/experiment.js';
import type { SlurmOptions } from '../slurm/submit.js';
import type { RunEvents } from '../runs/runner.js';
import { joinNegativeValues, requireDataDir, requireWritableDir } from './args.js';
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
  parallel: { type: 'string' },
  devices: { type: 'string' },
  threads: { type: 'string' },
  'allow-divergence': { type: 'boolean', default: false },
  'batch-seeds': { type: 'boolean' },
  'no-batch-seeds': { type: 'boolean' },
  // list the job's runs and the time they take here, from measured epochs; train nothing (src/cli/plan.ts)
  plan: { type: 'boolean', default: false },
  // Slurm: submit the job instead of running it here (src/cli/slurm.ts)
  slurm: { type: 'boolean', default: false },
  partition: { type: 'string' },
  'gpus-per-task': { type: 'string' },
  'cpus-per-task': { type: 'string' },
  time: { type: 'string' },
  'sbatch-args': { type: 'string' },
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

function parseCount(option: string, text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const count = Number(text);
  if (!/^\d+$/.test(text.trim()) || count < 1) throw new UsageError(`${option} ${text}: ${what}; a whole number >= 1`);
  return count;
}

const DEVICE = /^(cpu|cuda(:\d+)?)$/;

/** `--devices cuda:0,cuda:1`: where the job's runs go (a device may be named once; `--parallel` puts several runs on
 * each). Undefined: every visible GPU, else the CPU (decided once the kernel says what it sees). */
export function parseDevices(text: string | undefined, device: string): string[] | undefined {
  if (text === undefined) return undefined;
  if (device !== 'auto') throw new UsageError(`--device ${device} and --devices ${text}: choose one (--devices takes a list, e.g. --devices cuda:0,cuda:1)`);
  const devices = text.split(',').map((d) => d.trim());
  const bad = devices.find((d) => !DEVICE.test(d));
  if (bad !== undefined) throw new UsageError(`--devices ${text}: '${bad}' is not a device; a comma-separated list of cpu, cuda or cuda:N, e.g. --devices cuda:0,cuda:1`);
  const repeated = devices.find((d, i) => devices.indexOf(d) !== i);
  if (repeated !== undefined) throw new UsageError(`--devices ${text}: ${repeated} is named twice; name each device once and set --parallel N for N runs on each`);
  return devices;
}

const SLURM_ONLY = ['partition', 'gpus-per-task', 'cpus-per-task', 'time', 'sbatch-args'] as const;

function slurmOptions(values: { [K in (typeof SLURM_ONLY)[number]]?: string | undefined }): SlurmOptions {
  const gpusPerTask = values['gpus-per-task'] === undefined ? 0 : Number(values['gpus-per-task']);
  if (!Number.isInteger(gpusPerTask) || gpusPerTask < 0) throw new UsageError(`--gpus-per-task ${values['gpus-per-task']}: GPUs for each task, a whole number >= 0`);
  const cpusPerTask = parseCount('--cpus-per-task', values['cpus-per-task'], 'CPU cores for each task (its runs use as many threads)') ?? 1;
  return {
    partition: values.partition,
    gpusPerTask,
    cpusPerTask,
    time: values.time,
    extra: values['sbatch-args']?.split(/\s+/).filter(Boolean) ?? [],
  };
}

/** What `run --resume DIR` reads of the options (src/cli/run.ts): where to train and what to allow. */
const RESUME_OPTIONS = new Set(['resume', 'device', 'data-dir', 'allow-divergence']);

/** `extra` adds the options of one command: `run --resume DIR`, `figure --no-train`. */
export function parseTrainingArgs(args: string[], extra: { resume?: boolean; noTrain?: boolean } = {}) {
  const options = {
    ...shared,
    ...(extra.resume ? { resume: { type: 'string' } } : {}),
    ...(extra.noTrain ? { 'no-train': { type: 'boolean', default: false } } : {}),
  } as typeof shared & { resume?: { type: 'string' }; 'no-train'?: { type: 'boolean'; default: false } };
  const { values, positionals, tokens } = parseArgs({ args: joinNegativeValues(args, options), allowPositionals: true, options, tokens: true });
  const own = values as { resume?: string; 'no-train'?: boolean };
  if (own.resume !== undefined) {
    // A resumed run keeps its own experiment, seed, length, labels and runs directory (its config.json): the options
    // that would change them, or that choose runs, are refused by name rather than silently ignored.
    const given = [...new Set(tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : [])))];
    const ignored = given.filter((name) => !RESUME_OPTIONS.has(name) && !['plan', 'slurm', ...SLURM_ONLY].includes(name));
    if (ignored.length) {
      const names = ignored.map((name) => `--${name}`).join(', ');
      throw new UsageError(`run --resume: ${names} ${ignored.length > 1 ? 'are' : 'is'} not used when resuming (a run keeps the experiment, seed, epochs and labels of its config.json; it takes --device, --data-dir and --allow-divergence); drop ${ignored.length > 1 ? 'them' : 'it'}, or give ${ignored.length > 1 ? 'them' : 'it'} to 'pladder run FILE' for a run of their own`);
    }
    if (positionals.length && !values.slurm && !values.plan) throw new UsageError(`run --resume ${own.resume}: ${positionals.join(' ')} is not used when resuming one run directory; drop it`);
  }
  requireWritableDir('--runs-dir', values['runs-dir']);
  requireDataDir(values['data-dir']);
  if (values.fresh && values.continue) throw new UsageError('--fresh and --continue: choose one (start unfinished runs over, or continue them)');
  const seeds = parseSeeds(values.seeds);
  const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
  // The experiment file's own rule for epochs (a whole number >= 1 that a double holds exactly): a variant's length
  // is written into its config.json, which must read back.
  if (epochs !== undefined && !(/^\s*\d+\s*$/.test(values.epochs!) && trainingSchema.shape.epochs.safeParse(epochs).success)) {
    throw new UsageError(`--epochs ${values.epochs}: a whole number of epochs, from 1 to ${Number.MAX_SAFE_INTEGER}`);
  }
  const labels = values.labels === undefined ? undefined : values.labels === 'all' ? null : Number(values.labels);
  if (typeof labels === 'number' && (!Number.isInteger(labels) || labels < CLASSES || labels % CLASSES !== 0)) {
    throw new UsageError(`--labels ${values.labels}: labeled target examples, a multiple of the ${CLASSES} classes (e.g. 1000), or 'all'`);
  }
  const cores = os.availableParallelism();
  const parallel = parseCount('--parallel', values.parallel, 'runs side by side on each device, e.g. 2 on 2 cores, 3 on a GPU');
  const threads = parseCount('--threads', values.threads, 'CPU threads for each run, e.g. 1');
  if (values.device !== 'auto' && !DEVICE.test(values.device)) {
    // Checked here too, not only by the kernel: --plan starts none, and accepted any name
    throw new UsageError(`--device ${values.device}: not a device; auto, cpu, cuda or cuda:N`);
  }
  const devices = parseDevices(values.devices, values.device);
  // Each run side by side is a Python process that needs a core of its own to drive it (on a GPU too).
  const workers = (devices?.length ?? 1) * (parallel ?? 1);
  if (workers > cores) {
    throw new UsageError(`--parallel ${parallel ?? 1}${devices ? ` on ${devices.length} devices` : ''}: ${workers} runs side by side, more than this machine's ${cores} CPU cores (each needs one); use at most ${Math.max(1, Math.floor(cores / (devices?.length ?? 1)))} per device`);
  }
  if (values['batch-seeds'] && values['no-batch-seeds']) throw new UsageError('--batch-seeds and --no-batch-seeds: give one of them (neither: pladder decides, README "Seeds together")');
  const batchSeeds = values['no-batch-seeds'] ? false : values['batch-seeds'];
  const experiment: ExperimentOptions = {
    runsDir: path.resolve(values['runs-dir']),
    device: values.device,
    quick: values.quick,
    fresh: values.fresh,
    continue: values.continue,
    ...(parallel ? { parallel } : {}),
    ...(devices ? { devices } : {}),
    ...(threads ? { threads } : {}),
    allowDivergence: values['allow-divergence'],
    ...(batchSeeds !== undefined ? { batchSeeds } : {}),
    ...(seeds ? { seeds } : {}),
    ...(epochs ? { epochs } : {}),
    ...(labels !== undefined ? { labels } : {}),
  };
  const where: DataLocation = resolveDataLocation(values['data-dir']);
  const slurm = values.slurm ? slurmOptions(values) : undefined;
  if (!values.slurm && SLURM_ONLY.some((option) => values[option] !== undefined)) {
    throw new UsageError(`--${SLURM_ONLY.find((option) => values[option] !== undefined)} is an option of --slurm; add --slurm to submit the job to Slurm`);
  }
  if (values.plan && (values.slurm || own.resume)) throw new UsageError(`--plan and --${values.slurm ? 'slurm' : 'resume'}: choose one (--plan trains nothing, it only says how long the job takes here)`);
  return { positionals, experiment, where, dataDir: values['data-dir'], resume: own.resume, noTrain: own['no-train'] ?? false, slurm, plan: values.plan };
}

export function barEvents(bar: Bar): RunEvents {
  return { progress: (done, total, label, runId) => bar.update(done, total, label, runId), log: (line) => bar.log(line) };
}

/** Where a job's runs execute: worker processes over the devices asked for, and a pool that runs the job's runs on
 * them, retrying a run that crashed once while the others go on. */
import { Kernel, KernelError, USER_FIXABLE_PYTHON_ERRORS } from '../bridge/index.js';

/** One worker: a Python process on `device` with `threads` CPU threads for torch. */
export interface WorkerSlot {
  device: string;
  threads: number;
}

/** Every device the job may use, `perDevice` workers on each, the CPU cores shared evenly between all workers (each
 * needs a core to drive it, on a GPU too) unless `threads` says how many each gets. */
export function workerSlots(devices: string[], perDevice: number, cores: number, threads?: number): WorkerSlot[] {
  const workers = devices.length * perDevice;
  const each = threads ?? Math.max(1, Math.floor(cores / workers));
  return devices.flatMap((device) => Array.from({ length: perDevice }, () => ({ device, threads: each })));
}

/** The devices `auto` stands for: every CUDA device this process sees, else the CPU. */
export function visibleDevices(cudaDeviceCount: number): string[] {
  return cudaDeviceCount > 0 ? Array.from({ length: cudaDeviceCount }, (_, i) => `cuda:${i}`) : ['cpu'];
}

export interface PoolJob<T> {
  /** The run, as messages name it: experiment/seed-S. */
  label: string;
  run(kernel: Kernel): Promise<T>;
}

/** An error's first line, without its closing punctuation, to be set inside a sentence ("exited with signal SIGKILL;
 * trying it once more", not "SIGKILL.; trying"). */
export function errorSummary(error: unknown): string {
  const line = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  return line.trim().replace(/[.;:,]+$/, '');
}

/** Runs of a job that failed twice (once, then again on a fresh process): reported after every other run ended. */
export class RunsFailedError extends Error {
  override readonly name = 'RunsFailedError';
  constructor(readonly failures: { label: string; error: unknown }[]) {
    super(
      `${failures.length} run(s) failed twice (a second try on a fresh Python process did not help); every other run completed:\n` +
        failures.map(({ label, error }) => `  ${label}: ${errorSummary(error)}`).join('\n') +
        `\nRerun the same command with --continue to go on from their last complete epoch (PLADDER_DEBUG=1 shows tracebacks).`,
    );
  }
}

/** A crash: the process died, a call timed out or Python raised something other than an input error. Anything else
 * (a refused input, a run that exists, a lock held) would fail the same way again. */
export function isCrash(error: unknown): boolean {
  if (!(error instanceof KernelError)) return false;
  if (error.python && USER_FIXABLE_PYTHON_ERRORS.has(error.python.type)) return false;
  return error.code === 'KERNEL_EXITED' || error.code === 'CALL_TIMEOUT' || error.code === 'PYTHON_EXCEPTION' || error.code === 'BAD_REPLY';
}

/**
 * Runs `jobs` on one kernel per slot (`shared`, when given, serves as the only slot's kernel), each slot taking the
 * next job when its last one ends. A job that crashes is retried once on a fresh process of its slot; every job runs
 * to its end whatever the others do. Throws, after all have settled, the first failure that is not a crash (the
 * user's to fix), else a RunsFailedError naming every run that failed twice.
 */
export async function runOnWorkers<T>(slots: WorkerSlot[], jobs: PoolJob<T>[], log: (line: string) => void, shared?: Kernel): Promise<T[]> {
  const useShared = shared !== undefined && slots.length === 1;
  const kernels = slots.map((slot) => (useShared ? shared : new Kernel({ device: slot.device, threads: slot.threads })));
  const results: PromiseSettledResult<T>[] = new Array(jobs.length);
  let next = 0;
  const attempt = async (worker: Kernel, job: PoolJob<T>): Promise<PromiseSettledResult<T>> => {
    try {
      return { status: 'fulfilled', value: await job.run(worker) };
    } catch (error) {
      if (!isCrash(error)) return { status: 'rejected', reason: error };
      log(`${job.label} failed on ${worker.device}: ${errorSummary(error)}; trying it once more on a fresh Python process`);
      await worker.stop(); // the next call starts a new process: nothing of the failed one is reused
      try {
        const value = await job.run(worker);
        log(`${job.label}: the second try succeeded`);
        return { status: 'fulfilled', value };
      } catch (again) {
        log(`${job.label} failed again: ${errorSummary(again)}`);
        return { status: 'rejected', reason: again };
      }
    }
  };
  try {
    await Promise.all(
      kernels.map(async (worker) => {
        for (let job = next++; job < jobs.length; job = next++) results[job] = await attempt(worker, jobs[job]!);
      }),
    );
  } finally {
    if (!useShared) await Promise.all(kernels.map((worker) => worker.stop({ final: true })));
  }
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ label: jobs[i]!.label, error: r.reason as unknown }] : []));
  const notCrash = failures.find(({ error }) => !isCrash(error));
  if (notCrash) throw notCrash.error;
  if (failures.length) throw new RunsFailedError(failures);
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

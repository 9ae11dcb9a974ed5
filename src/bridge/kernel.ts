/** A kernel: one Python process for one device, started on first use, driven by declared, typed calls. */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { API_MODULE } from '../paths.js';
import { writableDirProblem } from '../util/writable-dir.js';
import { findPython } from './interpreter.js';
import { calls, type CallArgs, type CallName, type CallResult } from './calls.js';
import { trackKernel } from './cleanup.js';
import { KernelError } from './errors.js';
import { loadPythonia, type ApiModule, type PythoniaInstance } from './pythonia.js';
import { envelopeSchema, progressEventSchema, type ProgressEvent } from './wire.js';


/** Below this matmul rate (GFLOP/s, float32) a CPU may be on the reference BLAS (measured 5 GFLOP/s on 2 cores,
 * against about 100 with OpenBLAS; a busy machine can dip to 15). */
export const SLOW_BLAS_GFLOPS = 12;

/** Slow, and no optimised BLAS in the process: a rate alone can be low on a busy machine. */
export function isSlowBlas(info: { device: string; matmul_gflops: number | null; blas: string }): boolean {
  if (!info.device.startsWith('cpu') || info.matmul_gflops === null) return false;
  return info.matmul_gflops < SLOW_BLAS_GFLOPS && !/openblas|mkl|blis|accelerate/i.test(info.blas);
}

/** Sized for a whole training epoch on a slow CPU; override per call or with PLADDER_CALL_TIMEOUT_MS. */
export const DEFAULT_CALL_TIMEOUT_MS = 30 * 60_000;
const LONGEST_TIMER_MS = 2 ** 31 - 1; // Node's timers fire at once beyond this (TimeoutOverflowWarning)

/** What is wrong with `value` as PLADDER_CALL_TIMEOUT_MS, or undefined when it is a usable timeout. */
export function callTimeoutProblem(value: string): string | undefined {
  const ms = Number(value);
  if (/^\s*\d+\s*$/.test(value) && ms >= 1 && ms <= LONGEST_TIMER_MS) return undefined;
  return `PLADDER_CALL_TIMEOUT_MS=${value}: give each kernel call's timeout in milliseconds, a whole number from 1 to ${LONGEST_TIMER_MS} (default ${DEFAULT_CALL_TIMEOUT_MS}, 30 minutes), or unset it`;
}

/** Each call's timeout unless the call gives its own: PLADDER_CALL_TIMEOUT_MS, checked, else the default. */
function defaultCallTimeoutMs(): number {
  const value = process.env.PLADDER_CALL_TIMEOUT_MS;
  if (value === undefined) return DEFAULT_CALL_TIMEOUT_MS;
  const problem = callTimeoutProblem(value);
  if (problem) throw new KernelError('BAD_ARGUMENTS', problem);
  return Number(value);
}

export interface KernelOptions {
  /** 'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:N'. */
  device?: string;
  /** CPU threads for torch; default: every core this process may use. */
  threads?: number;
  /** Accept a CPU on the reference BLAS (only for diagnosis: training would be very slow). */
  allowSlowBlas?: boolean;
}

export interface CallOptions {
  timeoutMs?: number;
  onProgress?: (event: ProgressEvent) => void;
}

export type KernelInfo = CallResult<'start'>;

interface Running {
  pythonia: PythoniaInstance;
  api: ApiModule;
  info: KernelInfo;
  exchangeDir: string;
  exited: Promise<never>;
  /** Calls `listener` once with the KERNEL_EXITED error when the process exits (at once if it has); returns a
   * function that removes it. Per call, use this rather than `exited`: every Promise.race with `exited`, a promise
   * that stays pending for the kernel's life, leaves a reaction on it that holds the race and its value for ever. */
  onExit: (listener: (error: KernelError) => void) => () => void;
  /** Ends the process (if alive) and removes what it used; idempotent. */
  dispose: () => void;
}

/** Loading torch and the kernels takes seconds; a minute more is a hung interpreter. */
const START_TIMEOUT_MS = 120_000;

/** A promise that rejects with `error()` after `ms`, unless cleared first. */
function deadline(ms: number, error: () => Error): { expired: Promise<never>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  expired.catch(() => undefined);
  return { expired, clear: () => clearTimeout(timer) };
}

/** `work`'s outcome, unless the process exits or `timeoutMs` passes first (counted again from each `heartbeat`: a call
 * that reports progress is alive, however long it takes). Whichever settles first removes the timer and the exit
 * listener, so that nothing of a finished call stays reachable (the heap stays flat over millions of calls). */
function settleFirst<T>(work: PromiseLike<T>, running: Pick<Running, 'onExit'>, timeoutMs: number, onTimeout: () => Error, heartbeat?: (restart: () => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let removeExitListener = (): void => undefined;
    const finish =
      <V>(settle: (value: V) => void) =>
      (value: V): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        removeExitListener();
        settle(value);
      };
    const expire = () => finish(reject)(onTimeout());
    let timer = setTimeout(expire, timeoutMs);
    heartbeat?.(() => {
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(expire, timeoutMs);
    });
    removeExitListener = running.onExit(finish(reject)); // called at once (and settled) if the process is gone
    work.then(finish(resolve), finish(reject));
  });
}

export class Kernel {
  readonly device: string;
  private readonly options: KernelOptions;
  private running: Promise<Running> | undefined;
  private inFlight = 0;
  private stopped = false;
  private started = 0;
  /** Settles when the call in progress has: Python serves one call at a time, and pythonia mixes up the messages of
   * two calls in flight at once (a progress callback of one answered as the other: KeyError 'action'), so calls from
   * concurrent callers (runs side by side sharing a kernel) wait their turn here. */
  private turn: Promise<void> = Promise.resolve();

  constructor(options: KernelOptions = {}) {
    this.options = options;
    this.device = options.device ?? 'auto';
  }

  /** Starts the Python process if it is not running; returns what it found (device, versions, BLAS rate). */
  async info(): Promise<KernelInfo> {
    return (await this.ensureRunning()).info;
  }

  /** Calls `name` in py_kernels/api.py with validated arguments and returns its validated value. */
  async call<N extends CallName>(name: N, args: CallArgs<N>, options: CallOptions = {}): Promise<CallResult<N>> {
    const previous = this.turn;
    let done = (): void => undefined;
    this.turn = new Promise<void>((resolve) => (done = resolve));
    try {
      await previous;
      return await this.invoke(await this.ensureRunning(), name, args, options);
    } finally {
      done();
    }
  }

  /** Runs `use` with the raw api module: only for the benchmark of pythonia's own JSON path. */
  async withRawApi<T>(use: (api: ApiModule) => Promise<T>): Promise<T> {
    const running = await this.ensureRunning();
    this.enter(running);
    try {
      return await use(running.api);
    } finally {
      this.leave(running);
    }
  }

  /** How many Python processes this kernel has started: what a process holds (loaded data, runs) is gone when this
   * changes (a process that died is started anew by the next call). */
  get generation(): number {
    return this.started;
  }

  get exchangeDir(): Promise<string> {
    return this.ensureRunning().then((running) => running.exchangeDir);
  }

  /** Ends the Python process; later calls start a new one unless `final` is set. */
  async stop({ final = false } = {}): Promise<void> {
    this.stopped = final;
    const running = this.running;
    this.running = undefined;
    if (running) (await running.catch(() => undefined))?.dispose();
  }

  private ensureRunning(): Promise<Running> {
    if (this.stopped) {
      return Promise.reject(new KernelError('KERNEL_STOPPED', `The kernel for device '${this.device}' was stopped.`));
    }
    if (!this.running) {
      const starting = this.start();
      this.running = starting;
      // A kernel that failed to start, or whose process died, is started anew by the next call.
      const forget = () => {
        if (this.running === starting) this.running = undefined;
      };
      starting.then((running) => running.exited.catch(forget), forget);
    }
    return this.running;
  }

  private async start(): Promise<Running> {
    this.started += 1;
    const python = await findPython();
    const exchangeDir = makeExchangeDir(this.device);
    const pythonia = loadPythonia(python.executable);
    const child = pythonia.process();
    const release = () => {
      pythonia.end();
      rmSync(exchangeDir, { recursive: true, force: true });
    };
    const untrack = trackKernel(release);
    const dispose = () => {
      untrack();
      release();
    };
    const exitListeners = new Set<(error: KernelError) => void>();
    let exitError: KernelError | undefined;
    const onExit = (listener: (error: KernelError) => void): (() => void) => {
      if (exitError) {
        listener(exitError);
        return () => undefined;
      }
      exitListeners.add(listener);
      return () => exitListeners.delete(listener);
    };
    const exited = new Promise<never>((_, reject) => {
      child?.once('exit', (code, signal) => {
        dispose(); // pythonia's timers, the handle of the process that is gone, the exchange folder
        exitError = new KernelError('KERNEL_EXITED', `The Python kernel (pid ${child.pid}, device '${this.device}') exited with ${signal ? `signal ${signal}` : `code ${code}`}.`, {
          device: this.device,
          hint: signal === 'SIGKILL' ? 'A SIGKILL is often the out-of-memory killer: use a smaller batch or subset.' : 'Its stderr (above) says why.',
        });
        reject(exitError);
        for (const listener of exitListeners) listener(exitError);
        exitListeners.clear();
      });
    });
    exited.catch(() => undefined);
    const importing = deadline(START_TIMEOUT_MS, () => new KernelError('CALL_TIMEOUT', `The Python kernel for device '${this.device}' did not load py_kernels/api.py within ${START_TIMEOUT_MS / 1000} s.`, { device: this.device }));
    try {
      const api = await Promise.race([pythonia.importFile(API_MODULE), exited, importing.expired]);
      const partial = { pythonia, api, exchangeDir, exited, onExit, dispose };
      const info = await this.invoke(
        { ...partial, info: undefined as never },
        'start',
        { device: this.device, threads: this.options.threads ?? null, exchange_dir: exchangeDir },
        { timeoutMs: START_TIMEOUT_MS },
      );
      checkBlas(info, this.options.allowSlowBlas ?? process.env.PLADDER_ALLOW_SLOW_BLAS === '1');
      pythonia.setKeepsNodeAlive(false);
      return { ...partial, info };
    } catch (error) {
      dispose();
      throw error;
    } finally {
      importing.clear();
    }
  }

  private async invoke<N extends CallName>(
    running: Running,
    name: N,
    args: CallArgs<N>,
    { timeoutMs = defaultCallTimeoutMs(), onProgress }: CallOptions,
  ): Promise<CallResult<N>> {
    const declared = calls[name];
    const parsedArgs = declared.args.safeParse(args);
    if (!parsedArgs.success) {
      throw new KernelError('BAD_ARGUMENTS', `Arguments of kernel call '${name}' are invalid: ${parsedArgs.error.message}`, { call: name, device: this.device });
    }
    let beat = (): void => undefined;
    const progress = onProgress
      ? (event: string) => {
          beat();
          forwardProgress(event, onProgress);
        }
      : undefined;
    const timedOut = () => {
      void this.stop();
      const silence = onProgress ? ' without reporting progress' : '';
      return new KernelError('CALL_TIMEOUT', `Kernel call '${name}' on device '${this.device}' ran ${timeoutMs / 1000} s${silence}, past its timeout; the Python kernel was stopped and its state is lost.`, {
        call: name,
        device: this.device,
        hint: 'Give the call more time (timeoutMs, or PLADDER_CALL_TIMEOUT_MS for every call), or do less per call.',
      });
    };
    this.enter(running);
    try {
      const reply = await settleFirst(running.api.dispatch(name, JSON.stringify(parsedArgs.data), progress), running, timeoutMs, timedOut, (restart) => (beat = restart));
      return this.unwrap(name, reply);
    } finally {
      this.leave(running);
    }
  }

  private unwrap<N extends CallName>(name: N, reply: unknown): CallResult<N> {
    if (typeof reply !== 'string') {
      throw new KernelError('BAD_REPLY', `Kernel call '${name}' replied with a ${typeof reply}, not the JSON string api.dispatch returns.`, { call: name, device: this.device });
    }
    const envelope = parseEnvelope(reply);
    if (!envelope) {
      throw new KernelError('BAD_REPLY', `Kernel call '${name}' replied ${JSON.stringify(reply.slice(0, 200))}, not the JSON envelope api.dispatch writes`, { call: name, device: this.device });
    }
    if (!envelope.ok) {
      const python = envelope.error;
      throw new KernelError('PYTHON_EXCEPTION', `Kernel call '${name}' raised ${python.type}: ${python.message}`, { call: name, device: this.device, python });
    }
    const value = calls[name].result.safeParse(envelope.value);
    if (!value.success) {
      throw new KernelError('BAD_REPLY', `Kernel call '${name}' returned a value that does not match its schema: ${value.error.message}`, { call: name, device: this.device });
    }
    return value.data as CallResult<N>;
  }

  // While a call is in flight the process must keep Node alive; between calls it must not.
  private enter(running: Running): void {
    if (this.inFlight++ === 0) running.pythonia.setKeepsNodeAlive(true);
  }

  private leave(running: Running): void {
    if (--this.inFlight === 0 && running.pythonia.process()) running.pythonia.setKeepsNodeAlive(false);
  }
}

function forwardProgress(event: string, onProgress: (event: ProgressEvent) => void): void {
  const parsed = progressEventSchema.safeParse(JSON.parse(event));
  if (parsed.success) onProgress(parsed.data);
}

function checkBlas(info: KernelInfo, allowSlow: boolean): void {
  if (allowSlow || !isSlowBlas(info)) return;
  throw new KernelError('SLOW_BLAS', `torch on the CPU multiplies matrices at ${info.matmul_gflops?.toFixed(1)} GFLOP/s (BLAS: ${info.blas}): it is using the slow reference BLAS.`, {
    device: info.device,
    hint: 'Install OpenBLAS (Debian: apt-get install libopenblas0-pthread), or set PLADDER_ALLOW_SLOW_BLAS=1 to go on anyway.',
  });
}

/** Bulk tensors travel as files here: RAM-backed /dev/shm where it exists. One folder per kernel, removed at stop. */
function makeExchangeDir(device: string): string {
  const chosen = process.env.PLADDER_EXCHANGE_DIR;
  // Checked before Node's recursive mkdir, which loops forever under /proc.
  const problem = chosen === undefined ? undefined : writableDirProblem('PLADDER_EXCHANGE_DIR', chosen);
  if (problem) throw new KernelError('BAD_ARGUMENTS', problem, { device });
  const base = chosen ?? (isWritableDir('/dev/shm') ? '/dev/shm' : os.tmpdir());
  const dir = path.join(base, `pladder-${process.pid}-${device.replace(/[^a-z0-9]/gi, '_')}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function isWritableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

/** api.dispatch's reply as its envelope, or undefined where it is not one (not JSON, or not of that shape). */
export function parseEnvelope(reply: string) {
  try {
    const parsed = envelopeSchema.safeParse(JSON.parse(reply));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

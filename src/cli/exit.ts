/** How the CLI ends on an error: a message a person can act on, and an exit code per kind of failure. */
import { KernelError, type KernelErrorCode } from '../bridge/index.js';
import { InputFileError } from '../experiments/yaml-file.js';
import { DivergedError, MissingRunsError, RunExistsError } from '../runs/experiment.js';
import { RunLockedError } from '../runs/lock.js';
import { JobInputError } from '../runs/preflight.js';
import { RecordError } from '../results/record.js';
import { ReportError } from '../results/report.js';
import { RunDirectoryError } from '../runs/run-dir.js';
import { RunsFailedError } from '../runs/workers.js';
import { SlurmError } from '../slurm/submit.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const EXIT_CODES: Record<KernelErrorCode, number> = {
  PYTHON_EXCEPTION: 1,
  CALL_TIMEOUT: 1,
  KERNEL_EXITED: 1,
  KERNEL_STOPPED: 1,
  BAD_ARGUMENTS: 2,
  BAD_REPLY: 1,
  NO_PYTHON: 3,
  SLOW_BLAS: 4,
};

const USER_FIXABLE = new Set(['DataError', 'KernelInputError']);

/** Exit codes (the README lists them): 2 the user's input, 3 no usable Python, 4 a slow BLAS, 5 runs diverged,
 * 6 runs failed twice (the others completed), 130 stopped by SIGINT, 143 by SIGTERM, 1 anything else. */
export const EXIT_DIVERGED = 5;
export const EXIT_RUNS_FAILED = 6;

const USER_ERRORS = [UsageError, SlurmError, InputFileError, RunExistsError, MissingRunsError, RecordError, RunLockedError, RunDirectoryError, JobInputError, ReportError];

export function reportAndExitCode(error: unknown): number {
  if (USER_ERRORS.some((kind) => error instanceof kind)) {
    process.stderr.write(`pladder: ${(error as Error).message}\n`);
    return 2;
  }
  if (error instanceof RunsFailedError) {
    process.stderr.write(`pladder: ${error.message}\n`);
    return EXIT_RUNS_FAILED;
  }
  if (error instanceof DivergedError) {
    process.stderr.write(`pladder: ${error.message}\n`);
    return EXIT_DIVERGED;
  }
  if (error instanceof KernelError) {
    // Bad input or bad data is the user's to fix: the message says how; the traceback only helps us (PLADDER_DEBUG=1).
    const userFixable = error.python !== undefined && USER_FIXABLE.has(error.python.type);
    process.stderr.write(`pladder: ${userFixable && !process.env.PLADDER_DEBUG ? error.shortMessage : error.message}\n`);
    return userFixable ? 2 : EXIT_CODES[error.code];
  }
  process.stderr.write(`pladder: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

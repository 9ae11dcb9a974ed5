/** How the CLI ends on an error: a message a person can act on, and an exit code per kind of failure. */
import { KernelError, type KernelErrorCode } from '../bridge/index.js';
import { InputFileError } from '../experiments/yaml-file.js';
import { MissingRunsError, RunExistsError } from '../runs/experiment.js';
import { RecordError } from '../runs/record.js';

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

export function reportAndExitCode(error: unknown): number {
  if (error instanceof UsageError || error instanceof InputFileError || error instanceof RunExistsError || error instanceof MissingRunsError || error instanceof RecordError) {
    process.stderr.write(`pladder: ${error.message}\n`);
    return 2;
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

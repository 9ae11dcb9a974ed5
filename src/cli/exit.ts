/** How the CLI ends on an error: a message a person can act on, and an exit code per kind of failure. */
import { KernelError, type KernelErrorCode } from '../bridge/index.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const EXIT_CODES: Record<KernelErrorCode, number> = {
  PYTHON_EXCEPTION: 1,
  CALL_TIMEOUT: 1,
  KERNEL_EXITED: 1,
  KERNEL_STOPPED: 1,
  BAD_REPLY: 1,
  NO_PYTHON: 3,
  SLOW_BLAS: 4,
};

export function reportAndExitCode(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`pladder: ${error.message}\n`);
    return 2;
  }
  if (error instanceof KernelError) {
    process.stderr.write(`pladder: ${error.message}\n`);
    return EXIT_CODES[error.code];
  }
  process.stderr.write(`pladder: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

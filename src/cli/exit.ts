/** How the CLI ends on an error: a message a person can act on, and an exit code per kind of failure. */
import { KernelError, USER_FIXABLE_PYTHON_ERRORS, type KernelErrorCode } from '../bridge/index.js';
import { InputFileError } from '../experiments/yaml-file.js';
import { FigureFileError } from '../figures/figure-data.js';
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

/** Exit codes (the README lists them): 2 the user's input, 3 no usable Python, 4 a slow BLAS, 5 runs diverged,
 * 6 runs failed twice (the others completed), 130 stopped by SIGINT, 143 by SIGTERM, 1 anything else. */
export const EXIT_DIVERGED = 5;
export const EXIT_RUNS_FAILED = 6;

const USER_ERRORS = [UsageError, SlurmError, InputFileError, RunExistsError, MissingRunsError, RecordError, RunLockedError, RunDirectoryError, JobInputError, ReportError, FigureFileError];

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
    // Its message names the file or field and the fix; which kernel call found it is ours to know (PLADDER_DEBUG=1).
    const userFixable = error.python !== undefined && USER_FIXABLE_PYTHON_ERRORS.has(error.python.type);
    process.stderr.write(`pladder: ${userFixable && !process.env.PLADDER_DEBUG ? error.python!.message : error.message}\n`);
    return userFixable ? 2 : EXIT_CODES[error.code];
  }
  const refused = fileSystemRefusal(error);
  if (refused && !process.env.PLADDER_DEBUG) {
    process.stderr.write(`pladder: ${refused.message}\n`);
    return refused.exitCode;
  }
  process.stderr.write(`pladder: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

/** What the file system said, for a person: a path it would not read or write (a folder of theirs that is a file or
 * not theirs to write, a full disk or quota: theirs to fix, exit 2, as the kernel's StorageError). The stack trace only
 * helps us (PLADDER_DEBUG=1). */
const FILE_SYSTEM_REFUSALS: Record<string, string> = {
  EACCES: 'permission denied; give a path this user can write to',
  EPERM: 'operation not permitted; give a path this user can write to',
  EROFS: 'the file system is read-only; give a path on a writable disk',
  ENOTDIR: 'part of this path is a file, not a folder',
  EISDIR: 'this is a folder, where a file was expected',
  ENOENT: 'no such file or folder',
  EEXIST: 'a file is in the way of a folder of that name',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
};

function fileSystemRefusal(error: unknown): { message: string; exitCode: number } | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  const meaning = code === undefined ? undefined : FILE_SYSTEM_REFUSALS[code];
  if (!meaning || !syscall || !path) return undefined;
  return { message: `${path}: ${meaning} (${syscall}: ${code})`, exitCode: 2 };
}

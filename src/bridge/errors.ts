/** Errors of the bridge. Each carries a stable `code` the CLI maps to exit paths, and everything needed to understand
 * the failure (the call, the device, Python's type and traceback). `shortMessage` is one line; `message` is whole. */

export type KernelErrorCode =
  | 'PYTHON_EXCEPTION' // Python raised: type, message and traceback are attached
  | 'CALL_TIMEOUT' // the call ran past its timeout; the kernel was stopped
  | 'KERNEL_EXITED' // the Python process ended while a call was in flight (crash, OOM kill, signal)
  | 'KERNEL_STOPPED' // a call was made to a kernel after stop()
  | 'BAD_ARGUMENTS' // the arguments of a call did not match its declared schema (nothing was sent)
  | 'BAD_REPLY' // Python's reply did not match the call's schema
  | 'SLOW_BLAS' // torch on the CPU runs on the reference BLAS: training would be an order of magnitude slower
  | 'NO_PYTHON'; // no interpreter with torch, torchvision, numpy and scipy was found

/** Python's exceptions whose message is for a person (py_kernels/errors.py): a refused input (KernelInputError), bad data
 * (DataError), a file the disk would not take (StorageError). Each fails the same way every time it is tried: exit 2,
 * the message without the traceback, never retried. */
export const USER_FIXABLE_PYTHON_ERRORS: ReadonlySet<string> = new Set(['KernelInputError', 'DataError', 'StorageError']);

export interface PythonExceptionInfo {
  type: string;
  module: string;
  message: string;
  traceback: string;
}

export class KernelError extends Error {
  override readonly name = 'KernelError';
  readonly code: KernelErrorCode;
  readonly call: string | undefined;
  readonly device: string | undefined;
  readonly python: PythonExceptionInfo | undefined;
  readonly shortMessage: string;

  constructor(
    code: KernelErrorCode,
    shortMessage: string,
    details: { call?: string; device?: string; python?: PythonExceptionInfo; cause?: unknown; hint?: string } = {},
  ) {
    const lines = [shortMessage];
    if (details.hint) lines.push(details.hint);
    if (details.python) lines.push('', details.python.traceback.trimEnd());
    super(lines.join('\n'), { cause: details.cause });
    this.code = code;
    this.shortMessage = shortMessage;
    this.call = details.call;
    this.device = details.device;
    this.python = details.python;
  }
}

/** The typed bridge to the PyTorch kernels: one Python process per device, typed calls, binary tensors. */
import { Kernel, type KernelOptions } from './kernel.js';

export { calls, type CallArgs, type CallName, type CallResult, type DatasetReport, type DType, type EpochMetrics, type TensorMeta } from './calls.js';
export { KernelError, USER_FIXABLE_PYTHON_ERRORS, type KernelErrorCode, type PythonExceptionInfo } from './errors.js';
export { callTimeoutProblem, DEFAULT_CALL_TIMEOUT_MS, isSlowBlas, Kernel, SLOW_BLAS_GFLOPS, type CallOptions, type KernelInfo, type KernelOptions } from './kernel.js';
export { pullTensor, pushTensor, type Tensor } from './tensor.js';
export { isNonFinite, toNumber, type NonFinite, type ProgressEvent, type Real } from './wire.js';

const kernels = new Map<string, Kernel>();

/** The one kernel of a device (created on first request, its process started on first call). */
export function kernelFor(device = 'auto', options: Omit<KernelOptions, 'device'> = {}): Kernel {
  let kernel = kernels.get(device);
  if (!kernel) {
    kernel = new Kernel({ ...options, device });
    kernels.set(device, kernel);
  }
  return kernel;
}

export async function stopAllKernels(): Promise<void> {
  await Promise.all([...kernels.values()].map((kernel) => kernel.stop()));
  kernels.clear();
}

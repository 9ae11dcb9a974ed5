/** Tensors between the kernel and TypeScript by the binary path: raw little-endian bytes in a file, never JSON. */
import { closeSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DType } from './calls.js';
import { KernelError } from './errors.js';
import type { Kernel } from './kernel.js';

export interface TypedArrays {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
}

export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: TypedArrays[D];
}

const constructors = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
} as const;

/** Copies the kernel's tensor `name` into a typed array. The kernel says where it wrote the bytes and how many: a file
 * outside this kernel's exchange folder is neither read nor removed, and the count must be the shape's. */
export async function pullTensor(kernel: Kernel, name: string): Promise<Tensor> {
  const meta = await kernel.call('tensor_export', { name });
  const exchange = await kernel.exchangeDir;
  const inside = path.relative(exchange, path.resolve(meta.path));
  if (!inside || inside.startsWith('..') || path.isAbsolute(inside)) {
    throw new KernelError('BAD_REPLY', `Kernel call 'tensor_export' wrote tensor '${name}' to ${meta.path}, outside the kernel's exchange folder ${exchange}; it was neither read nor removed`, { call: 'tensor_export' });
  }
  const expected = meta.shape.reduce((a, b) => a * b, 1) * constructors[meta.dtype].BYTES_PER_ELEMENT;
  if (meta.bytes !== expected) {
    rmSync(meta.path, { force: true });
    throw new KernelError('BAD_REPLY', `Kernel call 'tensor_export' gave tensor '${name}' as ${meta.bytes} bytes, but ${meta.dtype} of shape [${meta.shape.join(', ')}] is ${expected}`, { call: 'tensor_export' });
  }
  try {
    const buffer = readWhole(meta.path, meta.bytes);
    const data = new constructors[meta.dtype](buffer);
    return { dtype: meta.dtype, shape: meta.shape, data } as Tensor;
  } finally {
    rmSync(meta.path, { force: true });
  }
}

/** Copies a typed array into the kernel as tensor `name` (on the kernel's device). */
export async function pushTensor(kernel: Kernel, name: string, tensor: Tensor): Promise<void> {
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (count !== tensor.data.length) {
    throw new RangeError(`tensor '${name}': shape [${tensor.shape.join(', ')}] holds ${count} values but data has ${tensor.data.length}`);
  }
  const file = path.join(await kernel.exchangeDir, `in-${name.replace(/[^\w-]/g, '_')}-${Date.now()}.bin`);
  writeFileSync(file, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  try {
    await kernel.call('tensor_import', { name, path: file, shape: tensor.shape, dtype: tensor.dtype });
  } finally {
    rmSync(file, { force: true });
  }
}

function readWhole(file: string, bytes: number): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes);
  const view = new Uint8Array(buffer);
  const fd = openSync(file, 'r');
  try {
    let offset = 0;
    while (offset < bytes) {
      const read = readSync(fd, view, offset, bytes - offset, null);
      if (read === 0) throw new Error(`${file}: ended after ${offset} of ${bytes} bytes`);
      offset += read;
    }
  } finally {
    closeSync(fd);
  }
  return buffer;
}

/** Every call across the bridge, declared once: its keyword arguments and the schema of its value.
 * The names and argument keys are py_kernels/api.py's; the result types are what TypeScript sees. */
import { z } from 'zod';
import { realSchema } from './wire.js';

export const dtypeSchema = z.enum(['float32', 'float64', 'int32', 'int64', 'uint8']);
export type DType = z.infer<typeof dtypeSchema>;

const shapeSchema = z.array(z.number().int().nonnegative());

export const tensorMetaSchema = z.object({
  name: z.string(),
  shape: shapeSchema,
  dtype: dtypeSchema,
  device: z.string(),
});
export type TensorMeta = z.infer<typeof tensorMetaSchema>;

const deviceInfoSchema = z.object({
  python: z.string(),
  python_version: z.string(),
  torch: z.string(),
  torchvision: z.string().nullable(),
  device: z.string(),
  threads: z.number().int().positive(),
  blas: z.string(),
  cuda_available: z.boolean(),
  cuda_name: z.string().nullable(),
  cuda_memory_bytes: z.number().int().nullable(),
});

function declare<A extends z.ZodType, R extends z.ZodType>(args: A, result: R) {
  return { args, result };
}

export const calls = {
  start: declare(
    z.object({ device: z.string(), threads: z.number().int().positive().nullable(), exchange_dir: z.string() }),
    deviceInfoSchema.extend({ pid: z.number().int(), matmul_gflops: z.number().nullable() }),
  ),
  ping: declare(z.object({}), z.object({ pid: z.number().int(), time: z.number() })),
  environment: declare(
    z.object({ measure_matmul: z.boolean() }),
    deviceInfoSchema.extend({ matmul_gflops: z.number().nullable(), slow_blas_below_gflops: z.number() }),
  ),
  tensor_random: declare(
    z.object({ name: z.string(), shape: shapeSchema, dtype: dtypeSchema, seed: z.number().int() }),
    tensorMetaSchema,
  ),
  tensor_import: declare(
    z.object({ name: z.string(), path: z.string(), shape: shapeSchema, dtype: dtypeSchema }),
    tensorMetaSchema,
  ),
  tensor_export: declare(
    z.object({ name: z.string() }),
    tensorMetaSchema.extend({ path: z.string(), bytes: z.number().int().nonnegative() }),
  ),
  tensor_sha256: declare(z.object({ name: z.string() }), z.string().regex(/^[0-9a-f]{64}$/)),
  tensor_drop: declare(z.object({ name: z.string() }), z.null()),
  diagnostic_nonfinite: declare(
    z.object({}),
    z.object({
      nan: realSchema,
      inf: realSchema,
      minus_inf: realSchema,
      finite: realSchema,
      numpy: realSchema,
      nested: z.tuple([z.object({ loss: realSchema }), z.array(realSchema)]),
    }),
  ),
  diagnostic_raise: declare(z.object({ message: z.string() }), z.null()),
  diagnostic_sleep: declare(z.object({ seconds: z.number().nonnegative() }), z.object({ slept: z.number() })),
} as const;

export type Calls = typeof calls;
export type CallName = keyof Calls;
export type CallArgs<N extends CallName> = z.input<Calls[N]['args']>;
export type CallResult<N extends CallName> = z.output<Calls[N]['result']>;

/** Every call across the bridge, declared once: its keyword arguments and the schema of its value.
 * The names and argument keys are py_kernels/api.py's; the result types are what TypeScript sees. */
import { z } from 'zod';
import { convLadderModelSchema, ladderModelSchema } from '../spec/experiment.js';
import { kernelModelSchema, kernelTrainingSchema } from '../spec/kernel.js';
import { datasetNameSchema, splitSchema, viewOptionsSchema, viewSchema } from '../spec/names.js';
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
  /** Which version of the CPU step's element-wise work runs: "C kernels (path)" or "torch ops: why". */
  fused_ops: z.string(),
  cuda_available: z.boolean(),
  /** The CUDA devices this process can see (CUDA_VISIBLE_DEVICES applied): what `--devices` defaults to. */
  cuda_device_count: z.number().int().nonnegative(),
  cuda_name: z.string().nullable(),
  cuda_memory_bytes: z.number().int().nullable(),
});


export const datasetReportSchema = z.object({
  name: datasetNameSchema,
  location: z.string(),
  found: z.boolean(),
  files: z.array(
    z.object({
      path: z.string(),
      bytes: z.number().int().nullable(),
      md5: z.string().nullable(),
      checksum: z.enum(['official', 'unofficial', 'mismatch', 'missing']),
    }),
  ),
  counts: z.object({ train: z.number().int().nullable(), test: z.number().int().nullable() }),
  train_label_counts: z.array(z.number().int()).nullable(),
  cache: z.record(z.string(), z.boolean()),
  errors: z.array(z.string()),
});
export type DatasetReport = z.infer<typeof datasetReportSchema>;

const dataLocation = { data_dir: z.string(), cache_dir: z.string().nullable() };

/** A model's input in the kernel: one tensor's name, or {view: name} for a model whose columns read several views. */
const inputTensorsSchema = z.union([z.string(), z.partialRecord(viewSchema, z.string())]);

/** How a benchmark trains its seeds: one seed's own trainer alone, K seeds as one batched network, or K seeds' own
 * trainers stepped by the kernel's threads. */
const seedsTrainedSchema = z.enum(['alone', 'batched_network', 'seed_threads']);

export const epochMetricsSchema = z.object({
  epoch: z.number().int().positive(),
  lr: z.number(),
  iterations: z.number().int(),
  seconds: z.number(),
  examples_per_s: z.number(),
  loss_total: realSchema.nullable(),
  loss_supervised: realSchema.nullable(),
  /** Unweighted denoising cost per layer, input first (ladder only). */
  loss_denoising: z.array(realSchema.nullable()).optional(),
  test_accuracy: z.number(),
  test_error: z.number(),
  test_examples: z.number().int(),
  /** On the images held out of the pool (null without a validation set): what stopping and source matching read. */
  validation_accuracy: z.number().nullable().default(null),
  validation_error: z.number().nullable().default(null),
  validation_examples: z.number().int().default(0),
  train_seconds: z.number(),
  eval_seconds: z.number(),
  /** Wall time inside the kernel call (training, evaluation, checkpoint). */
  kernel_seconds: z.number(),
  /** Trained together with this many seeds (--batch-seeds); the times are the group's. Absent: a run of its own. */
  seeds_batched: z.number().int().optional(),
  /** The group's seeds were each trained by their own single-seed trainer, stepped by this many threads of one CPU
   * kernel (py_kernels/seed_threads.py). Absent: as one batched network, or a run of its own. */
  seed_threads: z.number().int().optional(),
});
export type EpochMetrics = z.infer<typeof epochMetricsSchema>;

function declare<A extends z.ZodType, R extends z.ZodType>(args: A, result: R) {
  return { args, result };
}

export const calls = {
  start: declare(
    z.object({ device: z.string(), threads: z.number().int().positive().nullable(), exchange_dir: z.string() }),
    deviceInfoSchema.extend({ pid: z.number().int(), matmul_gflops: z.number().nullable() }),
  ),
  ping: declare(z.object({}), z.object({ pid: z.number().int(), time: z.number() })),
  /** The calls py_kernels/api.py has registered (a test holds them equal to this table). */
  api_calls: declare(z.object({}), z.array(z.string())),
  environment: declare(
    z.object({ measure_matmul: z.boolean() }),
    deviceInfoSchema.extend({ matmul_gflops: z.number().nullable() }),
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
  data_describe: declare(z.object({ name: datasetNameSchema, ...dataLocation }), datasetReportSchema),
  /** view_options: what a view computed by a frozen network needs (model_describe's `views`), else null. */
  data_load: declare(
    z.object({ name: datasetNameSchema, split: splitSchema, view: viewSchema, ...dataLocation, store_as: z.string(), view_options: viewOptionsSchema.nullable().default(null) }),
    z.object({ x: tensorMetaSchema, y: tensorMetaSchema, label_counts: z.array(z.number().int()), seconds: z.number() }),
  ),
  /** A run's share of a training split: the pool (a range of indices), validation images held out of it (balanced,
   * by the seed), and the balanced labeled set from the rest (null: all of it labeled). Tensors of int64 indices. */
  data_pool_split: declare(
    z.object({
      labels: z.string(),
      pool: z.object({ start: z.number().int().nonnegative(), stop: z.number().int().positive() }).nullable(),
      validation: z.number().int().nonnegative(),
      labeled: z.number().int().positive().nullable(),
      seed: z.number().int().nonnegative(),
      store_as: z.string(),
    }),
    z.object({
      train: z.string(),
      labeled: z.string(),
      validation: z.string().nullable(),
      counts: z.object({ pool: z.number().int(), train: z.number().int(), labeled: z.number().int(), validation: z.number().int() }),
      per_class: z.array(z.number().int()),
    }),
  ),
  data_contact_sheet: declare(
    z.object({ name: datasetNameSchema, split: splitSchema, count: z.number().int().positive(), out_png: z.string(), data_dir: z.string(), seed: z.number().int() }),
    z.object({ path: z.string(), indices: z.array(z.number().int()), labels: z.array(z.number().int()) }),
  ),
  data_download_svhn: declare(
    z.object({ dest_dir: z.string(), split: splitSchema, url: z.string().nullable().default(null), md5: z.string().nullable().default(null) }),
    z.object({ path: z.string() }),
  ),
  /** What a model needs and trains on: the data view to load, its objective (which trainer), its layers' shapes. */
  model_describe: declare(
    z.object({ model: kernelModelSchema }),
    z.object({
      architecture: z.string(),
      objective: z.enum(['ladder', 'supervised']),
      input_view: viewSchema,
      /** Every view the model's columns read, each with the options it is computed with (several: x by view). */
      views: z.array(z.object({ view: viewSchema, options: viewOptionsSchema.nullable() })).min(1),
      layer_shapes: z.array(z.array(z.number().int().positive())),
    }),
  ),
  run_create: declare(
    z.object({
      run_id: z.string(),
      model: kernelModelSchema,
      training: kernelTrainingSchema,
      seed: z.number().int().nonnegative(),
      /** train: the pool's training indices (a ladder's unlabeled set), labeled: its labeled subset, validation: held out.
       * train_x, test_x: one tensor, or {view: tensor} when the model's columns read several views. */
      tensors: z.object({ train_x: inputTensorsSchema, train_y: z.string(), train: z.string(), labeled: z.string(), validation: z.string().nullable(), test_x: inputTensorsSchema, test_y: z.string() }),
      test_limit: z.number().int().positive().nullable(),
    }),
    z.object({
      run_id: z.string(),
      parameters: z.number().int(),
      labeled: z.number().int(),
      unlabeled: z.number().int(),
      validation: z.number().int(),
      /** What every result of the run must say, e.g. that an AlexNet column's weights are random, not ImageNet's. */
      notes: z.array(z.string()),
    }),
  ),
  run_epoch: declare(z.object({ run_id: z.string(), checkpoint_path: z.string().nullable() }), epochMetricsSchema),
  /** Whether the seeds of a model can train together on a kernel of this device type (the rule run_group_create
   * applies, asked when the jobs are planned); reason: why not. */
  run_group_support: declare(
    z.object({ model: kernelModelSchema, training: kernelTrainingSchema, device: z.enum(['cpu', 'cuda']) }),
    z.object({ together: z.boolean(), reason: z.string().nullable() }),
  ),
  /** Seeds of one experiment trained together: as one batched network (fc ladder, MLP, fc progressive), or on the CPU
   * (a kernel of several threads, or a conv model) each by its own trainer in threads; each seed's split, metrics and
   * checkpoint its own. */
  run_group_create: declare(
    z.object({
      group_id: z.string(),
      /** Per seed (a progressive network's sources are that seed's own). */
      models: z.array(kernelModelSchema).min(2),
      training: kernelTrainingSchema,
      seeds: z.array(z.number().int().nonnegative()).min(2),
      tensors: z.object({ train_x: z.string(), train_y: z.string(), test_x: z.string(), test_y: z.string() }),
      /** Per seed, data_pool_split's indices for that seed. */
      splits: z.array(z.object({ train: z.string(), labeled: z.string(), validation: z.string().nullable() })).min(2),
      test_limit: z.number().int().positive().nullable(),
    }),
    z.object({
      group_id: z.string(),
      seeds: z.array(z.number().int()),
      parameters: z.number().int(),
      labeled: z.array(z.number().int()),
      unlabeled: z.array(z.number().int()),
      validation: z.number().int(),
      /** How the seeds train: as one batched network, or each its own trainer stepped by `threads` CPU threads. */
      trained_as: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('batched_network') }),
        z.object({ kind: z.literal('seed_threads'), threads: z.number().int().positive() }),
      ]),
    }),
  ),
  /** One epoch of every seed; checkpoint_paths[k] null: seed k's checkpoint is not written (its run has ended). */
  run_group_epoch: declare(z.object({ group_id: z.string(), checkpoint_paths: z.array(z.string().nullable()) }), z.array(epochMetricsSchema)),
  run_group_load_checkpoints: declare(
    z.object({ group_id: z.string(), paths: z.array(z.string()) }),
    z.object({ epoch: z.number().int().nonnegative(), last_metrics: z.array(epochMetricsSchema.omit({ kernel_seconds: true }).nullable()) }),
  ),
  run_group_export: declare(
    z.object({ group_id: z.string(), index: z.number().int().nonnegative(), model_path: z.string(), column_path: z.string() }),
    z.object({ model: z.string(), column: z.string() }),
  ),
  run_group_close: declare(z.object({ group_id: z.string() }), z.null()),
  run_load_checkpoint: declare(
    z.object({ run_id: z.string(), path: z.string() }),
    z.object({ epoch: z.number().int().nonnegative(), last_metrics: epochMetricsSchema.omit({ kernel_seconds: true }).nullable() }),
  ),
  run_export: declare(
    z.object({ run_id: z.string(), model_path: z.string(), column_path: z.string() }),
    z.object({ model: z.string(), column: z.string() }),
  ),
  run_weights_sha256: declare(z.object({ run_id: z.string(), prefix: z.string().optional() }), z.string().regex(/^[0-9a-f]{64}$/)),
  run_scalars: declare(z.object({ run_id: z.string(), suffix: z.string() }), z.record(z.string(), z.number())),
  run_column_check: declare(
    z.object({ run_id: z.string(), column_path: z.string(), x: z.string() }),
    z.object({ layers: z.number().int(), max_abs_difference: z.array(z.number()) }),
  ),
  run_path_determinism: declare(
    z.object({ run_id: z.string(), x: z.string() }),
    z.object({ clean_identical: z.boolean(), corrupted_max_abs_difference: z.number() }),
  ),
  run_close: declare(z.object({ run_id: z.string() }), z.null()),
  /** A finished run's network from its model.pt (safe-loaded), held under run_id for analysis. */
  run_load_model: declare(
    z.object({ run_id: z.string(), model: kernelModelSchema, model_path: z.string() }),
    z.object({ run_id: z.string(), architecture: z.string(), parameters: z.number().int(), tensors: z.number().int() }),
  ),
  /** Test accuracy with Gaussian noise after layer `layer` (post-ReLU) of column `column`, for each site's variances
   * and `draws` seeded draws each; the accuracies as a (sites, levels, draws) float32 tensor (NaN-padded). */
  aps_accuracy: declare(
    z.object({
      run_id: z.string(),
      /** One tensor, or {view: tensor} when the network's columns read several views. */
      x: inputTensorsSchema,
      y: z.string(),
      /** The first N test examples only (null: all of them). */
      limit: z.number().int().positive().nullable(),
      sites: z.array(z.object({ column: z.number().int().nonnegative(), layer: z.number().int().nonnegative() })).min(1),
      variances: z.array(z.array(z.number().nonnegative())),
      draws: z.number().int().positive(),
      seed: z.number().int().nonnegative(),
      scale: z.enum(['raw', 'relative']),
      store_as: z.string(),
    }),
    z.object({
      accuracy: tensorMetaSchema,
      clean_accuracy: z.number(),
      reaches_output: z.array(z.boolean()),
      /** Per site: each unit's population std of its clean output, summarised. */
      activation_std: z.array(z.object({ mean: z.number(), min: z.number(), max: z.number(), zero_units: z.number().int(), units: z.number().int() })),
      examples: z.number().int(),
      computed: z.number().int(),
      seconds: z.number(),
    }),
  ),
  bench_plain_ladder: declare(
    z.object({ x: z.string(), y: z.string(), labeled: z.string(), iterations: z.number().int().positive(), model: ladderModelSchema, learning_rate: z.number().positive() }),
    z.object({ seconds_per_iteration: z.number() }),
  ),
  bench_ladder_step: declare(
    z.object({
      x: z.string(),
      y: z.string(),
      labeled: z.string(),
      model: ladderModelSchema,
      training: kernelTrainingSchema,
      iterations: z.number().int().positive(),
      rounds: z.number().int().positive(),
    }),
    z.object({
      iterations: z.number().int(),
      rounds: z.number().int(),
      step_seconds: z.number(),
      matmul_seconds: z.number(),
      /** The step's normal draws alone, as many values from torch's generator. */
      draw_seconds: z.number(),
      /** One Adam update of parameters of the model's shapes, alone. */
      adam_seconds: z.number(),
      /** The same steps with the torch ops instead of the C kernels (null where those do not run). */
      torch_ops_seconds: z.number().nullable(),
      /** step / products */
      ratio: z.number(),
      /** (products + draws + Adam) / products: the least the step can cost while its noise stream and fp32 Adam stay */
      floor_ratio: z.number(),
      gflop_per_step: z.number(),
      matmul_gflops: z.number(),
      products_per_step: z.number().int(),
      draws_per_step: z.number().int(),
      values_drawn_per_step: z.number().int(),
      parameters: z.number().int(),
    }),
  ),
  bench_native_step: declare(
    z.object({
      x: z.string(),
      y: z.string(),
      labeled: z.string(),
      model: z.discriminatedUnion('architecture', [ladderModelSchema, convLadderModelSchema]),
      training: kernelTrainingSchema,
      iterations: z.number().int().positive(),
      rounds: z.number().int().positive(),
    }),
    z.object({
      iterations: z.number().int(),
      rounds: z.number().int(),
      step_seconds: z.number(),
      torch_ops_seconds: z.number().nullable(),
      /** The thread pool the model's step gets the kernel's threads in (py_kernels/cpu_threads.py); null where there is
       * no choice. */
      pool: z.enum(['blas', 'torch']).nullable(),
      /** The same steps with the threads in the other pool (null where there is no choice). */
      other_pool_seconds: z.number().nullable(),
    }),
  ),
  bench_seeds_ladder: declare(
    z.object({
      x: z.string(),
      y: z.string(),
      model: ladderModelSchema,
      training: kernelTrainingSchema,
      seeds: z.number().int().positive(),
      how: seedsTrainedSchema,
      iterations: z.number().int().positive(),
    }),
    z.object({
      seeds: z.number().int(),
      how: seedsTrainedSchema,
      iterations: z.number().int(),
      seconds_per_iteration: z.number(),
      examples_per_second: z.number(),
      examples: z.number().int(),
      started: z.number(),
      ended: z.number(),
    }),
  ),
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
  diagnostic_crash: declare(z.object({ how: z.enum(['kill', 'exit']) }), z.null()),
  diagnostic_raise: declare(z.object({ message: z.string() }), z.null()),
  diagnostic_sleep: declare(z.object({ seconds: z.number().nonnegative() }), z.object({ slept: z.number() })),
} as const;

export type Calls = typeof calls;
export type CallName = keyof Calls;
export type CallArgs<N extends CallName> = z.input<Calls[N]['args']>;
export type CallResult<N extends CallName> = z.output<Calls[N]['result']>;

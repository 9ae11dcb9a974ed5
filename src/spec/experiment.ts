/** The experiment file, as zod schemas that are also the TypeScript types. Defaults are explicit here and nowhere
 * else; every object is strict, so a misspelt key is an error rather than a silently ignored setting. */
import { z } from 'zod';
import { CLASSES, datasetNameSchema, outputProblem } from './names.js';
import { channelsSchema, CONV_SMALL_CHANNELS, DEFAULT_WIDTHS, flatInputWidthsSchema, progressiveModelSchema } from './progressive.js';

export { CLASSES, DATASETS } from './names.js';

/** A whole network's layer sizes end with its output, one unit per class; `example` is shown with the problem. */
const classesLast = (example: readonly number[]) => (sizes: number[], ctx: z.RefinementCtx) => {
  const problem = outputProblem(sizes.at(-1)!);
  if (problem) ctx.addIssue({ code: 'custom', message: `the last layer is the output and ${problem}, e.g. [${example.join(', ')}]` });
};

/** A whole network's widths (a ladder's, an MLP's): it reads flat784 and its last layer is the classes' logits. */
const networkWidthsSchema = flatInputWidthsSchema.superRefine(classesLast(DEFAULT_WIDTHS));

export const ladderModelSchema = z
  .strictObject({
    architecture: z.literal('ladder'),
    widths: networkWidthsSchema.default(DEFAULT_WIDTHS),
    /** Std of the Gaussian noise on the input and on every normalised pre-activation of the corrupted path. */
    noise_std: z.number().nonnegative().default(0.3),
    /** lambda_l of the denoising cost, input layer first (the paper's and Rasmus et al.'s values). */
    denoising_weights: z.array(z.number().nonnegative()).default([1000, 10, 0.1, 0.1, 0.1, 0.1, 0.1]),
    /** The Gamma-model: denoising cost on the top layer only. */
    gamma_only: z.boolean().default(false),
  })
  .refine((model) => model.denoising_weights.length === model.widths.length, {
    path: ['denoising_weights'],
    message: 'needs one weight per layer, as many as `widths` has entries',
  });

/** The convolutional Gamma-model (Rasmus et al. 2015): a ladder on Conv-Small whose only decoder layer and denoising
 * cost are at the top (py_kernels/models/conv_ladder.py). Its clean encoder is a 'conv' column. */
export const convLadderModelSchema = z.strictObject({
  architecture: z.literal('conv_ladder'),
  channels: channelsSchema.superRefine(classesLast(CONV_SMALL_CHANNELS)).default(CONV_SMALL_CHANNELS),
  /** Std of the Gaussian noise on the input and on every normalised pre-activation of the corrupted path. */
  noise_std: z.number().nonnegative().default(0.3),
  /** lambda of the top layer's denoising cost, the only one (the reference's `--denoising-cost-x 0,...,0,1`). */
  denoising_weight: z.number().nonnegative().default(1),
});

export const mlpModelSchema = z.strictObject({
  architecture: z.literal('mlp'),
  widths: networkWidthsSchema.default(DEFAULT_WIDTHS),
});

export const modelSchema = z.discriminatedUnion('architecture', [ladderModelSchema, convLadderModelSchema, mlpModelSchema, progressiveModelSchema]);

/** A half-open range of training-set indices. MNIST-M train image i is MNIST train digit i, so sources and targets
 * that draw from disjoint ranges never share a digit. */
export const poolSchema = z
  .strictObject({ start: z.int().nonnegative(), stop: z.int().positive() })
  .refine((pool) => pool.start < pool.stop, { path: ['stop'], message: 'must be greater than start (the range is [start, stop))' });
export type Pool = z.output<typeof poolSchema>;

export const dataSchema = z
  .strictObject({
    dataset: datasetNameSchema,
    /** Labeled training examples (of the pool, validation excluded), balanced across the classes; null: every one. */
    labels: z.int().positive().nullable().default(100),
    /** The training images this experiment may use, e.g. {start: 0, stop: 29500}; null: the whole training set. */
    pool: poolSchema.nullable().default(null),
    /** Images of the pool held out (balanced over the classes, chosen by the seed) to stop on and to match sources by;
     * the test set is only ever reported. */
    validation: z.int().nonnegative().default(0),
  })
  .refine((data) => data.labels === null || data.labels % CLASSES === 0, {
    path: ['labels'],
    message: `must be divisible by the ${CLASSES} classes (the labeled set is balanced: labels/${CLASSES} per class)`,
  })
  .refine((data) => data.validation % CLASSES === 0, {
    path: ['validation'],
    message: `must be divisible by the ${CLASSES} classes (the validation set is balanced: validation/${CLASSES} per class)`,
  });

export const trainingSchema = z.strictObject({
  epochs: z.int().positive(),
  iterations_per_epoch: z.int().positive().default(600),
  labeled_batch: z.int().positive().default(100),
  unlabeled_batch: z.int().positive().default(100),
  learning_rate: z.number().positive().default(0.002),
  /** The learning rate decays linearly to 0 over this last fraction of the epochs. */
  decay_fraction: z.number().min(0).max(1).default(1 / 3),
  /** Stop once the accuracy on the held-out validation images reaches this (the paper trains both sources to the same
   * accuracy). Never the test accuracy: the test set is for reporting alone. */
  stop_at_validation_accuracy: z.number().gt(0).lte(1).nullable().default(null),
  /** Test-time batch-norm statistics. null: the running averages of the last ~10 batches (CuriousAI's); N: after every
   * epoch, each layer's mean and variance over the first N images of the training pool (a conv column's running
   * averages missed badly enough to halve one run's test accuracy; docs/results.md). */
  population_statistics: z.int().positive().nullable().default(null),
});

export const quickSchema = z.strictObject({
  epochs: z.int().positive().default(2),
  iterations_per_epoch: z.int().positive().default(20),
  /** Evaluate on the first N test examples only. */
  test_subset: z.int().positive().default(2000),
});

/** The longest experiment name: a file name is at most 255 bytes, and the run folder adds the variant suffix. */
export const EXPERIMENT_NAME_MAX = 100;

export const experimentSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-" only (it names the run folder)')
      .max(EXPERIMENT_NAME_MAX, `at most ${EXPERIMENT_NAME_MAX} characters (it names the run folder, with room for a variant such as -epochs10-labels1000-quick within the file system's 255)`),
    description: z.string().default(''),
    model: modelSchema,
    data: dataSchema,
    training: trainingSchema,
    seeds: z.array(z.int().nonnegative()).min(1)
      .refine((seeds) => new Set(seeds).size === seeds.length, 'a seed is named twice; each seed is one run, name each once (e.g. [1, 2, 3])')
      .default([1]),
    /** What `--quick` changes: a run of the whole pipeline in a minute. */
    quick: quickSchema.prefault({}),
  })
  .refine((experiment) => experiment.training.stop_at_validation_accuracy === null || experiment.data.validation > 0, {
    path: ['training', 'stop_at_validation_accuracy'],
    message: 'stops on validation accuracy, so data.validation must hold out some images (e.g. validation: 1000)',
  });

export type Experiment = z.output<typeof experimentSchema>;
export type ExperimentInput = z.input<typeof experimentSchema>;
export type ModelConfig = z.output<typeof modelSchema>;
export type LadderModelConfig = z.output<typeof ladderModelSchema>;
export type DataConfig = z.output<typeof dataSchema>;
export type TrainingConfig = z.output<typeof trainingSchema>;

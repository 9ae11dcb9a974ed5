/** The progressive network as an experiment describes it: columns, lateral connections and their adapters. */
import { z } from 'zod';

/** The ladder's widths (Rasmus et al.): 784 inputs, five hidden layers, 10 classes. The one default for every
 * fully-connected network. */
export const DEFAULT_WIDTHS = [784, 1000, 500, 250, 250, 250, 10];

/** Input width first, classes last. */
export const widthsSchema = z.array(z.int().positive()).min(2);

/** Where a lateral's output enters the target layer: `pre_norm` into W h before the layer's batch norm (which
 * rescales the sum), `post_norm` after it, into BN(W h) + beta before the activation (Rusu et al.). In a column without
 * batch norm the two are the same. */
const placement = z.enum(['pre_norm', 'post_norm']).default('pre_norm');

export const adapterSchema = z.discriminatedUnion('kind', [
  /** The paper: a learnable scalar alpha times a learned projection, U (alpha h). */
  z.strictObject({ kind: z.literal('scalar'), alpha_init: z.number().default(0.1), placement }),
  /** Rusu et al. 2016: U relu(V (alpha h)), V reducing the dimension to `reduced` units. */
  z.strictObject({ kind: z.literal('rusu'), alpha_init: z.number().default(0.1), reduced: z.int().positive().default(64), placement }),
  /** The ablation of the paper's Figure 7: a plain projection U h, no scalar. */
  z.strictObject({ kind: z.literal('none'), placement }),
]);
export type Adapter = z.output<typeof adapterSchema>;

export const columnWeightsSchema = z.discriminatedUnion('from', [
  /** Fresh weights, initialised from the run's seed. */
  z.strictObject({ from: z.literal('init') }),
  /** A trained column of another experiment (trained first if needed, else reused from the source cache). */
  z.strictObject({
    from: z.literal('source'),
    /** The source experiment's file, relative to this experiment's file. */
    experiment: z.string(),
    /** The source's seed; by default the run's own (target seed s uses source seed s), so that the spread over seeds
     * includes the sources' randomness. */
    seed: z.int().nonnegative().optional(),
  }),
  /** A column.pt written by an earlier run. */
  z.strictObject({ from: z.literal('file'), path: z.string() }),
]);
export type ColumnWeights = z.output<typeof columnWeightsSchema>;

export const columnSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, "_" and "-" only'),
  /** The column's network, from the kernels' column registry ('fc': the fully-connected batch-normalised encoder). */
  architecture: z.literal('fc').default('fc'),
  widths: widthsSchema.default(DEFAULT_WIDTHS),
  weights: columnWeightsSchema.default({ from: 'init' }),
  /** Frozen: no gradients, batch-norm statistics fixed, weights untouched. */
  frozen: z.boolean().default(false),
  /** false: the column's layers have no batch norm (the author's code's target column); only for fresh weights. */
  batch_norm: z.boolean().default(true),
});
export type Column = z.output<typeof columnSchema>;

export const layerRefSchema = z.strictObject({ column: z.string(), layer: z.int().nonnegative() });

export const lateralSchema = z.strictObject({
  from: layerRefSchema,
  to: layerRefSchema,
  /** Default: the model's `adapter`. */
  adapter: adapterSchema.optional(),
});
export type Lateral = z.output<typeof lateralSchema>;

export const progressiveModelSchema = z.strictObject({
  architecture: z.literal('progressive'),
  /** In order; the last column is the one trained on the target. */
  columns: z.array(columnSchema).min(1),
  /** 'all': from every hidden layer l of each frozen column into layer l+1 of the last column (the paper's wiring). */
  laterals: z.union([z.literal('all'), z.literal('none'), z.array(lateralSchema)]).default('all'),
  adapter: adapterSchema.prefault({ kind: 'scalar' }),
});
export type ProgressiveModel = z.output<typeof progressiveModelSchema>;

/** The progressive network as an experiment describes it: columns, lateral connections and their adapters. */
import { z } from 'zod';
import { FLAT784_FEATURES } from './names.js';

/** The ladder's widths (Rasmus et al.): 784 inputs, five hidden layers, 10 classes. The one default for every
 * fully-connected network. */
export const DEFAULT_WIDTHS = [784, 1000, 500, 250, 250, 250, 10];

/** Input width first, classes last (the kernels take any: their tests build tiny networks). */
export const widthsSchema = z.array(z.int().positive()).min(2);

/** The widths of a fully-connected network an experiment declares: it reads the flat784 view. */
export const flatInputWidthsSchema = widthsSchema.refine(
  (widths) => widths[0] === FLAT784_FEATURES,
  `the first width is the input: ${FLAT784_FEATURES} (a 28x28 digit, flattened), e.g. [${DEFAULT_WIDTHS.join(', ')}]`,
);

/** Conv-Small's channels (Rasmus et al. 2015): the output channels of its six layers, classes last. The one default for
 * every convolutional network. */
export const CONV_SMALL_CHANNELS = [32, 64, 64, 128, 10, 10];

/** One per layer of Conv-Small (5x5 conv "full"; 2x2 max-pool + 3x3 conv "valid"; 3x3 conv "full"; 2x2 max-pool + 3x3
 * conv "valid"; 1x1 conv; global mean pool + fully connected), classes last. */
export const channelsSchema = z
  .array(z.int().positive())
  .length(CONV_SMALL_CHANNELS.length, `one per layer of Conv-Small (${CONV_SMALL_CHANNELS.length}), classes last, e.g. [${CONV_SMALL_CHANNELS.join(', ')}]`);

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
    /** One source for every seed of the experiment. Without it each target seed has its own (`seed_offset`), so that
     * the spread over seeds includes the sources' randomness. */
    seed: z.int().nonnegative().optional(),
    /** Target seed s is built on source seed s + seed_offset. Not 0 by default: a network built from seed s starts
     * from the same weights whatever it trains on, so with 0 a fresh target column begins at its own source column's
     * initial weights (the protocol of the figures trained before 2026-11-29, kept for that ablation). */
    seed_offset: z.int().nonnegative().default(1000),
  }),
  /** A column.pt written by an earlier run. */
  z.strictObject({ from: z.literal('file'), path: z.string() }),
]);
export type ColumnWeights = z.output<typeof columnWeightsSchema>;

const columnName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, "_" and "-" only');

/** Where a column's weights come from and how they are held, whatever its architecture. */
const columnState = {
  weights: columnWeightsSchema.default({ from: 'init' }),
  /** Frozen: no gradients, batch-norm statistics fixed, weights untouched. */
  frozen: z.boolean().default(false),
  /** false: the column's layers have no batch norm (the author's code's target column); only for fresh weights. */
  batch_norm: z.boolean().default(true),
};

/** A column's network is named by `architecture`, from the kernels' column registry (py_kernels/models/columns). */
export const fcColumnSchema = z.strictObject({
  name: columnName,
  /** The fully-connected batch-normalised encoder (the default). */
  architecture: z.literal('fc').default('fc'),
  widths: flatInputWidthsSchema.default(DEFAULT_WIDTHS),
  ...columnState,
});

export const convColumnSchema = z.strictObject({
  name: columnName,
  /** Conv-Small, the convolutional Gamma-model's encoder; it reads the 28x28 grayscale digits of the fc columns' view. */
  architecture: z.literal('conv'),
  channels: channelsSchema.default(CONV_SMALL_CHANNELS),
  ...columnState,
});

/** The head of the paper's Progressive AlexNet: the ladder's hidden widths, so that the paper's wiring (`laterals: all`)
 * joins ladder layer l to head layer l (layer l + 1 of the alexnet column, whose layer 1 is AlexNet's pool5). */
export const DEFAULT_ALEXNET_HEAD = DEFAULT_WIDTHS.slice(1);
export const alexnetHeadSchema = z.array(z.int().positive()).min(1);
/** The kernel keeps it in a float32 (the column's state says which trunk its head was trained on). */
export const trunkSeedSchema = z.int().nonnegative().max(2 ** 24 - 1);
export const alexnetFeaturesSchema = z.enum(['cached', 'live']);

/** torchvision's AlexNet as a frozen trunk on 224x224 images (its pool5, 9216 features, is layer 1) with a trainable
 * fully-connected head above it (layers 2..L, each as an fc layer); laterals enter the head, never the trunk
 * (py_kernels/models/columns/alexnet.py). */
export const alexnetColumnSchema = z.strictObject({
  name: columnName,
  architecture: z.literal('alexnet'),
  /** The head's widths above pool5, classes last. */
  head: alexnetHeadSchema.default(DEFAULT_ALEXNET_HEAD),
  /** true: ImageNet's weights, torchvision's alexnet-owt-7be5be79.pth from torchvision's cache
   * (<TORCH_HOME, else ~/.cache/torch>/hub/checkpoints/; downloaded when missing and reachable). false: a RANDOM
   * AlexNet drawn from trunk_seed, which every result of the run says. */
  pretrained: z.boolean().default(true),
  trunk_seed: trunkSeedSchema.default(0),
  /** cached: AlexNet's pool5 of every image of the dataset, computed once (about 9 minutes for MNIST-M on 2 idle CPU cores)
   * and kept in the view cache (the `alexnet-features` view); live: the trunk runs on every batch of 224x224 images,
   * whose view the kernel holds whole only for small sets (about 3500 images). Same layers, same numbers. */
  features: alexnetFeaturesSchema.default('cached'),
  ...columnState,
});

export const columnSchema = z.discriminatedUnion('architecture', [fcColumnSchema, convColumnSchema, alexnetColumnSchema]);
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

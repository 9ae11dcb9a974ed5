/** The names both languages share: datasets, their splits, and the views (input formats) the data layer makes. */
import { z } from 'zod';

export const datasetNameSchema = z.enum(['mnist', 'svhn', 'mnist-m']);
export type DatasetName = z.infer<typeof datasetNameSchema>;
export const DATASETS = datasetNameSchema.options;

export const splitSchema = z.enum(['train', 'test']);

/** flat784: 28x28 grayscale flattened, for fully-connected columns; rgb32: 32x32 colour; imagenet224: AlexNet's input;
 * alexnet-features: AlexNet's pool5 (9216 floats) of imagenet224, computed once per split by a frozen AlexNet and kept
 * in the view cache (py_kernels/data/features.py), what an AlexNet column with cached features reads. */
export const viewSchema = z.enum(['flat784', 'rgb32', 'imagenet224', 'alexnet-features']);
/** The features of a flat784 example: what a fully-connected network's first width must be. */
export const FLAT784_FEATURES = 28 * 28;
export type ViewName = z.infer<typeof viewSchema>;

/** What a view computed by a frozen network needs besides its name: which AlexNet (ImageNet's weights, or a random
 * one from trunk_seed). null for every other view. */
export const viewOptionsSchema = z.strictObject({ pretrained: z.boolean(), trunk_seed: z.int().nonnegative() });
export type ViewOptions = z.infer<typeof viewOptionsSchema>;

/** Datasets whose training images are the same digits index for index: MNIST-M train image i is MNIST train digit i
 * (i < 59001), so a source on one and a target on the other share a digit unless their pools are disjoint. */
export const SAME_DIGITS: readonly (readonly [DatasetName, DatasetName])[] = [['mnist', 'mnist-m']];

/** Digits: every label budget is balanced over them. */
export const CLASSES = 10;

/** What a network's last layer must have: one output per class (the labels are 0..9); the problem, if any. */
export const outputProblem = (units: number) =>
  units === CLASSES ? undefined : `needs one unit per class (${CLASSES}), not ${units}`;

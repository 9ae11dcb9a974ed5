/** What the kernels build, as they receive it: every field present, every rule already checked in TypeScript. These
 * schemas type the bridge's calls (src/bridge/calls.ts), and their JSON Schema export (py_kernels/call_args.schema.json)
 * is what Python checks its arguments against: one definition for both languages. */
import { z } from 'zod';
import { convLadderModelSchema, ladderModelSchema, mlpModelSchema, trainingSchema } from './experiment.js';
import { adapterSchema, alexnetFeaturesSchema, alexnetHeadSchema, channelsSchema, trunkSeedSchema, widthsSchema } from './progressive.js';

/** What every kernel column has: its weights resolved to fresh ones or a column file. */
const kernelColumnState = {
  name: z.string(),
  weights: z.discriminatedUnion('from', [
    z.strictObject({ from: z.literal('init') }),
    z.strictObject({ from: z.literal('file'), path: z.string().regex(/^\//, 'an absolute path') }),
  ]),
  frozen: z.boolean(),
  batch_norm: z.boolean(),
};

/** A progressive column as the kernel builds it, by architecture (the rest of its keys configure that architecture). */
export const kernelColumnSchema = z.discriminatedUnion('architecture', [
  z.strictObject({ architecture: z.literal('fc'), widths: widthsSchema, ...kernelColumnState }),
  z.strictObject({ architecture: z.literal('conv'), channels: channelsSchema, ...kernelColumnState }),
  z.strictObject({
    architecture: z.literal('alexnet'),
    head: alexnetHeadSchema,
    pretrained: z.boolean(),
    trunk_seed: trunkSeedSchema,
    features: alexnetFeaturesSchema,
    ...kernelColumnState,
  }),
]);
export type KernelColumn = z.output<typeof kernelColumnSchema>;

const layerIndexSchema = z.strictObject({ column: z.int().nonnegative(), layer: z.int().nonnegative() });

/** A lateral between columns by index (layer 0 is a column's input), with its adapter spelt out. */
export const kernelLateralSchema = z.strictObject({ from: layerIndexSchema, to: layerIndexSchema, adapter: adapterSchema });

export const kernelProgressiveSchema = z.strictObject({
  architecture: z.literal('progressive'),
  spec: z.strictObject({ columns: z.array(kernelColumnSchema).min(1), laterals: z.array(kernelLateralSchema) }),
});

export const kernelModelSchema = z.discriminatedUnion('architecture', [ladderModelSchema, convLadderModelSchema, mlpModelSchema, kernelProgressiveSchema]);
export type KernelModel = z.output<typeof kernelModelSchema>;

/** The training recipe the kernel's trainer follows (stop_at_validation_accuracy is read by the TypeScript loop alone). */
export const kernelTrainingSchema = trainingSchema;

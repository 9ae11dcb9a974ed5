/** The shapes of a column's layers, input first, from its declaration alone: what the graph checks depths, inputs and
 * laterals against before Python starts. They mirror each architecture's `layer_shapes` in py_kernels/models/columns
 * ([n] a vector, [C, H, W] a map); test/progressive/shapes.test.ts compares the two. */
import type { ViewName } from '../spec/names.js';
import type { Column } from '../spec/progressive.js';

export type Shape = number[];

/** Conv-Small's layers in order: the pooling each does to its input first, then its convolution (kernel 0: a fully
 * connected layer) and its zero padding a side ("full": kernel - 1, "valid": 0). py_kernels/models/columns/conv.py. */
const CONV_SMALL = [
  { pool: '', kernel: 5, padding: 4 },
  { pool: 'max', kernel: 3, padding: 0 },
  { pool: '', kernel: 3, padding: 2 },
  { pool: 'max', kernel: 3, padding: 0 },
  { pool: '', kernel: 1, padding: 0 },
  { pool: 'mean', kernel: 0, padding: 0 },
] as const;

/** A conv column reads the fc columns' view: a 28x28 grayscale digit, flattened. */
const CONV_INPUT = { channels: 1, size: 28 };

function convSmallShapes(channels: number[]): Shape[] {
  const shapes: Shape[] = [[CONV_INPUT.channels * CONV_INPUT.size * CONV_INPUT.size]];
  let size = CONV_INPUT.size;
  CONV_SMALL.forEach((layer, i) => {
    const out = channels[i]!;
    if (layer.kernel === 0) {
      shapes.push([out]);
      return;
    }
    if (layer.pool === 'max') size = Math.floor(size / 2);
    size = size + 2 * layer.padding - layer.kernel + 1;
    shapes.push([out, size, size]);
  });
  return shapes;
}

/** AlexNet's pool5, flattened: 256 channels of 6x6 (py_kernels/models/columns/alexnet.py). */
const ALEXNET_POOL5 = 256 * 6 * 6;

export function layerShapes(column: Column): Shape[] {
  switch (column.architecture) {
    case 'fc':
      return column.widths.map((width) => [width]);
    case 'conv':
      return convSmallShapes(column.channels);
    case 'alexnet': // input (a 224x224 image, or its cached pool5), the trunk's pool5, then the head
      return [column.features === 'live' ? [3, 224, 224] : [ALEXNET_POOL5], [ALEXNET_POOL5], ...column.head.map((width) => [width])];
  }
}

/** The data view a column reads (each architecture's `input_view` in py_kernels/models/columns). Columns that read
 * different views take each its own; columns that read one view, the same tensor. */
export function inputView(column: Column): ViewName {
  switch (column.architecture) {
    case 'fc':
    case 'conv':
      return 'flat784';
    case 'alexnet':
      return column.features === 'live' ? 'imagenet224' : 'alexnet-features';
  }
}

/** The layers of a column no lateral may enter: an AlexNet column's trunk (layer 1) is frozen whatever the column. */
export const closedLayers = (column: Column): number[] => (column.architecture === 'alexnet' ? [1] : []);

/** L: the layers above the input (1..L take laterals; L is the output). */
export const depth = (column: Column) => layerShapes(column).length - 1;

export const units = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

export const formatShape = (shape: Shape) => (shape.length === 1 ? `${shape[0]} units` : `a ${shape.join('x')} map`);

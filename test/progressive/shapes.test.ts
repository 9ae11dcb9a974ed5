/** The layer shapes TypeScript checks a graph against (src/progressive/shapes.ts) are those the kernels' columns have
 * (their configs' `layer_shapes`), for every column architecture. */
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { layerShapes } from '../../src/progressive/shapes.js';
import { columnSchema } from '../../src/spec/progressive.js';
import { python } from '../helpers/data.js';

const COLUMNS = [
  { name: 'fc', architecture: 'fc', widths: [784, 1000, 500, 250, 250, 250, 10] },
  { name: 'fc-small', architecture: 'fc', widths: [784, 8, 4] },
  { name: 'conv-small', architecture: 'conv' },
  { name: 'conv-narrow', architecture: 'conv', channels: [3, 4, 4, 5, 3, 4] },
  { name: 'alexnet', architecture: 'alexnet' },
  { name: 'alexnet-live', architecture: 'alexnet', features: 'live', head: [8, 4] },
].map((column) => columnSchema.parse(column));

describe('layer shapes', () => {
  it("are the kernels' own, architecture by architecture", async () => {
    const declared = COLUMNS.map(({ name, weights, frozen, ...config }) => config);
    const kernels = await python(`import json, sys; sys.path.insert(0, "${PROJECT_ROOT}"); from py_kernels.models import column_config
print(json.dumps([column_config(c.pop("architecture"), **c).layer_shapes for c in json.loads(${JSON.stringify(JSON.stringify(declared))})]))`);
    expect(COLUMNS.map(layerShapes)).toEqual(JSON.parse(kernels));
    expect(layerShapes(COLUMNS[2]!)).toEqual([[784], [32, 32, 32], [64, 14, 14], [64, 16, 16], [128, 6, 6], [10, 6, 6], [10]]);
  });
});

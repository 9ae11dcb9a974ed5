import { describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/experiments/load.js';
import { buildGraph, kernelModel } from '../../src/progressive/graph.js';
import { depth, inputView, layerShapes } from '../../src/progressive/shapes.js';
import { kernelModelSchema } from '../../src/spec/kernel.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { columnSchema, progressiveModelSchema, type Column } from '../../src/spec/progressive.js';
import { python } from '../helpers/data.js';
import { model, problems } from '../helpers/graph.js';

const ladder = { name: 'mnist', weights: { from: 'file', path: '/x/column.pt' }, frozen: true };
const alexnet = (extra: object = {}) => ({ name: 'alexnet', architecture: 'alexnet', pretrained: false, ...extra });


describe('the AlexNet column in the progressive spec', () => {
  it("defaults to ImageNet's weights, cached pool5 features and a head of the ladder's hidden widths", () => {
    const column = model({ columns: [{ name: 'alexnet', architecture: 'alexnet' }] }).columns[0]! as Extract<Column, { architecture: 'alexnet' }>;
    expect(column).toMatchObject({ pretrained: true, trunk_seed: 0, features: 'cached', head: [1000, 500, 250, 250, 250, 10], batch_norm: true });
    // layer 0 its input, layer 1 AlexNet's pool5, then the head: what py_kernels/models/columns/alexnet.py gives
    expect(layerShapes(column)).toEqual([[9216], [9216], [1000], [500], [250], [250], [250], [10]]);
    expect(inputView(column)).toBe('alexnet-features');
    const live = { ...column, features: 'live' as const };
    expect([layerShapes(live)[0], inputView(live), depth(live)]).toEqual([[3, 224, 224], 'imagenet224', 7]);
  });

  it('refuses a misspelt option and a trunk seed the kernel cannot keep exactly', () => {
    expect(progressiveModelSchema.safeParse({ architecture: 'progressive', columns: [alexnet({ pretrain: true })] }).success).toBe(false);
    expect(progressiveModelSchema.safeParse({ architecture: 'progressive', columns: [alexnet({ trunk_seed: 2 ** 24 })] }).success).toBe(false);
  });

  it("wires the paper's laterals into the head (ladder layer l -> alexnet layer l + 1), never into the trunk", () => {
    const graph = buildGraph(model({ columns: [ladder, alexnet()] }));
    expect(graph.laterals.map((l) => [l.from.layer, l.to.layer])).toEqual([[1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]);
    const into = (layer: number) => ({ from: { column: 'mnist', layer: layer - 1 }, to: { column: 'alexnet', layer } });
    expect(problems({ columns: [ladder, alexnet()], laterals: [into(1)] })).toEqual([
      "model.laterals.0.to.layer: layer 1 of 'alexnet' is AlexNet's frozen trunk (its pool5), which takes no lateral; laterals enter its head, layers 2..7",
    ]);
  });

  it('lets columns of different views read different inputs, and holds every fc column to the flat784 view', () => {
    expect(() => buildGraph(model({ columns: [ladder, alexnet()] }))).not.toThrow(); // 784 grayscale beside 9216 features
    // every fc column reads 784 values, whichever column comes first: [1024, ...] is refused even where all agree
    for (const widths of [[1024, 10], [1024, 500, 10]]) {
      const parsed = progressiveModelSchema.safeParse({ architecture: 'progressive', columns: [{ ...ladder, widths }, { name: 'target', widths }, alexnet()], laterals: 'none' });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([
        'columns.0.widths: the first width is the input: 784 (a 28x28 digit, flattened), e.g. [784, 1000, 500, 250, 250, 250, 10]',
        'columns.1.widths: the first width is the input: 784 (a 28x28 digit, flattened), e.g. [784, 1000, 500, 250, 250, 250, 10]',
      ]);
    }
  });

  it('sends the kernel every AlexNet option, as its JSON Schema requires', () => {
    const kernel = kernelModel(buildGraph(model({ columns: [ladder, alexnet({ trunk_seed: 3 })] })), (c) => (c.weights.from === 'file' ? c.weights.path : undefined));
    expect(kernelModelSchema.parse(kernel)).toEqual(kernel);
    expect(kernel.architecture === 'progressive' && kernel.spec.columns[1]).toEqual({
      name: 'alexnet', architecture: 'alexnet', head: [1000, 500, 250, 250, 250, 10], pretrained: false, trunk_seed: 3, features: 'cached',
      weights: { from: 'init' }, frozen: false, batch_norm: true,
    });
  });

  it('has both experiment files of the Progressive AlexNet run a random AlexNet here, said in their description', () => {
    for (const file of ['transfer-mnistm-alexnet-baseline', 'transfer-mnistm-alexnet-ladder']) {
      const experiment = loadExperiment(`experiments/${file}.yaml`);
      expect(experiment.model.architecture).toBe('progressive');
      if (experiment.model.architecture !== 'progressive') continue;
      const column = experiment.model.columns.at(-1)!;
      expect(column).toMatchObject({ architecture: 'alexnet', pretrained: false, features: 'cached' });
      expect(experiment.description).toContain('RANDOM weights, pretrained false');
      expect(experiment.data.pool).toEqual({ start: 29500, stop: 59001 });
    }
    const ladderModel = loadExperiment('experiments/transfer-mnistm-alexnet-ladder.yaml').model;
    if (ladderModel.architecture !== 'progressive') throw new Error('expected a progressive model');
    // laterals after the head's batch norm: the trunk's scale cannot matter (py_kernels/tests/test_alexnet.py)
    expect(buildGraph(ladderModel).laterals.map((l) => [l.from.layer, l.to.layer, l.adapter.kind, l.adapter.placement])).toEqual(
      [1, 2, 3, 4, 5].map((l) => [l, l + 1, 'scalar', 'post_norm']),
    );
  });
});

describe('the view each column reads', () => {
  it("is the kernels' own, architecture by architecture (what the runner loads for each column)", async () => {
    const columns = [{ name: 'fc' }, { name: 'conv', architecture: 'conv' }, alexnet(), alexnet({ features: 'live' })].map((c) => columnSchema.parse(c));
    const declared = columns.map(({ name, weights, frozen, ...config }) => config);
    const kernels = await python(`import json, sys; sys.path.insert(0, "${PROJECT_ROOT}"); from py_kernels.models import column_config, get_column
print(json.dumps([get_column(c["architecture"]).view_of(column_config(c.pop("architecture"), **c)) for c in json.loads(${JSON.stringify(JSON.stringify(declared))})]))`);
    expect(columns.map(inputView)).toEqual(JSON.parse(kernels));
    expect(columns.map(inputView)).toEqual(['flat784', 'flat784', 'alexnet-features', 'imagenet224']);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentError, parseExperiment } from '../../src/experiments/load.js';
import { buildGraph, kernelModel } from '../../src/progressive/graph.js';
import { model, problems } from '../helpers/graph.js';

const column = (name: string, extra: object = {}) => ({ name, weights: { from: 'file', path: '/x/column.pt' }, frozen: true, ...extra });
const target = (extra: object = {}) => ({ name: 'target', ...extra });


const lateral = (from: [string, number], to: [string, number], adapter?: object) => ({ from: { column: from[0], layer: from[1] }, to: { column: to[0], layer: to[1] }, ...(adapter ? { adapter } : {}) });

describe('the progressive wiring graph', () => {
  it("spells out the paper's wiring: each hidden layer l of the frozen column into layer l+1 of the target", () => {
    const graph = buildGraph(model({ columns: [column('mnist'), target()] }));
    expect(graph.laterals.map((l) => [l.from.layer, l.to.layer])).toEqual([[1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]);
    expect(graph.laterals.every((l) => l.from.column === 0 && l.to.column === 1 && l.adapter.kind === 'scalar')).toBe(true);
  });

  it('expresses a chain of any number of columns (MNIST -> MNIST-M -> SVHN)', () => {
    const graph = buildGraph(model({ columns: [column('mnist'), column('mnistm'), target()] }));
    expect(graph.laterals).toHaveLength(10);
    const kernel = kernelModel(graph, (c) => (c.weights.from === 'file' ? c.weights.path : undefined));
    expect(kernel.architecture === 'progressive' && kernel.spec.columns.map((c) => c.weights.from)).toEqual(['file', 'file', 'init']);
  });

  it('refuses a lateral into a frozen column', () => {
    expect(problems({ columns: [column('a'), column('b'), target()], laterals: [lateral(['a', 1], ['b', 2])] })).toContainEqual(
      expect.stringMatching(/^model\.laterals\.0\.to\.column: column 'b' is frozen/),
    );
  });

  it('refuses a lateral from a later column', () => {
    expect(problems({ columns: [column('a'), target({ name: 't1' }), target({ name: 't2' })], laterals: [lateral(['t2', 1], ['t1', 2])] })).toContainEqual(
      expect.stringMatching(/runs from column 't2' \(#2\) back to the earlier column 't1' \(#1\)/),
    );
  });

  it('refuses layers the adapter cannot join', () => {
    expect(problems({ columns: [column('a', { widths: [784, 32, 10] }), target()], laterals: [lateral(['a', 1], ['target', 2], { kind: 'rusu', reduced: 64 })] })).toContainEqual(
      expect.stringMatching(/adapter\.reduced: .*\(32 units\) to 64 units: more than it has; use reduced <= 32/),
    );
  });

  it('refuses a layer that does not exist, and a lateral that skips a layer', () => {
    const found = problems({ columns: [column('a'), target()], laterals: [lateral(['a', 9], ['target', 10]), lateral(['a', 1], ['target', 3])] });
    expect(found).toContainEqual(expect.stringMatching(/laterals\.0\.from\.layer: column 'a' has layers 0\.\.6; there is no layer 9/));
    expect(found).toContainEqual(expect.stringMatching(/laterals\.0\.to\.layer: column 'target' takes laterals into layers 1\.\.6; there is no layer 10/));
    expect(found).toContainEqual(expect.stringMatching(/laterals\.1\.to\.layer: a lateral from layer 1 goes into layer 2, not 3/));
  });

  it('refuses a cycle', () => {
    const found = problems({ columns: [target({ name: 'p' }), target({ name: 'q' })], laterals: [lateral(['p', 1], ['q', 2]), lateral(['q', 1], ['p', 2])] });
    expect(found).toContainEqual(expect.stringMatching(/the laterals form a cycle: p -> q -> p|q -> p -> q/));
  });

  it('refuses a missing source: an unknown column, or a frozen column with no trained weights', () => {
    expect(problems({ columns: [column('a'), target()], laterals: [lateral(['nope', 1], ['target', 2])] })).toContainEqual(
      expect.stringMatching(/from\.column: no column named 'nope' \(columns: a, target\)/),
    );
    expect(problems({ columns: [{ name: 'random', frozen: true }, target()] })).toContainEqual(expect.stringMatching(/frozen with fresh random weights/));
    expect(problems({ columns: [column('a'), column('b')] })).toContainEqual(expect.stringMatching(/the last column \('b'\) .* cannot be frozen/));
  });

  it('reports graph errors in an experiment file with their line, and a source experiment that does not exist', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'graph-'));
    const file = path.join(dir, 'exp.yaml');
    const text = [
      'name: bad-graph',
      'model:',
      '  architecture: progressive',
      '  columns:',
      '    - name: mnist',
      '      weights: { from: source, experiment: no-such-source.yaml }',
      '      frozen: true',
      '    - name: target',
      '  laterals:',
      '    - from: { column: target, layer: 1 }',
      '      to: { column: mnist, layer: 2 }',
      'data: { dataset: mnist-m, labels: null }',
      'training: { epochs: 1 }',
    ].join('\n');
    writeFileSync(file, text);
    let error: ExperimentError | undefined;
    try {
      parseExperiment(text, file);
    } catch (e) {
      error = e as ExperimentError;
    }
    expect(error).toBeInstanceOf(ExperimentError);
    const byPath = Object.fromEntries(error!.problems.map((p) => [p.path, p]));
    expect(byPath['model.laterals[0].to.column']).toMatchObject({ line: 11, message: expect.stringContaining("column 'mnist' is frozen") });
    expect(byPath['model.columns[0].weights.experiment']).toMatchObject({ line: 6, message: expect.stringContaining(`${path.join(dir, 'no-such-source.yaml')} does not exist`) });
  });
});

describe('the progressive wiring graph of convolutional columns', () => {
  const conv = (name: string, extra: object = {}) => column(name, { architecture: 'conv', ...extra });

  it("spells out the paper's wiring between Conv-Small columns, and sends each column's own keys to the kernel", () => {
    const graph = buildGraph(model({ columns: [conv('mnist'), target({ architecture: 'conv' })] }));
    expect(graph.laterals.map((l) => [l.from.layer, l.to.layer])).toEqual([[1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]);
    const kernel = kernelModel(graph, (c) => (c.weights.from === 'file' ? c.weights.path : undefined));
    expect(kernel.architecture === 'progressive' && kernel.spec.columns).toEqual([
      { name: 'mnist', architecture: 'conv', channels: [32, 64, 64, 128, 10, 10], weights: { from: 'file', path: '/x/column.pt' }, frozen: true, batch_norm: true },
      { name: 'target', architecture: 'conv', channels: [32, 64, 64, 128, 10, 10], weights: { from: 'init' }, frozen: false, batch_norm: true },
    ]);
  });

  it('joins a conv column and an fc column, which read the same 784 inputs, maps into vectors only', () => {
    expect(buildGraph(model({ columns: [conv('mnist'), target()] })).laterals).toHaveLength(5); // maps into fc layers
    expect(problems({ columns: [column('fc'), target({ architecture: 'conv' })], laterals: [lateral(['fc', 1], ['target', 2])] })).toContainEqual(
      expect.stringMatching(/laterals\.0\.to\.layer: joins layer 1 of 'fc' \(1000 units\) to layer 2 of 'target' \(a 64x14x14 map\): no adapter turns a vector into a map/),
    );
  });

  it("counts a map's channels where a Rusu adapter reduces it per position", () => {
    expect(problems({ columns: [conv('mnist'), target({ architecture: 'conv' })], laterals: [lateral(['mnist', 1], ['target', 2], { kind: 'rusu', reduced: 64 })] })).toContainEqual(
      expect.stringMatching(/adapter\.reduced: .*\(32 channels\) to 64 channels: more than it has; use reduced <= 32/),
    );
    expect(buildGraph(model({ columns: [conv('mnist'), target({ architecture: 'conv' })], adapter: { kind: 'rusu', reduced: 10 } })).laterals).toHaveLength(5);
  });

  it('refuses a Conv-Small with another number of layers, naming the field', () => {
    expect(() => model({ columns: [target({ architecture: 'conv', channels: [32, 64, 10] })] })).toThrow(/one per layer of Conv-Small \(6\), classes last/);
  });
});

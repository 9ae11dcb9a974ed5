import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel } from '../../src/bridge/index.js';
import { loadView } from '../../src/data/index.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { buildGraph, kernelModel } from '../../src/progressive/graph.js';
import { progressiveModelSchema } from '../../src/spec/progressive.js';
import { python, scratchData } from '../helpers/data.js';

const kernel = new Kernel({ device: 'cpu' });
const where = scratchData();
afterAll(() => kernel.stop({ final: true }));

const training = (iterations: number) => ({ epochs: 1, iterations_per_epoch: iterations, labeled_batch: 100, unlabeled_batch: 100, learning_rate: 0.002, decay_fraction: 0 });
/** Every training image of the dataset, all labeled (the split made in beforeAll). */
const splits = new Map<string, { train: string; labeled: string }>();
const on = (dataset: string) => {
  const split = splits.get(dataset)!;
  return { train_x: `${dataset}.train.x`, train_y: `${dataset}.train.y`, train: split.train, labeled: split.labeled, validation: null, test_x: `${dataset}.test.x`, test_y: `${dataset}.test.y` };
};
const columnFile = (name: string) => path.join(where.root, `${name}.pt`);

/** A briefly trained MNIST column, exported as a reusable column file. */
async function trainSourceColumn(name: string, seed: number): Promise<string> {
  await kernel.call('run_create', { run_id: name, model: { architecture: 'mlp' }, training: training(5), seed, tensors: on('mnist'), test_limit: 500 });
  await kernel.call('run_epoch', { run_id: name, checkpoint_path: null });
  await kernel.call('run_export', { run_id: name, model_path: path.join(where.root, `${name}-model.pt`), column_path: columnFile(name) });
  await kernel.call('run_close', { run_id: name });
  return columnFile(name);
}

function progressive(columns: object[], laterals: unknown = 'all', adapter?: object) {
  const model = progressiveModelSchema.parse({ architecture: 'progressive', columns, laterals, ...(adapter ? { adapter } : {}) });
  return kernelModel(buildGraph(model), (c) => (c.weights.from === 'file' ? c.weights.path : undefined));
}

/** sha256 over the tensors of a column file, in name order. */
const columnHash = (file: string) =>
  python(`import hashlib, sys; sys.path.insert(0, "${PROJECT_ROOT}"); from py_kernels import safe_load
s = safe_load.load("${file}", what="column file", hint=""); h = hashlib.sha256()
for k in sorted(s): h.update(k.encode()); h.update(s[k].contiguous().numpy().tobytes())
print(h.hexdigest())`);

describe('progressive networks assembled in the kernel from the validated graph', () => {
  let mnistColumn: string;
  let otherColumn: string;

  beforeAll(async () => {
    for (const name of ['mnist', 'mnist-m'] as const) {
      for (const split of ['train', 'test'] as const) await loadView(kernel, { name, split, view: 'flat784', as: `${name}.${split}` }, where);
      splits.set(name, await kernel.call('data_pool_split', { labels: `${name}.train.y`, pool: null, validation: 0, labeled: null, seed: 0, store_as: `${name}.all` }));
    }
    mnistColumn = await trainSourceColumn('source-a', 1);
    otherColumn = await trainSourceColumn('source-b', 2);
  });

  it('keeps a frozen column bit-identical (weights and batch-norm statistics) while the target column and the scalars learn', async () => {
    const model = progressive([{ name: 'mnist', weights: { from: 'file', path: mnistColumn }, frozen: true }, { name: 'target' }]);
    await kernel.call('run_create', { run_id: 'frozen', model, training: training(20), seed: 4, tensors: on('mnist-m'), test_limit: 500 });
    const before = { frozen: await kernel.call('run_weights_sha256', { run_id: 'frozen', prefix: 'columns.0.' }), target: await kernel.call('run_weights_sha256', { run_id: 'frozen', prefix: 'columns.1.' }) };
    const alphasBefore = await kernel.call('run_scalars', { run_id: 'frozen', suffix: 'alpha' });
    const initial = Math.fround(0.1); // alpha is a float32 parameter
    expect(Object.values(alphasBefore)).toEqual(Array(5).fill(initial));
    await kernel.call('run_epoch', { run_id: 'frozen', checkpoint_path: null });
    expect(await kernel.call('run_weights_sha256', { run_id: 'frozen', prefix: 'columns.0.' })).toBe(before.frozen);
    expect(await kernel.call('run_weights_sha256', { run_id: 'frozen', prefix: 'columns.1.' })).not.toBe(before.target);
    // Adam moves a parameter only where its gradient was non-zero: every alpha moved, so gradients reached them all.
    const alphasAfter = await kernel.call('run_scalars', { run_id: 'frozen', suffix: 'alpha' });
    for (const [name, value] of Object.entries(alphasAfter)) expect(value, name).not.toBe(initial);
    await kernel.call('run_close', { run_id: 'frozen' });
  });

  it('with no laterals is exactly the baseline network: same initial weights, same training, same column', async () => {
    const model = progressive([{ name: 'mnist', weights: { from: 'file', path: mnistColumn }, frozen: true }, { name: 'target' }], 'none');
    const results: string[] = [];
    for (const [runId, spec] of [['no-laterals', model], ['baseline', { architecture: 'mlp' }]] as const) {
      await kernel.call('run_create', { run_id: runId, model: spec, training: training(15), seed: 9, tensors: on('mnist-m'), test_limit: 1000 });
      const metrics = await kernel.call('run_epoch', { run_id: runId, checkpoint_path: null });
      await kernel.call('run_export', { run_id: runId, model_path: path.join(where.root, `${runId}-model.pt`), column_path: columnFile(runId) });
      await kernel.call('run_close', { run_id: runId });
      results.push(`${metrics.loss_total as number} ${metrics.test_accuracy}`);
    }
    expect(results[0]).toBe(results[1]);
    expect(await columnHash(columnFile('no-laterals'))).toBe(await columnHash(columnFile('baseline')));
  });

  it('builds and trains a 3-column chain (MNIST -> MNIST-M -> target) for a step', async () => {
    const model = progressive([
      { name: 'first', weights: { from: 'file', path: mnistColumn }, frozen: true },
      { name: 'second', weights: { from: 'file', path: otherColumn }, frozen: true },
      { name: 'target' },
    ]);
    const created = await kernel.call('run_create', { run_id: 'chain', model, training: training(1), seed: 1, tensors: on('mnist-m'), test_limit: 200 });
    expect(created.parameters).toBeGreaterThan(0);
    const metrics = await kernel.call('run_epoch', { run_id: 'chain', checkpoint_path: null });
    expect(metrics.iterations).toBe(1);
    expect(Number.isFinite(metrics.loss_total as number)).toBe(true);
    await kernel.call('run_close', { run_id: 'chain' });
  });
});

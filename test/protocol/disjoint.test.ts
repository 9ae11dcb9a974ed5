/** The transfer experiments as committed: no source ever sees a target digit. MNIST-M train image i is MNIST train
 * digit i, so the check is on indices: every image a source uses (labeled, unlabeled, validation) against every image
 * a target uses, for every seed, through the kernel's own split. */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel, pullTensor } from '../../src/bridge/index.js';
import { loadView } from '../../src/data/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import type { Experiment } from '../../src/spec/experiment.js';
import { scratchData } from '../helpers/data.js';

const kernel = new Kernel({ device: 'cpu' });
const where = scratchData();
afterAll(() => kernel.stop({ final: true }));

/** Every training index a run of `experiment` with `seed` uses (its pool minus nothing: train and validation). */
async function indicesUsed(experiment: Experiment, seed: number): Promise<Set<number>> {
  const { data } = experiment;
  const split = await kernel.call('data_pool_split', { labels: `${data.dataset}.train.y`, pool: data.pool, validation: data.validation, labeled: data.labels, seed, store_as: `${experiment.name}.${seed}` });
  const values = async (name: string | null) => (name ? [...((await pullTensor(kernel, name)).data as BigInt64Array)].map(Number) : []);
  const used = new Set([...(await values(split.train)), ...(await values(split.validation))]);
  for (const i of await values(split.labeled)) expect(used.has(i)).toBe(true); // the labeled set is part of the pool
  return used;
}

describe('sources and targets of the MNIST -> MNIST-M experiments', () => {
  const dir = path.resolve('experiments');
  const transfers = readdirSync(dir).filter((f) => f.startsWith('transfer-mnistm-')).map((f) => loadExperiment(path.join(dir, f)));
  const sources = ['source-ladder-mnist100.yaml', 'source-mlp-mnist.yaml'].map((f) => loadExperiment(path.join(dir, f)));

  beforeAll(async () => {
    for (const name of ['mnist', 'mnist-m'] as const) await loadView(kernel, { name, split: 'train', view: 'flat784', as: `${name}.train` }, where);
  });

  it('share no digit: for every seed, no index of a source is an index of a target', async () => {
    expect(transfers.length).toBeGreaterThanOrEqual(5);
    const seeds = [...new Set([...transfers, ...sources].flatMap((e) => e.seeds))];
    for (const seed of seeds) {
      const sourceIndices = new Set<number>();
      for (const source of sources) for (const i of await indicesUsed(source, seed)) sourceIndices.add(i);
      expect(sourceIndices.size).toBeGreaterThan(20_000);
      // One target split per distinct data section (the approaches share theirs).
      const targets = new Map(transfers.map((t) => [JSON.stringify(t.data), t]));
      for (const target of targets.values()) {
        const shared = [...(await indicesUsed(target, seed))].filter((i) => sourceIndices.has(i));
        expect(shared, `${target.name} seed ${seed}`).toEqual([]);
      }
    }
  }, 120_000);

  it('every source stops on validation accuracy, never on the test set, and the sources are matched', () => {
    const targets = sources.map((s) => s.training.stop_at_validation_accuracy);
    expect(new Set(targets).size).toBe(1);
    expect(targets[0]).not.toBeNull();
    for (const source of sources) expect(source.data.validation).toBeGreaterThan(0);
    expect(Object.keys(sources[0]!.training)).not.toContain('stop_at_test_accuracy');
  });

  it('pair target seed s with source seed s (no experiment names a source seed)', () => {
    for (const target of transfers) {
      if (target.model.architecture !== 'progressive') continue;
      for (const column of target.model.columns) if (column.weights.from === 'source') expect(column.weights.seed, target.name).toBeUndefined();
    }
  });
});

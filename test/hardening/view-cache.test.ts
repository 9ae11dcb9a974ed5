/** Cached views and the md5 index are hints about files on disk: a file changed behind their back must not be
 * trusted, through the real CLI. */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { pladder } from '../helpers/cli.js';
import { python, SHARED } from '../helpers/data.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const py = (value: string) => JSON.stringify(value); // a JSON string is a valid Python string literal
const scratch: string[] = []; // removed afterwards: a cached MNIST view is 188 MB
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('a cached view overwritten at the same size', () => {
  it('is detected and rebuilt: the rerun trains on the real data, as the first run did', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'pladder-cache-'));
    const { dir, file, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5 });
    scratch.push(cache, dir);
    const run = (name: string) => pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', path.join(runsDir, name)], { PLADDER_CACHE: cache });

    const first = await run('first');
    expect(first.exitCode, first.stderr).toBe(0);
    const views = path.join(cache, 'views');
    const entry = readdirSync(views).filter((name) => /^mnist-train-flat784-.*\.x\.npy$/.test(name));
    expect(entry).toHaveLength(1);
    const npy = path.join(views, entry[0]!);

    // +inf in every element, in place: the npy header, and so the shape, dtype and size, are unchanged.
    await python(`import numpy as np
a = np.load(${py(npy)}, mmap_mode="r+")
a[...] = np.inf; a.flush(); del a
assert np.isinf(np.load(${py(npy)})).all()`);

    const second = await run('second');
    expect(second.exitCode, second.stderr).toBe(0);
    const losses = (name: string) => new RunDirectory(path.join(runsDir, name, 'tiny-quick', 'seed-1')).readMetrics().map((r) => r.loss_total);
    expect(losses('second')).toEqual(losses('first')); // same seed, same data: the same losses, bit for bit
    expect(losses('second').every(Number.isFinite)).toBe(true);
    expect(await python(`import numpy as np; print(bool(np.isfinite(np.load(${py(npy)})).all()))`)).toBe('True'); // stored again
  });
});

describe('the md5 index', () => {
  it('does not vouch for a file edited at the same size with its mtime set back', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-md5-'));
    scratch.push(root);
    const dataDir = path.join(root, 'data');
    mkdirSync(path.join(dataDir, 'mnist-m'), { recursive: true });
    const test = path.join(dataDir, 'mnist-m', 'test.npz');
    copyFileSync(path.join(SHARED, 'data', 'mnist-m', 'test.npz'), test); // a copy: this one is edited
    chmodSync(test, 0o644);
    symlinkSync(path.join(SHARED, 'data', 'mnist-m', 'train.npz'), path.join(dataDir, 'mnist-m', 'train.npz'));
    const env = { PLADDER_CACHE: path.join(root, 'cache') };
    const report = async () => {
      const result = await pladder(['data', '--json', '--data-dir', dataDir], env);
      expect(result.exitCode, result.stderr).toBe(0);
      const datasets = JSON.parse(result.stdout).datasets as { name: string; files: { path: string; md5: string; checksum: string }[] }[];
      return datasets.find((d) => d.name === 'mnist-m')!.files.find((f) => f.path === test)!;
    };

    const before = await report();
    expect(before.checksum).toBe('official');

    // One byte in the middle changed, then the old mtime put back (as `touch -d` or a careless copy tool would).
    await python(`import os
st = os.stat(${py(test)})
with open(${py(test)}, "r+b") as f:
    f.seek(st.st_size // 2); b = f.read(1); f.seek(st.st_size // 2); f.write(bytes([b[0] ^ 0xFF]))
os.utime(${py(test)}, ns=(st.st_atime_ns, st.st_mtime_ns))
assert os.stat(${py(test)}).st_mtime_ns == st.st_mtime_ns and os.stat(${py(test)}).st_size == st.st_size`);

    const after = await report();
    expect(after.md5).not.toBe(before.md5);
    expect(after.checksum).not.toBe('official');
  });
});

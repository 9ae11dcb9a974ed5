import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';
import { scratchData } from '../helpers/data.js';

describe('pladder data', () => {
  const where = scratchData();

  it('lists each dataset with location, counts, checksum and cache status', async () => {
    const result = await pladder(['data', '--data-dir', where.dataDir, '--json'], { PLADDER_CACHE: where.cacheDir });
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.dataDir).toBe(where.dataDir);
    expect(report.source).toBe('--data-dir');
    const byName = Object.fromEntries(report.datasets.map((d: { name: string }) => [d.name, d]));
    expect(byName.mnist.counts).toEqual({ train: 60000, test: 10000 });
    expect(byName['mnist-m'].counts).toEqual({ train: 59001, test: 9001 });
    expect(byName.svhn.counts).toEqual({ train: 65, test: 2 });
    expect(byName.mnist.cache).toEqual({ flat784: false, rgb32: false });
  });

  it('show NAME writes a PNG contact sheet of labeled samples', async () => {
    const out = path.join(where.root, 'sheet.png');
    const result = await pladder(['data', 'show', 'svhn', '--data-dir', where.dataDir, '--count', '16', '--out', out]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`wrote ${out}: 16 svhn train samples`);
    const png = readFileSync(out);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(4 * 32); // width: a grid of 32-pixel crops
  });

  it('names the problem when a dataset is missing or unknown', async () => {
    const missing = await pladder(['data', 'show', 'mnist-m', '--data-dir', path.join(where.root, 'nowhere')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(path.join(where.root, 'nowhere', 'mnist-m'));
    expect(missing.stderr).not.toContain('Traceback');
    // A missing SVHN is fixed with the command that downloads it, not with the name of a Python function.
    const noSvhn = await pladder(['data', '--data-dir', path.join(where.root, 'nowhere'), '--json']);
    const svhn = JSON.parse(noSvhn.stdout).datasets.find((d: { name: string }) => d.name === 'svhn');
    expect(svhn.errors[0]).toContain('bin/pladder data download svhn');
    const unknown = await pladder(['data', 'show', 'cifar']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("dataset 'cifar' is not known");
  });

  it('fails fast and clearly when SVHN cannot be downloaded', async () => {
    const started = Date.now();
    const result = await pladder(['data', 'download', 'svhn', '--split', 'test', '--data-dir', path.join(where.root, 'dl')]);
    if (result.exitCode === 0) return; // a machine with internet downloads it for real
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/cannot reach .* to download SVHN/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

/** A cached source column damaged on disk (cut short) is rebuilt from the run that trained it, or dropped from the
 * cache and trained again; --fresh leaves no summary describing the runs it removed. Through the real CLI. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-source-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, lines: string[]): string {
  const full = path.join(root, file);
  writeFileSync(full, lines.join('\n'));
  return full;
}

const source = write('source.yaml', ['name: cache-source', 'model: { architecture: mlp, widths: [784, 64, 10] }', 'data: { dataset: mnist, labels: 100, pool: { start: 0, stop: 29500 } }', 'training: { epochs: 1, iterations_per_epoch: 5 }', 'seeds: [1]']);
const target = write('target.yaml', [
  'name: cache-target', 'model:', '  architecture: progressive', '  columns:',
  `    - { name: src, widths: [784, 64, 10], weights: { from: source, experiment: ${source} }, frozen: true }`,
  '    - { name: target, widths: [784, 64, 10] }',
  'data: { dataset: mnist, labels: 100, pool: { start: 29500, stop: 59001 } }', 'training: { epochs: 1, iterations_per_epoch: 5 }', 'seeds: [1]',
]);
const sources = path.join(root, 'sources');
const runsDir = path.join(root, 'runs');
const run = (...extra: string[]) => pladder(['run', target, '--device', 'cpu', '--runs-dir', runsDir, ...extra], { PLADDER_SOURCES: sources });
const cachedColumn = () => {
  // Every finished run's column is cached (the target's too): the source's entry is the one its source.json names.
  const entry = readdirSync(sources).find((name) => JSON.parse(readFileSync(path.join(sources, name, 'source.json'), 'utf8')).experiment === 'cache-source');
  return path.join(sources, entry!, 'column.pt');
};
const cutShort = (file: string) => truncateSync(file, Math.floor(statSync(file).size / 2));

describe('a damaged source cache entry', () => {
  it('is rebuilt from its run\'s column.pt, and the run trains', async () => {
    const first = await run();
    expect(first.exitCode, first.stderr).toBe(0);
    const column = cachedColumn();
    const intact = readFileSync(column);
    const summary = path.join(runsDir, 'cache-target', 'summary.json');
    expect(existsSync(summary)).toBe(true);

    cutShort(column);
    const again = await run('--fresh');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain(`the cached source column ${column} was damaged; rebuilt from`);
    expect(readFileSync(column).equals(intact)).toBe(true);
  });

  it('whose run is gone is removed from the cache and trained again', async () => {
    const column = cachedColumn();
    cutShort(column);
    rmSync(path.join(runsDir, 'cache-source'), { recursive: true });
    const again = await run('--fresh');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/was damaged and its run's column.pt is gone or changed; the cache entry .* was removed/);
    expect(existsSync(path.join(runsDir, 'cache-source', 'seed-1001', 'column.pt'))).toBe(true); // trained again
    expect(existsSync(cachedColumn())).toBe(true);
  });

  it('--fresh removes the summary of the runs it removes, even when the job then fails', async () => {
    const summary = path.join(runsDir, 'cache-target', 'summary.json');
    expect(existsSync(summary)).toBe(true);
    // A job that fails after --fresh removed seed-1: a source column that cannot be loaded (a file of no tensors).
    const broken = write('broken.yaml', readFileSync(target, 'utf8').replace(/weights: \{ from: source, experiment: [^}]+\}/, `weights: { from: file, path: ${path.join(root, 'not-a-column.pt')} }`).split('\n'));
    writeFileSync(path.join(root, 'not-a-column.pt'), 'not a column');
    const failed = await pladder(['run', broken, '--device', 'cpu', '--runs-dir', runsDir, '--fresh'], { PLADDER_SOURCES: sources });
    expect(failed.exitCode, failed.stderr).toBe(2);
    expect(existsSync(path.join(runsDir, 'cache-target', 'seed-1', 'result.json'))).toBe(false);
    expect(existsSync(summary)).toBe(false);
    expect(existsSync(path.join(runsDir, 'cache-target', 'learning-curve.svg'))).toBe(false);
  });
});

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError } from '../../src/experiments/yaml-file.js';
import { loadFigure } from '../../src/figures/schema.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const name = `test-figure-${process.pid}`;
const output = path.join(PROJECT_ROOT, 'figures', 'quick', name);
afterAll(() => {
  for (const ext of ['svg', 'png', 'md', 'json']) rmSync(`${output}.${ext}`, { force: true });
});

describe('pladder figure: every run of a figure, then the figure', () => {
  it('trains the runs of all its experiments in one pool (--parallel) and draws, tabulates and saves the numbers', async () => {
    const ladder = tinyExperimentFile({ name: 'tiny-ladder', epochs: 2, iterations: 20, seeds: [1, 2] });
    const mlp = tinyExperimentFile({ name: 'tiny-mlp', architecture: 'mlp', epochs: 2, iterations: 20, seeds: [1, 2] });
    const figure = path.join(ladder.dir, 'figure.yaml');
    writeFileSync(figure, [
      `name: ${name}`, 'title: "tiny ladder against tiny MLP"', 'kind: curves', 'accuracies: [0.3, 0.999]', 'experiments:',
      `  - { label: "Ladder", file: ${ladder.file} }`, `  - { label: "MLP", file: ${mlp.file} }`,
    ].join('\n'));
    const made = await pladder(['figure', figure, '--quick', '--device', 'cpu', '--runs-dir', ladder.runsDir, '--parallel', '2']);
    expect(made.exitCode, made.stderr).toBe(0);

    const runs = ['tiny-ladder', 'tiny-mlp'].flatMap((exp) => [1, 2].map((seed) => new RunDirectory(path.join(ladder.runsDir, `${exp}-quick`, `seed-${seed}`))));
    for (const run of runs) expect(run.readResult().epochs).toBe(2);
    const pids = new Set(runs.map((run) => JSON.parse(readFileSync(run.file('environment.json'), 'utf8')).kernel.pid));
    expect(pids.size).toBe(2); // four runs shared two worker kernels

    for (const ext of ['svg', 'png', 'md', 'json']) expect(existsSync(`${output}.${ext}`)).toBe(true);
    const rows = JSON.parse(readFileSync(`${output}.json`, 'utf8'));
    expect(rows.map((r: { label: string }) => r.label)).toEqual(['Ladder', 'MLP']);
    for (const row of rows) {
      expect(row.final.epoch).toBe(2);
      expect(row.reach[1]).toBeNull(); // 99.9% is not reached in 40 iterations
    }
    expect(readFileSync(`${output}.md`, 'utf8')).toContain('| MLP | 2 | 2 |');
  });
});

describe('a figure file', () => {
  it('is refused with the file, line, field and a fix for each problem', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'pladder-fig-')), 'bad.yaml');
    writeFileSync(file, 'name: f\ntitle: t\nkind: curvs\nexperimnts: []\n');
    let error: unknown;
    try {
      loadFigure(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputFileError);
    const message = (error as Error).message;
    expect(message).toContain(`${file}: 3 problems`);
    expect(message).toContain(`${file}:3:7 kind: Invalid option`);
    expect(message).toContain(`${file}:4:1 unknown key 'experimnts' (did you mean 'experiments'?)`);
  });
});

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
import { waitUntil } from '../helpers/processes.js';

const name = `test-figure-${process.pid}`;
const output = path.join(PROJECT_ROOT, 'figures', 'quick', name);
const partialName = `test-figure-partial-${process.pid}`;
const partialOutput = path.join(PROJECT_ROOT, 'figures', 'quick', partialName);
const divergedName = `test-figure-diverged-${process.pid}`;
const divergedOutput = path.join(PROJECT_ROOT, 'figures', 'quick', divergedName);
afterAll(() => {
  for (const ext of ['svg', 'png', 'md', 'json']) for (const base of [output, partialOutput, divergedOutput]) rmSync(`${base}.${ext}`, { force: true });
});

const startedAt = (run: RunDirectory) => Date.parse(JSON.parse(readFileSync(run.file('environment.json'), 'utf8')).started_at);

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
    const rows = JSON.parse(readFileSync(`${output}.json`, 'utf8')).approaches;
    expect(rows.map((r: { label: string }) => r.label)).toEqual(['Ladder', 'MLP']);
    for (const row of rows) {
      expect(row.final.epoch).toBe(2);
      expect(row.reach[1]).toBeNull(); // 99.9% is not reached in 40 iterations
    }
    expect(readFileSync(`${output}.md`, 'utf8')).toContain('| MLP | 2 | 2 |');
  });
});

describe('a figure stopped part way', () => {
  it('ran every first seed before any second, draws as it stands (--no-train), and goes on with --continue', async () => {
    const short = tinyExperimentFile({ name: 'tiny-short', architecture: 'mlp', epochs: 2, iterations: 20, seeds: [1, 2] });
    const long = tinyExperimentFile({ name: 'tiny-long', architecture: 'mlp', epochs: 3, iterations: 80, seeds: [1, 2] });
    const figure = path.join(short.dir, 'figure.yaml');
    writeFileSync(figure, [
      `name: ${partialName}`, 'title: "short against long"', 'kind: final', 'experiments:',
      `  - { label: "Short", file: ${short.file} }`, `  - { label: "Long", file: ${long.file} }`,
    ].join('\n'));
    const args = ['figure', figure, '--quick', '--device', 'cpu', '--parallel', '1', '--runs-dir', short.runsDir];
    const run = (exp: string, seed: number) => new RunDirectory(path.join(short.runsDir, `${exp}-quick`, `seed-${seed}`));

    const nothing = await pladder([...args, '--no-train']);
    expect(nothing.exitCode).toBe(2);
    expect(nothing.stderr).toContain('none of its experiments has a run that finished an epoch');

    // Killed (SIGKILL) once the last run, the long experiment's second seed, has finished an epoch.
    const child = pladder(args);
    const lastStarted = await waitUntil(() => run('tiny-long', 2).readMetrics().length > 0, 120_000);
    child.kill('SIGKILL');
    await child;
    expect(lastStarted).toBe(true);
    expect(run('tiny-long', 2).isComplete()).toBe(false);
    expect(startedAt(run('tiny-long', 1))).toBeLessThan(startedAt(run('tiny-short', 2))); // seed-major order
    const stoppedAt = run('tiny-long', 2).readMetrics().length;

    const drawn = await pladder([...args, '--no-train']);
    expect(drawn.exitCode, drawn.stderr).toBe(0);
    const rows = JSON.parse(readFileSync(`${partialOutput}.json`, 'utf8')).approaches;
    expect(rows[1].final).toMatchObject({ epoch: 3, seeds: 1 }); // the stopped seed does not count at epoch 3
    expect(rows[1].best.n).toBe(1);
    expect(readFileSync(`${partialOutput}.md`, 'utf8')).toContain(`| Long | 2 | 3, ${stoppedAt} (of 3) | ${(100 * rows[1].final.mean).toFixed(1)}%, 1 seed at epoch 3 |`);
    expect(existsSync(`${partialOutput}.png`)).toBe(true);

    const refused = await pladder(args);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('Continue it with --continue');

    // A run is continued only with the definition it was started from.
    const original = readFileSync(long.file, 'utf8');
    writeFileSync(long.file, original.replace('labels: 100', 'labels: 200'));
    const changed = await pladder([...args, '--continue']);
    expect(changed.exitCode).toBe(2);
    expect(changed.stderr).toContain('was started from another definition of tiny-long');
    writeFileSync(long.file, original);

    const continued = await pladder([...args, '--continue']);
    expect(continued.exitCode, continued.stderr).toBe(0);
    expect(run('tiny-long', 2).readMetrics().map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(JSON.parse(readFileSync(run('tiny-long', 2).file('environment.json'), 'utf8')).resumes[0].after_epoch).toBe(stoppedAt);
    expect(readFileSync(`${partialOutput}.md`, 'utf8')).toContain('| Long | 2 | 3 |');
    // The figure's JSON says how the continued seed was trained: the command that started it and the one that went on.
    const seeds = JSON.parse(readFileSync(`${partialOutput}.json`, 'utf8')).approaches[1].runs;
    expect(seeds[1].command).toBe(`bin/pladder ${args.join(' ')}`);
    expect(seeds[1].resumes).toEqual([{ after_epoch: stoppedAt, command: `bin/pladder ${[...args, '--continue'].join(' ')}` }]);
    expect(seeds[0].resumes).toEqual([]);
  }, 300_000);
});

describe('a figure with a diverged run', () => {
  it('shows the run as diverged, leaves it out of the means, and ends with exit code 5', async () => {
    const stable = tinyExperimentFile({ name: 'tiny-stable', architecture: 'mlp', epochs: 2, iterations: 10, seeds: [1, 2] });
    const unstable = tinyExperimentFile({ name: 'tiny-unstable', architecture: 'mlp', epochs: 2, iterations: 10, seeds: [1, 2] });
    // Seed 2 alone diverges: the same experiment file, its second seed's run trained with an absurd learning rate.
    writeFileSync(unstable.file, readFileSync(unstable.file, 'utf8').replace('training:', 'training:\n  learning_rate: 1.0e30'));
    const args = ['--quick', '--device', 'cpu', '--runs-dir', stable.runsDir];
    const lone = await pladder(['run', unstable.file, ...args, '--seeds', '2']);
    expect(lone.exitCode).toBe(5);
    writeFileSync(unstable.file, readFileSync(unstable.file, 'utf8').replace('  learning_rate: 1.0e30\n', ''));
    const figure = path.join(stable.dir, 'figure.yaml');
    writeFileSync(figure, [
      `name: ${divergedName}`, 'title: "stable against unstable"', 'kind: curves', 'accuracies: [0.3]', 'experiments:',
      `  - { label: "Stable", file: ${stable.file} }`, `  - { label: "Unstable", file: ${unstable.file} }`,
    ].join('\n'));
    for (const noTrain of [[], ['--no-train']]) {
      const made = await pladder(['figure', figure, ...args, ...noTrain]);
      expect(made.exitCode, made.stderr).toBe(5);
      expect(made.stderr).toContain('Unstable: seed 2 diverged at epoch 1');
      const rows = JSON.parse(readFileSync(`${divergedOutput}.json`, 'utf8')).approaches;
      expect(rows[1].runs.map((r: { diverged: unknown }) => r.diverged)).toEqual([null, { epoch: 1, last_finite_loss: null }]);
      expect(rows[1].final.seeds).toBe(1); // the mean is seed 1's alone
      expect(readFileSync(`${divergedOutput}.md`, 'utf8')).toContain('| Unstable | 1 of 2 (seed 2 diverged at epoch 1, left out) |');
    }
  }, 180_000);
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
    expect(message).toContain(`${file}:3:7 kind: unknown value 'curvs' (did you mean 'curves'?); one of: curves, final, aps`);
    expect(message).toContain(`${file}:4:1 unknown key 'experimnts' (did you mean 'experiments'?)`);
  });
});

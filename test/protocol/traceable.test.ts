/** A transfer figure whose every number can be traced: target seed s is built on source seed s, the figure's JSON holds
 * every seed's accuracies and its sources' validation and test accuracy, and the results section shows exactly those
 * numbers. Also: a source never stops on its test accuracy. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { duration } from '../../src/figures/tables.js';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { pladder } from '../helpers/cli.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-traceable-'));
const name = `test-traceable-${process.pid}`;
const output = path.join(PROJECT_ROOT, 'figures', name);
afterAll(() => {
  for (const ext of ['svg', 'png', 'md', 'json']) rmSync(`${output}.${ext}`, { force: true });
});

function write(file: string, lines: string[]): string {
  const full = path.join(root, file);
  writeFileSync(full, lines.join('\n'));
  return full;
}

/** A small supervised source on MNIST images [0, 3000) with 500 held out, its stop threshold given. */
const source = (stopAt: number | null, epochs = 2) =>
  write(`source-${stopAt}.yaml`, [
    `name: tiny-source${stopAt === null ? '' : `-stop${Math.round(stopAt * 1e4)}`}`, 'model: { architecture: mlp, widths: [784, 64, 10] }',
    'data: { dataset: mnist, labels: null, pool: { start: 0, stop: 3000 }, validation: 500 }',
    `training: { epochs: ${epochs}, iterations_per_epoch: 10, stop_at_validation_accuracy: ${stopAt ?? 'null'} }`, 'seeds: [1, 2]',
  ]);

describe('a transfer figure', () => {
  it('is built on paired sources, and its results section holds exactly its JSON\'s numbers', async () => {
    const src = source(null);
    const target = write('target.yaml', [
      'name: tiny-target', 'model:', '  architecture: progressive', '  columns:',
      `    - { name: mnist, widths: [784, 64, 10], weights: { from: source, experiment: ${src} }, frozen: true }`,
      '    - { name: target, widths: [784, 64, 10] }',
      'data: { dataset: mnist-m, labels: null, pool: { start: 29500, stop: 32500 } }', 'training: { epochs: 2, iterations_per_epoch: 10 }', 'seeds: [1, 2]',
    ]);
    const figure = write('figure.yaml', [`name: ${name}`, 'title: "tiny transfer"', 'kind: curves', 'accuracies: [0.3]', 'experiments:', `  - { label: "Progressive", file: ${target} }`]);
    const doc = path.join(root, 'results.md');
    const env = { PLADDER_RESULTS_DOC: doc, PLADDER_SOURCES: path.join(root, 'sources') };
    const made = await pladder(['figure', figure, '--device', 'cpu', '--runs-dir', path.join(root, 'runs')], env);
    expect(made.exitCode, made.stderr).toBe(0);

    const data = JSON.parse(readFileSync(`${output}.json`, 'utf8'));
    const runs = data.approaches[0].runs;
    expect(runs.map((r: { seed: number }) => r.seed)).toEqual([1, 2]);
    for (const run of runs) {
      // Paired: target seed s on source seed s + 1000 (never s, whose network starts from the target column's very
      // weights), whose own run directory gives the accuracies the JSON records.
      expect(run.sources).toHaveLength(1);
      const [column] = run.sources;
      expect(column).toMatchObject({ column: 'mnist', experiment: 'tiny-source', seed: run.seed + 1000, epochs: 2 });
      const last = new RunDirectory(column.run).readMetrics().at(-1)!;
      expect(column.validation_accuracy).toBe(last.validation_accuracy);
      expect(column.test_accuracy).toBe(last.test_accuracy);
      expect(run.command).toContain(`figure ${figure}`);
      expect(run.test_accuracy).toEqual(new RunDirectory(run.dir).readMetrics().map((r) => r.test_accuracy));
    }

    // The section's per-seed rows, number for number, from the JSON.
    const section = readFileSync(doc, 'utf8');
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    for (const run of runs) {
      const best = Math.max(...run.test_accuracy);
      const [column] = run.sources;
      const seconds = run.epoch_seconds.reduce((a: number, b: number) => a + b, 0) / run.epoch_seconds.length;
      expect(run.epoch_seconds).toEqual(new RunDirectory(run.dir).readMetrics().map((r) => r.seconds));
      const row = `| Progressive | ${run.seed} | 2 | ${pct(run.test_accuracy[1])} | ${pct(best)} (epoch ${run.test_accuracy.indexOf(best) + 1}) | n/a | ${duration(seconds)} | tiny-source seed ${run.seed + 1000}: validation ${pct(column.validation_accuracy)}, test ${pct(column.test_accuracy)} (epoch 2) |`;
      expect(section).toContain(row);
    }
    expect(section).toContain(`| Progressive | 2 | 2 | ${pct(data.approaches[0].final.mean)} (95% CI`);
    expect(section).toContain(`- command: \`bin/pladder figure ${figure}\`\n`); // the file as given: no make target makes it
    // Who trained the runs, from their environment.json: the command (the sources were trained by it too), the commit.
    expect(section).toContain(`- commands: \`bin/pladder figure ${figure} --device cpu --runs-dir ${path.join(root, 'runs')}\``);
    const { git_commit: commit, started_at: started } = JSON.parse(readFileSync(new RunDirectory(runs[0].dir).file('environment.json'), 'utf8'));
    expect(section).toContain(`- started: ${started.slice(0, 10)}; commit ${commit}\n- drawn: `);
  }, 240_000);
});

describe('a source', () => {
  it('never stops on its test accuracy: a threshold only the test accuracy reaches does not stop it', async () => {
    const free = source(null, 4);
    const runsDir = path.join(root, 'stop-runs');
    const first = await pladder(['run', free, '--device', 'cpu', '--runs-dir', runsDir, '--seeds', '1']);
    expect(first.exitCode, first.stderr).toBe(0);
    const records = new RunDirectory(path.join(runsDir, 'tiny-source', 'seed-1')).readMetrics();
    // An epoch whose test accuracy is above every validation accuracy so far: a threshold between them.
    const epoch = records.findIndex((r, i) => r.test_accuracy > Math.max(...records.slice(0, i + 1).map((x) => x.validation_accuracy!)));
    expect(epoch, 'no epoch with test accuracy above the validation accuracy so far: pick other sizes').toBeGreaterThanOrEqual(0);
    const threshold = (records[epoch]!.test_accuracy + Math.max(...records.slice(0, epoch + 1).map((x) => x.validation_accuracy!))) / 2;
    const stopping = source(threshold, 4);
    const second = await pladder(['run', stopping, '--device', 'cpu', '--runs-dir', runsDir, '--seeds', '1']);
    expect(second.exitCode, second.stderr).toBe(0);
    const run = new RunDirectory(path.join(runsDir, `tiny-source-stop${Math.round(threshold * 1e4)}`, 'seed-1'));
    const again = run.readMetrics();
    expect(again[epoch]!.test_accuracy).toBe(records[epoch]!.test_accuracy); // the same run up to there
    const stoppedAt = run.readResult().epochs;
    expect(stoppedAt).toBeGreaterThan(epoch + 1);
    if (run.readResult().stop_reason === 'validation_accuracy') expect(again.at(-1)!.validation_accuracy).toBeGreaterThanOrEqual(threshold);
    expect(existsSync(run.file('result.json'))).toBe(true);
  }, 240_000);
});

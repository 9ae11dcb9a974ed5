import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/experiments/load.js';
import { provenanceLines, recordSection, RecordError, type Environment } from '../../src/results/record.js';
import { RunDirectory, type EpochRecord } from '../../src/runs/run-dir.js';

const experiment = loadExperiment('experiments/ladder-mnist100.yaml'); // 150 epochs planned

/** A seed's run directory as the runner writes it, with the given test error after each epoch. */
function writeSeed(root: string, seed: number, errors: number[], complete: boolean, device = 'cpu') {
  const dir = new RunDirectory(path.join(root, `seed-${seed}`));
  mkdirSync(dir.dir, { recursive: true });
  dir.writeConfig({ experiment, seed, quick: false, device, data_dir: '/data' });
  dir.writeEnvironment({
    started_at: '2026-11-27T10:00:00.000Z', git_commit: 'abc1234567', platform: 'linux x64 6.1', cpus: '2 x Test CPU',
    argv: ['run', 'experiments/ladder-mnist100.yaml', '--seeds', String(seed)],
    kernel: { python_version: '3.11.2', torch: '1.13.0', device, threads: 2, cuda_name: null },
  });
  const records: EpochRecord[] = errors.map((error, i) => ({
    epoch: i + 1, lr: 0.002, iterations: 600, seconds: 30 + seed, examples_per_s: 4000, loss_total: 1, loss_supervised: 0.1,
    test_accuracy: 1 - error, test_error: error, test_examples: 10000, validation_accuracy: null, validation_error: null, validation_examples: 0, train_seconds: 29, eval_seconds: 1, kernel_seconds: 30,
    wall_seconds: 30, bridge_seconds: 0.01,
  }));
  dir.writeMetrics(records);
  if (complete) {
    dir.writeResult({ epochs: records.length, stop_reason: 'epochs', final_test_error: errors.at(-1)!, best_test_error: Math.min(...errors),
      best_epoch: errors.indexOf(Math.min(...errors)) + 1, mean_epoch_seconds: 30, examples_per_second: 4000, bridge_share: 0, completed_at: '2026-11-27T12:00:00.000Z' });
  }
}

const curve = (final: number, epochs: number) => Array.from({ length: epochs }, (_, i) => final + 0.1 / (i + 1));

describe('pladder record: runs as a section of the results document', () => {
  it('summarizes the complete seeds at the planned epoch and the partial ones at the last common epoch', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-record-'));
    const runs = path.join(root, 'ladder-mnist100');
    writeSeed(runs, 1, curve(0.010, 150), true);
    writeSeed(runs, 2, curve(0.012, 150), true);
    writeSeed(runs, 3, curve(0.020, 40), false);
    const section = await recordSection(runs, { figuresDir: path.join(root, 'figures') });

    expect(section.id).toBe('run-ladder-mnist100');
    expect(section.finalTestError.n).toBe(2);
    expect(section.finalTestError.mean).toBeCloseTo((curve(0.010, 150)[149]! + curve(0.012, 150)[149]!) / 2, 12);
    expect(section.markdown).toContain('2 of 3 complete');
    expect(section.markdown).toContain('| 3 | 40 of 150 (stopped) |');
    expect(section.markdown).toMatch(/Final test error over the 2 complete seed\(s\), epoch 150: mean 1\.1\d %/);
    const at40 = [0.010, 0.012, 0.020].map((f) => f + 0.1 / 40);
    expect(section.markdown).toContain(`At epoch 40, the last that every seed reached: mean ${((100 * at40.reduce((a, b) => a + b)) / 3).toFixed(2)} %`);
    expect(section.markdown).toContain('commit abc1234567');
    expect(section.markdown).toContain('`bin/pladder run experiments/ladder-mnist100.yaml --seeds 3`');
    for (const file of [section.figure.svg, section.figure.png]) expect(existsSync(file)).toBe(true);
    expect(readFileSync(section.figure.svg, 'utf8')).toContain('<svg');
  });

  it('refuses a directory without runs, naming it', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'pladder-record-empty-'));
    writeFileSync(path.join(empty, 'notes.txt'), 'nothing here');
    await expect(recordSection(empty, { figuresDir: empty })).rejects.toThrow(RecordError);
    await expect(recordSection(empty, { figuresDir: empty })).rejects.toThrow(`${empty} holds no seed-N run directory`);
    await expect(recordSection(path.join(empty, 'missing'), { figuresDir: empty })).rejects.toThrow('does not exist');
  });
});

describe('the provenance lines of runs', () => {
  const environment = (argv: string[], resumes: Environment['resumes'] = []): Environment => ({
    started_at: '2026-11-28T10:00:00.000Z',
    git_commit: 'abc1234567',
    platform: 'linux x64',
    cpus: '2 x CPU',
    argv,
    kernel: { python_version: '3.11.2', torch: '1.13.0', device: 'cpu', threads: 1, cuda_name: null },
    resumes,
  });
  const resume = { after_epoch: 5, started_at: '2026-11-29T08:00:00.000Z', git_commit: 'def7654321', argv: ['figure', 'f.yaml', '--continue'] };

  it('gives every command once, resumes included, and names the experiment of a resumed seed where runs are of several', () => {
    const lines = provenanceLines([
      { seed: 3, experiment: 'transfer-a', environment: environment(['figure', 'f.yaml']) },
      { seed: 3, experiment: 'transfer-b', environment: environment(['figure', 'f.yaml'], [resume]) },
    ]);
    expect(lines[0]).toBe('- commands: `bin/pladder figure f.yaml`; `bin/pladder figure f.yaml --continue`');
    expect(lines[1]).toBe('- resumed: transfer-b seed 3 after epoch 5 (2026-11-29)');
    expect(provenanceLines([{ seed: 3, environment: environment(['run', 'e.yaml'], [resume]) }])[1]).toBe('- resumed: seed 3 after epoch 5 (2026-11-29)');
  });
});

/** Runs that go wrong: a loss that diverges, two processes on one run directory, a refused start that must not block
 * the corrected command, inputs missing from a whole job, Ctrl-C, progress written to a log file. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';
import { waitUntil } from '../helpers/processes.js';

/** A supervised MLP on MNIST (fast), with a learning rate of our choosing. */
function mlpExperiment(learningRate: string, iterations = 20) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-mlp-'));
  const file = path.join(dir, 'mlp.yaml');
  writeFileSync(
    file,
    ['name: mlp', 'model: { architecture: mlp }', 'data: { dataset: mnist, labels: 100 }',
      `training: { epochs: 3, iterations_per_epoch: ${iterations}, learning_rate: ${learningRate} }`, 'seeds: [1, 2]',
      `quick: { epochs: 3, iterations_per_epoch: ${iterations}, test_subset: 1000 }`].join('\n'),
  );
  return { file, runsDir: path.join(dir, 'runs'), sources: path.join(dir, 'sources') };
}

describe('a run whose loss becomes NaN or infinite', () => {
  it('ends as diverged: a non-zero exit, marked in its result and summary, never averaged, never a source', async () => {
    const { file, runsDir, sources } = mlpExperiment('1.0e30');
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir], { PLADDER_SOURCES: sources });
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/2 run\(s\) diverged/);
    expect(result.stderr).toMatch(/mlp: seed 1 diverged at epoch 1/);
    for (const seed of [1, 2]) {
      const run = new RunDirectory(path.join(runsDir, 'mlp-quick', `seed-${seed}`));
      const outcome = run.readResult();
      expect(outcome.stop_reason).toBe('diverged');
      expect(outcome.diverged).toEqual({ epoch: 1, last_finite_loss: null });
      expect(run.readMetrics()).toHaveLength(1); // it stopped there
      expect(existsSync(run.file('column.pt'))).toBe(false);
    }
    const summary = JSON.parse(readFileSync(path.join(runsDir, 'mlp-quick', 'summary.json'), 'utf8'));
    expect(summary.final_test_error.n).toBe(0);
    expect(summary.diverged.map((r: { seed: number }) => r.seed)).toEqual([1, 2]);
    expect(existsSync(sources)).toBe(false);
  });

  it('trains on with --allow-divergence, and says where it diverged', async () => {
    const { file, runsDir } = mlpExperiment('1.0e30');
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir, '--seeds', '1', '--allow-divergence']);
    expect(result.exitCode, result.stderr).toBe(0);
    const run = new RunDirectory(path.join(runsDir, 'mlp-quick', 'seed-1'));
    expect(run.readMetrics()).toHaveLength(3);
    expect(run.readResult()).toMatchObject({ stop_reason: 'epochs', diverged: { epoch: 1 } });
  });
});

describe('one process per run directory', () => {
  it('refuses a second process with the holder\'s PID and command; the first ends intact', async () => {
    const { file, runsDir } = mlpExperiment('0.002', 400);
    const args = ['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir, '--seeds', '1'];
    const first = pladder(args);
    const lock = path.join(runsDir, 'mlp-quick', 'seed-1.lock');
    expect(await waitUntil(() => existsSync(lock), 60_000)).toBe(true);
    for (const flag of ['--fresh', '--continue']) {
      const second = await pladder([...args, flag]);
      expect(second.exitCode, second.stderr).toBe(2);
      expect(second.stderr).toContain(`seed-1 is in use by PID ${first.pid}`);
      expect(second.stderr).toContain('pladder run');
    }
    const done = await first;
    expect(done.exitCode, done.stderr).toBe(0);
    const run = new RunDirectory(path.join(runsDir, 'mlp-quick', 'seed-1'));
    expect(run.readMetrics().map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(existsSync(run.file('environment.json'))).toBe(true);
    expect(existsSync(lock)).toBe(false);
  }, 180_000);

  it('takes over a stale lock whose process is gone', async () => {
    const { file, runsDir } = mlpExperiment('0.002');
    const lock = path.join(runsDir, 'mlp-quick', 'seed-1.lock');
    mkdirSync(path.dirname(lock), { recursive: true });
    const ended = execa('true'); // a PID that has just ended
    const gonePid = ended.pid;
    await ended;
    writeFileSync(lock, JSON.stringify({ pid: gonePid, host: os.hostname(), command: 'pladder run (killed)', started_at: '2026-01-01' }));
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir, '--seeds', '1']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });
});

describe('a refused start leaves nothing that blocks the corrected command', () => {
  it('after a refused --device and an impossible --labels, the corrected command trains', async () => {
    const { file, runsDir } = tinyExperimentFile({ epochs: 1, iterations: 5 });
    const base = ['run', file, '--quick', '--runs-dir', runsDir];
    const device = await pladder([...base, '--device', 'cuda']);
    expect(device.exitCode).toBe(2);
    expect(device.stderr).toMatch(/sees no CUDA GPU/);
    const labels = await pladder([...base, '--device', 'cpu', '--labels', '100000']);
    expect(labels.exitCode).toBe(2);
    expect(labels.stderr).toMatch(/100000 labels of mnist means 10000 per class, but its smallest class has 5421/);
    expect(existsSync(path.join(runsDir, 'tiny-quick', 'seed-1'))).toBe(false);
    expect(existsSync(path.join(runsDir, 'tiny-labels100000-quick', 'seed-1'))).toBe(false);
    // A config-only directory left by an older version (or a kill before the first epoch) is started again, not refused.
    const leftover = new RunDirectory(path.join(runsDir, 'tiny-quick', 'seed-1'));
    mkdirSync(leftover.dir, { recursive: true });
    writeFileSync(leftover.file('config.json'), '{}');
    const corrected = await pladder([...base, '--device', 'cpu']);
    expect(corrected.exitCode, corrected.stderr).toBe(0);
    expect(leftover.isComplete()).toBe(true);
  });

  it('a job is refused before any source trains when a dataset it needs is missing', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-nodata-'));
    const sources = path.join(root, 'sources');
    const result = await pladder(
      ['figure', 'experiments/figure5.yaml', '--quick', '--device', 'cpu', '--data-dir', path.join(root, 'data'), '--runs-dir', path.join(root, 'runs')],
      { PLADDER_SOURCES: sources },
    );
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/nothing was trained, because:\n {2}- dataset mnist-m \(needed by transfer-mnistm-baseline.*\) cannot be used: .*mnist-m\/train.npz is missing/);
    expect(existsSync(sources)).toBe(false);
    expect((readdirSync(root, { recursive: true }) as string[]).filter((entry) => entry.includes('seed-'))).toEqual([]);
  });
});

describe('Ctrl-C and logs', () => {
  it('SIGINT says what was kept and how to continue; progress in a log is plain lines', async () => {
    const { file, runsDir } = mlpExperiment('0.002', 300);
    const child = pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir, '--seeds', '1']);
    const run = new RunDirectory(path.join(runsDir, 'mlp-quick', 'seed-1'));
    expect(await waitUntil(() => run.readMetrics().length >= 1, 90_000)).toBe(true);
    child.kill('SIGINT');
    const stopped = await child;
    expect(stopped.exitCode).toBe(130);
    expect(stopped.stderr).toContain('pladder: stopped by SIGINT.');
    expect(stopped.stderr).toMatch(new RegExp(`${run.dir}: [12] complete epoch\\(s\\) saved; continue it with the same command and --continue \\(or 'bin/pladder run --resume ${run.dir}'\\)`));
    // stderr is a pipe here, as in a log file: no bar drawing, no blank-line-separated copies.
    expect(stopped.stderr).not.toMatch(/\n\n\n/);
    expect(stopped.stderr).not.toContain('\u2588');
    expect(stopped.stderr).toMatch(/mlp\/seed-1 epoch 1\/3: test error/);
    const resumed = await pladder(['run', '--resume', run.dir, '--device', 'cpu']);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(run.readMetrics().map((r) => r.epoch)).toEqual([1, 2, 3]);
  }, 180_000);
});

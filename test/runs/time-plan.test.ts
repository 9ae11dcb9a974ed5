/** `--plan`: a job's runs, sources included, and their time here from the epochs measured in the runs directory. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRuns } from '../../src/runs/job.js';
import { RunDirectory, type EpochRecord } from '../../src/runs/run-dir.js';
import { timePlan } from '../../src/runs/time-plan.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { pladder } from '../helpers/cli.js';

const TARGET = 'experiments/transfer-mnistm-ladder-sup.yaml'; // its source: source-ladder-mnist100, which stops at a validation accuracy

/** A run directory with epochs of the given wall-clock seconds, complete (result.json) or not. */
function writeRun(dir: string, seconds: number[], complete: boolean) {
  mkdirSync(dir, { recursive: true });
  const run = new RunDirectory(dir);
  const records: EpochRecord[] = seconds.map((wall, i) => ({
    epoch: i + 1, lr: 0.002, iterations: 295, seconds: wall, examples_per_s: 1000, loss_total: 1, loss_supervised: 1,
    test_accuracy: 0.8, test_error: 0.2, test_examples: 9001, validation_accuracy: null, validation_error: null, validation_examples: 0,
    train_seconds: wall, eval_seconds: 0, kernel_seconds: wall, wall_seconds: wall, bridge_seconds: 0,
  }));
  run.writeMetrics(records);
  if (complete) writeFileSync(run.file('result.json'), '{}');
}

describe('the time plan', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-plan-'));
  const runsDir = path.join(root, 'runs');
  const saved = process.env.PLADDER_SOURCES;
  beforeAll(() => {
    process.env.PLADDER_SOURCES = path.join(root, 'empty-source-cache');
    writeRun(path.join(runsDir, 'transfer-mnistm-ladder-sup-epochs3', 'seed-1'), [2, 2, 2], true);
    writeRun(path.join(runsDir, 'transfer-mnistm-ladder-sup-epochs3', 'seed-2'), [4], false);
    writeRun(path.join(runsDir, 'source-ladder-mnist100', 'seed-1001'), [10, 10], true); // stopped early, after 2 epochs
    // Not measurements of the target: a --quick run, and another experiment whose name starts like it.
    writeRun(path.join(runsDir, 'transfer-mnistm-ladder-sup-quick', 'seed-3'), [0.5], true);
    writeRun(path.join(runsDir, 'transfer-mnistm-ladder-sup-no-bn', 'seed-3'), [100], true);
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.PLADDER_SOURCES;
    else process.env.PLADDER_SOURCES = saved;
  });
  const options = { runsDir, device: 'cpu', quick: false, epochs: 3, seeds: [1, 2, 3] };

  it('counts measured epochs as they took, the rest at the measured rate, and sources at their siblings\' length', () => {
    const plan = timePlan(jobRuns([TARGET], options, '/data'), runsDir);
    const byRun = Object.fromEntries(plan.runs.map((run) => [run.run, run]));
    expect(Object.keys(byRun)).toEqual([
      'transfer-mnistm-ladder-sup-epochs3/seed-1', 'transfer-mnistm-ladder-sup-epochs3/seed-2', 'transfer-mnistm-ladder-sup-epochs3/seed-3',
      'source-ladder-mnist100/seed-1001', 'source-ladder-mnist100/seed-1002', 'source-ladder-mnist100/seed-1003',
    ]);
    expect(byRun['transfer-mnistm-ladder-sup-epochs3/seed-1']).toMatchObject({ epochs_done: 3, run_seconds: 6, left_seconds: 0 });
    // 1 epoch of 4 s done, 2 more at its own 4 s
    expect(byRun['transfer-mnistm-ladder-sup-epochs3/seed-2']).toMatchObject({ epochs_done: 1, run_seconds: 12, left_seconds: 8 });
    // no epoch of its own: the other seeds' 4 epochs (2, 2, 2, 4 s), never the quick run's nor the other experiment's
    const third = byRun['transfer-mnistm-ladder-sup-epochs3/seed-3']!;
    expect(third.measured).toMatchObject({ kind: 'sibling', seconds_per_epoch: 2.5, epochs_measured: 4 });
    expect(third).toMatchObject({ epochs_done: 0, run_seconds: 7.5, left_seconds: 7.5 });
    // The complete source took 20 s; the others are expected to stop where it did (2 epochs), not at its 150.
    expect(byRun['source-ladder-mnist100/seed-1001']).toMatchObject({ role: 'source', epochs: 2, epochs_done: 2, run_seconds: 20, left_seconds: 0 });
    expect(byRun['source-ladder-mnist100/seed-1002']).toMatchObject({ role: 'source', epochs: 2, epochs_done: 0, run_seconds: 20, left_seconds: 20 });
    expect(plan.total_run_seconds).toBeCloseTo(6 + 12 + 7.5 + 20 * 3);
    expect(plan.left_run_seconds).toBeCloseTo(8 + 7.5 + 20 + 20);
    expect(plan.unmeasured).toEqual([]);
  });

  it('leaves a run it has no measurement for out of the sums and names it', () => {
    const plan = timePlan(jobRuns(['experiments/transfer-mnistm-baseline.yaml'], { ...options, seeds: [1] }, '/data'), runsDir);
    expect(plan.runs.map((run) => [run.run, run.measured, run.run_seconds])).toEqual([['transfer-mnistm-baseline-epochs3/seed-1', null, null]]);
    expect(plan.unmeasured).toEqual(['transfer-mnistm-baseline-epochs3/seed-1']);
    expect(plan.total_run_seconds).toBe(0);
  });

  it('pladder run --plan prints the plan and trains nothing', async () => {
    const before = readdirSync(runsDir).sort();
    const result = await pladder(['run', TARGET, '--epochs', '3', '--seeds', '1,2,3', '--runs-dir', runsDir, '--plan', '--parallel', '1'], { PLADDER_SOURCES: path.join(root, 'empty-source-cache') });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\| transfer-mnistm-ladder-sup-epochs3\/seed-2 \| target \| 1\/3 \| 4\.0 s \(its own 1 epochs\) \| 12s \| 8s \|/);
    expect(result.stdout).toMatch(/6 runs\. From scratch: 1m 26s of run time one after another, about 1m 26s with 1 side by side\. Left to train: 56s/);
    expect(readdirSync(runsDir).sort()).toEqual(before);
    expect(existsSync(path.join(runsDir, 'transfer-mnistm-ladder-sup-epochs3', 'seed-3'))).toBe(false);
  }, 60_000);

  it('reproduce --plan with runs not measured here keeps the recorded plan (a fresh clone would write zeros over it), from any folder', async () => {
    const recorded = path.join(PROJECT_ROOT, 'figures', 'reproduce-plan.json');
    const before = readFileSync(recorded);
    const doc = path.join(root, 'results.md');
    // Run from outside the project: reproduce reads its own figure files (it said experiments/figure5.yaml: ENOENT)
    const result = await pladder(['reproduce', '--plan', '--runs-dir', path.join(root, 'no-runs')], { PLADDER_RESULTS_DOC: doc, PLADDER_SOURCES: path.join(root, 'empty-source-cache') }, root);
    const after = readFileSync(recorded);
    if (!after.equals(before)) writeFileSync(recorded, before); // the committed record, put back if the check fails
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/not recorded: (\d+) of \1 runs have no epoch measured here/);
    expect(result.stdout).toMatch(/\d+ runs, none with an epoch measured on this machine, so their time here is unknown/);
    expect(result.stdout).not.toContain('From scratch'); // a sum of nothing read as "0s of run time
    expect(after.equals(before)).toBe(true);
    expect(existsSync(doc)).toBe(false);
  }, 60_000);
});

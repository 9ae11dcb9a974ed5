import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel, toNumber } from '../../src/bridge/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { drawLearningCurve } from '../../src/figures/learning-curve.js';
import { runExperiment, type ExperimentOutcome } from '../../src/runs/experiment.js';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { dataTensorName } from '../../src/runs/runner.js';

// The tensors the runner loaded for the run (the ladder reads the flat784 view).
const train = dataTensorName('mnist', 'flat784', 'train');
const test = dataTensorName('mnist', 'flat784', 'test');
import { scratchData } from '../helpers/data.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const kernel = new Kernel({ device: 'cpu' });
const where = scratchData();
const quiet = { progress: () => undefined, log: () => undefined };
afterAll(() => kernel.stop({ final: true }));

describe('the ladder network, trained briefly on real MNIST through the bridge', () => {
  const { file, runsDir } = tinyExperimentFile({ epochs: 3, iterations: 40 });
  let outcome: ExperimentOutcome;
  let dir: RunDirectory;

  beforeAll(async () => {
    outcome = await runExperiment(kernel, loadExperiment(file), where, { runsDir, device: 'cpu', quick: true }, quiet);
    dir = new RunDirectory(outcome.runs[0]!.dir);
  });

  it('beats chance (90% error) by a wide margin after 120 iterations with 100 labels', () => {
    expect(outcome.runs[0]!.result.final_test_error).toBeLessThan(0.4);
  });

  it('lowers the weighted denoising cost', () => {
    const weights = loadExperiment(file).model;
    if (weights.architecture !== 'ladder') throw new Error('unexpected model');
    const records = dir.readMetrics();
    const weighted = (epoch: number) => (records[epoch]!.loss_denoising ?? []).reduce<number>((sum, cost, l) => sum + (weights.denoising_weights[l] ?? 0) * toNumber(cost ?? NaN), 0);
    expect(records).toHaveLength(3);
    expect(weighted(2)).toBeLessThan(weighted(0));
  });

  it('writes the run directory: config, environment, metrics, model, source column, result, summary', () => {
    for (const name of ['config.json', 'environment.json', 'metrics.jsonl', 'model.pt', 'column.pt', 'result.json'] as const) {
      expect(existsSync(dir.file(name)), name).toBe(true);
    }
    expect(dir.readConfig()).toMatchObject({ seed: 1, quick: true, device: 'cpu' });
    expect(path.basename(outcome.summaryFile)).toBe('summary.json');
  });

  it('draws the learning curve as a picture: a real SVG and a real PNG next to the summary', async () => {
    const learningCurve = await drawLearningCurve(outcome);
    expect(path.dirname(learningCurve.svg)).toBe(path.dirname(outcome.summaryFile));
    expect(readFileSync(learningCurve.svg, 'utf8')).toMatch(/^<svg[\s\S]*test error[\s\S]*<\/svg>$/);
    expect(readFileSync(learningCurve.png).subarray(1, 4).toString()).toBe('PNG');
  });

  it('keeps the clean path deterministic and noise-free, the corrupted path noisy; the saved column is the clean encoder exactly', async () => {
    const split = await kernel.call('data_pool_split', { labels: `${train}.y`, pool: null, validation: 0, labeled: 100, seed: 3, store_as: 'probe.split' });
    await kernel.call('run_create', {
      run_id: 'probe',
      model: { architecture: 'ladder' },
      training: { epochs: 1, iterations_per_epoch: 5, labeled_batch: 100, unlabeled_batch: 100, learning_rate: 0.002, decay_fraction: 0.33 },
      seed: 3,
      tensors: { train_x: `${train}.x`, train_y: `${train}.y`, train: split.train, labeled: split.labeled, validation: null, test_x: `${test}.x`, test_y: `${test}.y` },
      test_limit: 500,
    });
    await kernel.call('run_epoch', { run_id: 'probe', checkpoint_path: null });
    const paths = await kernel.call('run_path_determinism', { run_id: 'probe', x: `${test}.x` });
    expect(paths.clean_identical).toBe(true);
    expect(paths.corrupted_max_abs_difference).toBeGreaterThan(1e-3);
    const files = { model_path: path.join(where.root, 'probe-model.pt'), column_path: path.join(where.root, 'probe-column.pt') };
    await kernel.call('run_export', { run_id: 'probe', ...files });
    const check = await kernel.call('run_column_check', { run_id: 'probe', column_path: files.column_path, x: `${test}.x` });
    expect(check.layers).toBe(6); // 784-1000-500-250-250-250-10: six weight layers
    expect(check.max_abs_difference).toEqual(Array(6).fill(0));
    await kernel.call('run_close', { run_id: 'probe' });
  });
});

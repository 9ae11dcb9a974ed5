/** The convolutional progressive ladder network end to end through the real bridge, in its quick mode: the conv
 * Gamma-model source trained on MNIST [0, 29500), exported as a conv column, frozen, and a Conv-Small target trained on
 * MNIST-M [29500, 59001) with a 1x1-convolution scalar lateral from each hidden layer of the source. */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel } from '../../src/bridge/index.js';
import { resolveDataLocation } from '../../src/data/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { runExperiment, type ExperimentOutcome } from '../../src/runs/experiment.js';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { python } from '../helpers/data.js';

const kernel = new Kernel({ device: 'cpu' });
const quiet = { progress: () => undefined, log: () => undefined };
afterAll(() => kernel.stop({ final: true }));

describe('experiments/transfer-mnistm-conv-ladder-sup.yaml --quick', () => {
  const runsDir = mkdtempSync(path.join(os.tmpdir(), 'pladder-conv-runs-'));
  let outcome: ExperimentOutcome;
  let target: RunDirectory;
  let source: RunDirectory;

  beforeAll(async () => {
    process.env.PLADDER_SOURCES = mkdtempSync(path.join(os.tmpdir(), 'pladder-sources-')); // an empty source cache
    const experiment = loadExperiment(path.join(PROJECT_ROOT, 'experiments', 'transfer-mnistm-conv-ladder-sup.yaml'));
    // The project's data and view cache: MNIST-M's views are computed once, not per test run.
    outcome = await runExperiment(kernel, experiment, resolveDataLocation(), { runsDir, device: 'cpu', quick: true, seeds: [1] }, quiet);
    target = new RunDirectory(outcome.runs[0]!.dir);
    source = new RunDirectory(path.join(runsDir, 'source-conv-gamma-mnist100-quick', 'seed-1001'));
  }, 240_000);

  it('trains the conv Gamma-model source first and the conv target on it, each to its finished run directory', () => {
    for (const dir of [source, target]) {
      for (const name of ['metrics.jsonl', 'model.pt', 'column.pt', 'result.json'] as const) expect(existsSync(dir.file(name)), `${dir.dir}/${name}`).toBe(true);
      expect(dir.readMetrics()).toHaveLength(2);
    }
    // The Gamma-model's denoising cost is the top layer's alone.
    const denoising = source.readMetrics()[1]!.loss_denoising!;
    expect(denoising.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(denoising[6]).toBeGreaterThan(0);
  });

  it('keeps the source column bit for bit in the target, and trains the five laterals\' scalars away from 0.1', async () => {
    const report = await python(`import json, sys, torch; sys.path.insert(0, "${PROJECT_ROOT}"); from py_kernels import safe_load
column = safe_load.load("${source.file('column.pt')}", what="column file", hint="")
model = safe_load.load("${target.file('model.pt')}", what="model file", hint="")["state"]
same = all(torch.equal(v, model["columns.0." + k]) for k, v in column.items())
alphas = [float(v) for k, v in sorted(model.items()) if k.startswith("laterals.") and k.endswith(".alpha")]
print(json.dumps({"same": same, "alphas": alphas, "maps": [list(model[f"laterals.{i}.U"].shape) for i in range(5)]}))`);
    const { same, alphas, maps } = JSON.parse(report) as { same: boolean; alphas: number[]; maps: number[][] };
    expect(same).toBe(true);
    expect(alphas).toHaveLength(5);
    for (const alpha of alphas) expect(alpha).not.toBe(Math.fround(0.1)); // alpha_init, as float32 holds it
    // U per lateral (out, in): channels to channels for the maps, the flattened 10x6x6 map into the top's 10 units.
    expect(maps).toEqual([[64, 32], [64, 64], [128, 64], [10, 128], [10, 360]]);
  });
});

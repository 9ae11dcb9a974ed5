/** Ladder training benchmark: one full epoch of the recipe through the real runner, and the plain PyTorch loop. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kernel } from '../bridge/index.js';
import { resolveDataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import { PROJECT_ROOT } from '../paths.js';
import { RunDirectory } from '../runs/run-dir.js';
import { trainRun } from '../runs/runner.js';

export interface LadderBench {
  iterations: number;
  epochSeconds: number;
  examplesPerSecond: number;
  bridgeShare: number;
  plainIterations: number;
  plainEpochSeconds: number;
}

export async function measureLadder(device: string, log: (line: string) => void, plainIterations = 60): Promise<LadderBench> {
  const base = loadExperiment(path.join(PROJECT_ROOT, 'experiments', 'ladder-mnist100.yaml'));
  const experiment = { ...base, training: { ...base.training, epochs: 1 } };
  const runsDir = mkdtempSync(path.join(os.tmpdir(), 'pladder-bench-run-'));
  const where = resolveDataLocation();
  const kernel = new Kernel({ device });
  try {
    const dir = new RunDirectory(path.join(runsDir, 'seed-1'));
    dir.writeConfig({ experiment, seed: 1, quick: false, device, data_dir: where.dataDir });
    let lastShown = 0;
    const result = await trainRun(kernel, dir, where, {
      progress: (done, total) => {
        if (done - lastShown >= 100 || done === total) log(`    ${done}/${total} iterations`);
        if (done - lastShown >= 100) lastShown = done;
      },
      log: () => undefined,
    });
    log(`  ours: ${result.mean_epoch_seconds.toFixed(1)} s per ${experiment.training.iterations_per_epoch}-iteration epoch; running the plain loop (${plainIterations} iterations)`);
    const plain = await kernel.call('bench_plain_ladder', {
      x: 'data.mnist.train.x',
      y: 'data.mnist.train.y',
      labeled: `${experiment.name}/seed-1.labeled`,
      iterations: plainIterations,
    });
    return {
      iterations: experiment.training.iterations_per_epoch,
      epochSeconds: result.mean_epoch_seconds,
      examplesPerSecond: result.examples_per_second,
      bridgeShare: result.bridge_share,
      plainIterations,
      plainEpochSeconds: plain.seconds_per_iteration * experiment.training.iterations_per_epoch,
    };
  } finally {
    await kernel.stop({ final: true });
    rmSync(runsDir, { recursive: true, force: true });
  }
}

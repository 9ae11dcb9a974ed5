/** Ladder training benchmark: one full epoch of the recipe through the real runner, the plain PyTorch loop, the step
 * against its matrix products, the conv Gamma-model's step, and runs side by side. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { calls, Kernel } from '../bridge/index.js';
import { resolveDataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import { PROJECT_ROOT } from '../paths.js';
import { RunDirectory } from '../runs/run-dir.js';
import { dataTensorName, trainRun } from '../runs/runner.js';

export const ladderBenchSchema = z.object({
  /** The kernel's device ('auto' resolved): what the figures ran on. */
  device: z.string(),
  iterations: z.number().int(),
  epochSeconds: z.number(),
  examplesPerSecond: z.number(),
  bridgeShare: z.number(),
  plainIterations: z.number().int(),
  plainEpochSeconds: z.number(),
  /** One step against its matrix products alone, and with the torch ops instead of the C kernels
   * (py_kernels/reference/step_matmuls.py): the kernel's figures as it returned them. */
  matmuls: calls.bench_ladder_step.result,
  /** The convolutional Gamma-model's step (experiments/conv-gamma-mnist100.yaml) with the C kernels and with torch's
   * ops: the kernel's figures as it returned them. */
  conv: calls.bench_native_step.result,
  /** The 1-minute load average as the measurement began: other processes on the machine take cores too. */
  loadAverage: z.number(),
  /** Runs side by side, one kernel each with an equal share of the cores (absent on a 1-core machine). */
  sideBySide: z.object({ workers: z.number().int(), threadsEach: z.number().int(), iterationsEach: z.number().int(), examplesPerSecond: z.number() }).optional(),
});
export type LadderBench = z.infer<typeof ladderBenchSchema>;

type Recipe = ReturnType<typeof loadExperiment>;

/** One run of `experiment` (1 epoch) through the real runner in `dir` on `kernel`. */
async function trainOne(kernel: Kernel, experiment: Recipe, dir: string, device: string, progress: (done: number, total: number) => void) {
  const where = resolveDataLocation();
  const run = new RunDirectory(dir);
  run.writeConfig({ experiment, seed: 1, quick: false, device, data_dir: where.dataDir });
  return trainRun(kernel, run, where, { progress, log: () => undefined });
}

export async function measureLadder(
  device: string,
  log: (line: string) => void,
  plainIterations = 60,
  sideBySideIterations = 150,
  matmulSlice = { iterations: 10, rounds: 8 },
  convSlice = { iterations: 2, rounds: 4 },
): Promise<LadderBench> {
  const loadAverage = os.loadavg()[0] ?? 0; // other processes on the machine take cores too
  const base = loadExperiment(path.join(PROJECT_ROOT, 'experiments', 'ladder-mnist100.yaml'));
  const experiment = { ...base, training: { ...base.training, epochs: 1 } };
  const runsDir = mkdtempSync(path.join(os.tmpdir(), 'pladder-bench-run-'));
  const kernel = new Kernel({ device });
  try {
    const kernelDevice = (await kernel.info()).device; // 'auto' resolved
    let lastShown = 0;
    const result = await trainOne(kernel, experiment, path.join(runsDir, 'seed-1'), device, (done, total) => {
      if (done - lastShown >= 100 || done === total) log(`    ${done}/${total} iterations`);
      if (done - lastShown >= 100) lastShown = done;
    });
    log(`  ours: ${result.mean_epoch_seconds.toFixed(1)} s per ${experiment.training.iterations_per_epoch}-iteration epoch; running the plain loop (${plainIterations} iterations)`);
    const { model } = experiment;
    const mnistTrain = dataTensorName('mnist', 'flat784', 'train'); // what the run above loaded into this kernel
    if (model.architecture !== 'ladder') throw new Error(`${experiment.name} is not a ladder: the plain loop reproduces the ladder's recipe`);
    const plain = await kernel.call('bench_plain_ladder', {
      x: `${mnistTrain}.x`,
      y: `${mnistTrain}.y`,
      labeled: `${experiment.name}/seed-1.split.labeled`, // data_pool_split stores the run's split as <run id>.split.*
      iterations: plainIterations,
      model,
      learning_rate: experiment.training.learning_rate,
    });
    log(`  the step against its matrix products alone: ${matmulSlice.rounds} rounds of ${matmulSlice.iterations} iterations each`);
    const step = await kernel.call('bench_ladder_step', {
      x: `${mnistTrain}.x`,
      y: `${mnistTrain}.y`,
      labeled: `${experiment.name}/seed-1.split.labeled`, // data_pool_split stores the run's split as <run id>.split.*
      model,
      training: experiment.training,
      ...matmulSlice,
    });
    const convExperiment = loadExperiment(path.join(PROJECT_ROOT, 'experiments', 'conv-gamma-mnist100.yaml'));
    if (convExperiment.model.architecture !== 'conv_ladder') throw new Error(`${convExperiment.name} is not a conv ladder`);
    log(`  the conv Gamma-model's step with the C kernels and with torch's ops: ${convSlice.rounds} rounds of ${convSlice.iterations} iterations each`);
    const conv = await kernel.call('bench_native_step', {
      x: `${mnistTrain}.x`,
      y: `${mnistTrain}.y`,
      labeled: `${experiment.name}/seed-1.split.labeled`,
      model: convExperiment.model,
      training: convExperiment.training,
      ...convSlice,
    });
    await kernel.stop({ final: true }); // its cores go to the runs side by side
    return {
      device: kernelDevice,
      iterations: experiment.training.iterations_per_epoch,
      epochSeconds: result.mean_epoch_seconds,
      examplesPerSecond: result.examples_per_second,
      bridgeShare: result.bridge_share,
      plainIterations,
      plainEpochSeconds: plain.seconds_per_iteration * experiment.training.iterations_per_epoch,
      matmuls: step,
      conv,
      loadAverage,
      ...(os.availableParallelism() > 1 ? { sideBySide: await measureSideBySide(experiment, runsDir, device, sideBySideIterations, log) } : {}),
    };
  } finally {
    await kernel.stop({ final: true });
    rmSync(runsDir, { recursive: true, force: true });
  }
}

/** What `--parallel` gains: one short run per core-share at once, throughput counted over all of them (training time
 * inside the kernels, as for the single run). */
async function measureSideBySide(base: Recipe, runsDir: string, device: string, iterations: number, log: (line: string) => void) {
  const workers = Math.min(os.availableParallelism(), 4);
  const threadsEach = Math.max(1, Math.floor(os.availableParallelism() / workers));
  log(`  side by side: ${workers} runs of ${iterations} iterations, ${threadsEach} thread(s) each`);
  const experiment = { ...base, training: { ...base.training, iterations_per_epoch: iterations } };
  const kernels = Array.from({ length: workers }, () => new Kernel({ device, threads: threadsEach }));
  try {
    await Promise.all(kernels.map((k) => k.info())); // started (torch loaded) before the clock matters
    const results = await Promise.all(kernels.map((k, i) => trainOne(k, experiment, path.join(runsDir, `side-${i}`), device, () => undefined)));
    const examplesPerSecond = results.reduce((sum, r) => sum + r.examples_per_second, 0);
    return { workers, threadsEach, iterationsEach: iterations, examplesPerSecond };
  } finally {
    await Promise.all(kernels.map((k) => k.stop({ final: true })));
  }
}

/** Seeds as one job: K ladders trained in one kernel, as one batched network and as K single-seed trainers stepped by
 * the kernel's threads, against K single-seed kernels side by side. */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { Kernel } from '../bridge/index.js';
import { loadView, resolveDataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import { PROJECT_ROOT } from '../paths.js';

/** What one side-by-side kernel needs at least (torch, the 10000-image pool, a ladder's training state), measured
 * at 0.5-0.6 GB: fewer kernels are started where the free memory would not hold them. */
const KERNEL_BYTES = 0.8e9;

const throughputSchema = z.object({ examplesPerSecond: z.number(), rounds: z.array(z.number()) });

export const seedsRowSchema = z.object({
  seeds: z.number().int(),
  iterations: z.number().int(),
  /** Examples per second of all K seeds together: the mean over the rounds, and each round's. */
  batched: throughputSchema,
  /** The K seeds' own trainers stepped by the kernel's threads (py_kernels/seed_threads.py); K > 1 only. */
  seedThreads: throughputSchema.extend({ threads: z.number().int() }).optional(),
  /** `seeds` single-seed kernels at once, each with `threadsEach` threads; absent where memory would not hold them. */
  sideBySide: throughputSchema.extend({ threadsEach: z.number().int() }).optional(),
  skipped: z.string().optional(),
});
export type SeedsRow = z.infer<typeof seedsRowSchema>;

export const seedsBenchSchema = z.object({
  device: z.string(),
  cores: z.number().int(),
  /** The 1-minute load average as the measurement began: other processes on the machine take cores too. */
  loadAverage: z.number(),
  /** One single-seed kernel alone (the `--parallel 1` run), for scale. */
  single: z.object({ examplesPerSecond: z.number(), iterations: z.number().int() }),
  rows: z.array(seedsRowSchema),
});
export type SeedsBench = z.infer<typeof seedsBenchSchema>;

type Call = { x: string; y: string; model: ReturnType<typeof recipe>['model']; training: ReturnType<typeof recipe>['training'] };

function recipe() {
  const experiment = loadExperiment(path.join(PROJECT_ROOT, 'experiments', 'ladder-mnist100.yaml'));
  if (experiment.model.architecture !== 'ladder') throw new Error(`${experiment.name} is not a ladder`);
  return { model: experiment.model, training: experiment.training };
}

/** A started kernel with the pool loaded: MNIST's 10000 test images (small enough for 15 kernels at once; the speed
 * of a step does not depend on which images it reads). */
async function kernelWithPool(device: string, threads?: number): Promise<{ kernel: Kernel; x: string; y: string }> {
  const kernel = new Kernel({ device, ...(threads ? { threads } : {}) });
  const loaded = await loadView(kernel, { name: 'mnist', split: 'test', view: 'flat784', as: 'bench-seeds' }, resolveDataLocation());
  return { kernel, x: loaded.x, y: loaded.y };
}

/** Iterations per measurement: about the same work for every K, at least 4 steps. */
const iterationsFor = (seeds: number, budget: number) => Math.max(4, Math.round(budget / seeds));

/** Examples per second over the rounds: their mean, and each round's. */
const throughput = (rounds: number[]) => ({ examplesPerSecond: rounds.reduce((a, b) => a + b, 0) / Math.max(1, rounds.length), rounds });

/** K single-seed kernels at once: examples over the span from the first start to the last end (kernels that did not
 * overlap fully count for less than the sum of their own rates). */
async function sideBySideRound(kernels: { kernel: Kernel; x: string; y: string }[], call: Omit<Call, 'x' | 'y'>, iterations: number): Promise<number> {
  const results = await Promise.all(kernels.map((k) => k.kernel.call('bench_seeds_ladder', { ...call, x: k.x, y: k.y, seeds: 1, how: 'alone', iterations })));
  const span = Math.max(...results.map((r) => r.ended)) - Math.min(...results.map((r) => r.started));
  return results.reduce((sum, r) => sum + r.examples, 0) / span;
}

/** For each K: the K seeds as one batched network, then as their own trainers in threads (both in the main kernel,
 * which keeps all the cores and is idle while the others run), then K kernels side by side, in turn, `rounds` times,
 * so that all see the same changes in the machine's load. */
export async function measureSeeds(device: string, log: (line: string) => void, counts = [1, 3, 15], budget = 90, rounds = 3): Promise<SeedsBench> {
  const { model, training } = recipe();
  const cores = os.availableParallelism();
  const loadAverage = os.loadavg()[0] ?? 0;
  const rows: SeedsRow[] = [];
  const main = await kernelWithPool(device);
  try {
    const { threads, device: kernelDevice } = await main.kernel.info(); // 'auto' resolved: what the figures ran on
    const base: Call = { x: main.x, y: main.y, model, training };
    const iterations = iterationsFor(1, budget);
    const alone = await main.kernel.call('bench_seeds_ladder', { ...base, seeds: 1, how: 'alone', iterations });
    const single = { examplesPerSecond: alone.examples_per_second, iterations };
    log(`  one seed alone: ${Math.round(single.examplesPerSecond)} examples/s`);
    for (const seeds of counts) {
      const its = iterationsFor(seeds, budget);
      const threadsEach = Math.max(1, Math.floor(cores / seeds));
      const room = Math.floor(os.freemem() / KERNEL_BYTES);
      const skipped = seeds > 1 && seeds > room ? `${seeds} kernels need about ${((seeds * KERNEL_BYTES) / 1e9).toFixed(0)} GB, ${(os.freemem() / 1e9).toFixed(1)} GB free` : undefined;
      if (skipped) log(`  ${seeds} side by side: skipped (${skipped})`);
      // one kernel side by side is the single run above
      const side = seeds > 1 && !skipped ? await Promise.all(Array.from({ length: seeds }, () => kernelWithPool(device, threadsEach))) : [];
      const batchedRounds: number[] = [];
      const threadRounds: number[] = [];
      const sideRounds: number[] = [];
      try {
        for (let round = 0; round < rounds; round++) {
          const batched = await main.kernel.call('bench_seeds_ladder', { ...base, seeds, how: 'batched_network', iterations: its });
          batchedRounds.push(batched.examples_per_second);
          log(`  ${seeds} seed(s) batched: ${Math.round(batched.examples_per_second)} examples/s (${its} iterations)`);
          if (seeds > 1) {
            const threaded = await main.kernel.call('bench_seeds_ladder', { ...base, seeds, how: 'seed_threads', iterations: its });
            threadRounds.push(threaded.examples_per_second);
            log(`  ${seeds} seeds in ${threads} threads: ${Math.round(threaded.examples_per_second)} examples/s`);
          }
          if (!side.length) continue;
          const together = await sideBySideRound(side, { model, training }, its);
          sideRounds.push(together);
          log(`  ${seeds} side by side (${threadsEach} thread(s) each): ${Math.round(together)} examples/s together`);
        }
      } finally {
        await Promise.all(side.map((k) => k.kernel.stop({ final: true })));
      }
      rows.push({
        seeds,
        iterations: its,
        batched: throughput(batchedRounds),
        ...(threadRounds.length ? { seedThreads: { ...throughput(threadRounds), threads } } : {}),
        ...(sideRounds.length ? { sideBySide: { ...throughput(sideRounds), threadsEach } } : {}),
        ...(skipped ? { skipped } : {}),
      });
    }
    return { device: kernelDevice, cores, loadAverage, single, rows };
  } finally {
    await main.kernel.stop({ final: true });
  }
}

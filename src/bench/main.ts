/** `make bench`: measures, prints, and records each figure in docs/results.md with command, machine, date and commit. */
import { kernelFor, stopAllKernels } from '../bridge/index.js';
import { bridgeBenchSchema, measureLatency, measurePull, type BridgeBench, type PullResult } from './bridge.js';
import { dataBenchSchema, measureDataLoads } from './data.js';
import { ladderStepSpec, pullsSpec, seedsSpec } from './figures.js';
import { ladderBenchSchema, measureLadder } from './ladder.js';
import { recordBench, type RecordedBench } from './record.js';
import { measureSeeds, seedsBenchSchema, type SeedsRow } from './seeds.js';
import type { MachineStamp } from '../provenance/machine.js';
import { table, writeSection } from '../results/document.js';

const rate = (bytesPerSecond: number) => (bytesPerSecond >= 1e8 ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s` : `${(bytesPerSecond / 1e6).toFixed(2)} MB/s`);

function stampLines(stamp: MachineStamp, command: string): string {
  return [`- command: \`${command}\``, `- machine: ${stamp.machine}`, `- date: ${stamp.date}`, `- commit: ${stamp.commit}`].join('\n');
}

export async function benchBridge(device: string, log: (line: string) => void): Promise<void> {
  const kernel = kernelFor(device);
  const info = await kernel.info();
  log(`bridge: kernel on ${info.device} (torch ${info.torch}); measuring call latency`);
  const latency = await measureLatency(kernel);
  log(`  latency: median ${latency.medianMs.toFixed(3)} ms, mean ${latency.meanMs.toFixed(3)} ms over ${latency.calls} calls`);
  const pulls: PullResult[] = [];
  for (const [path, values, repeats] of [
    ['json', 1e5, 3],
    ['json', 1e6, 1],
    ['binary', 1e6, 5],
    ['binary', 1e7, 3],
    ['binary', 1e8, 4],
  ] as const) {
    log(`  pull ${values.toExponential(0)} float32 by the ${path} path...`);
    const result = await measurePull(kernel, path, values, repeats);
    log(`    best ${result.seconds.toFixed(3)} s (${rate(result.bytesPerSecond)}), median ${result.medianSeconds.toFixed(3)} s of ${result.repeats}`);
    pulls.push(result);
  }
  const kernelInfo = { device: info.device, python_version: info.python_version, torch: info.torch, blas: info.blas };
  writeBridgeSection(await recordBench('bridge', bridgeBenchSchema, { kernel: kernelInfo, latency, pulls }, info.device, pullsSpec));
}

function writeBridgeSection({ stamp, measured, links }: RecordedBench<BridgeBench>): void {
  const { latency, pulls, kernel: info } = measured;
  const json = pulls.filter((p) => p.path === 'json').at(-1);
  const binary = pulls.filter((p) => p.path === 'binary');
  const largest = binary.at(-1);
  const sameSize = binary.find((p) => p.values === json?.values);
  const ratio = (p: PullResult | undefined) => (p && json ? (p.bytesPerSecond / json.bytesPerSecond).toFixed(0) : 'n/a');
  writeSection(
    'bridge',
    [
      '## Bridge: call latency and tensor pull',
      '',
      stampLines(stamp, 'make bench   (pladder bench --only bridge)'),
      `- kernel: Python ${info.python_version}, torch ${info.torch}, BLAS ${info.blas}`,
      links,
      '',
      table(
        ['figure', 'value', 'target'],
        [
          ['bridge call latency, median (ping, ' + latency.calls + ' calls)', `${latency.medianMs.toFixed(3)} ms`, '< 0.5 ms'],
          ['bridge call latency, mean / p99', `${latency.meanMs.toFixed(3)} / ${latency.p99Ms.toFixed(3)} ms`, ''],
          ...pulls.map((p) => [
            `pull ${p.values.toExponential(0)} float32, ${p.path} path (best of ${p.repeats})`,
            `${p.seconds.toFixed(3)} s = ${rate(p.bytesPerSecond)}; median ${p.medianSeconds.toFixed(3)} s = ${rate((p.values * 4) / p.medianSeconds)}`,
            p.path === 'binary' && p.values === 1e8 ? '>= 1 GB/s' : '',
          ]),
          [`binary at 1e8 / JSON at ${json?.values.toExponential(0)} (rate ratio)`, `${ratio(largest)}x`, '>= 300x'],
          [`binary / JSON on the same ${json?.values.toExponential(0)} values`, `${ratio(sameSize)}x`, ''],
        ],
      ),
      '',
      'The binary path: Python writes the tensor\'s raw little-endian bytes to a file in a RAM-backed folder (/dev/shm),',
      'Node reads them into a typed array. The JSON path is pythonia\'s own: `tensor.tolist()` serialised and parsed.',
      'Each time includes the Python-side export. The first pulls of a large tensor are slower while the OS',
      "assembles huge pages for Node's fresh buffers (bin/pladder asks glibc for them); the best is the steady state.",
      'Measured with the machine otherwise idle.',
    ].join('\n'),
  );
}

export async function benchData(device: string, log: (line: string) => void): Promise<void> {
  log('data: flat784 views, first (uncached) and cached load, each in a fresh kernel');
  const recorded = await recordBench('data', dataBenchSchema, await measureDataLoads(device, log), device);
  const { stamp, links, measured: { dataDir, timings } } = recorded;
  writeSection(
    'data',
    [
      '## Data: loading the flat784 view',
      '',
      stampLines(stamp, 'make bench   (pladder bench --only data)'),
      `- data directory: ${dataDir}`,
      links,
      '',
      table(
        ['dataset', 'split', 'examples', 'first load (s)', 'cached load (s)'],
        timings.map((t) => [t.dataset, t.split, t.examples, t.firstSeconds.toFixed(2), t.cachedSeconds.toFixed(2)]),
      ),
      '',
      'First load: read and check the source files (md5), convert (luma and 32->28 resize for the RGB sets), write the',
      'cache. Cached load: md5 (memoised by size and mtime) and the cached array. A dataset whose files the data',
      'directory lacks has no row (`pladder data` says how to get it).',
    ].join('\n'),
  );
}

/** The CPU thread pools a kernel gives its threads to (py_kernels/cpu_threads.py), as the results name them. */
const POOL_NAMES = { blas: "OpenBLAS's pool", torch: "torch's pool" } as const;

export async function benchLadder(device: string, log: (line: string) => void): Promise<void> {
  log('ladder: one full epoch of experiments/ladder-mnist100.yaml through the runner, then the plain PyTorch loop');
  const measured = await measureLadder(device, log);
  const { stamp, measured: b, links } = await recordBench('ladder', ladderBenchSchema, measured, measured.device, ladderStepSpec);
  const m = b.matmuls;
  writeSection(
    'ladder',
    [
      '## Ladder training throughput',
      '',
      stampLines(stamp, 'make bench   (pladder bench --only ladder)'),
      `- load average ${b.loadAverage.toFixed(1)} as it began (other processes share the cores)`,
      links,
      '',
      table(
        ['figure', 'value', 'target'],
        [
          [`ladder epoch (${b.iterations} iterations of 100 labeled + 100 unlabeled)`, `${b.epochSeconds.toFixed(1)} s`, 'no slower than the plain loop'],
          ['training throughput', `${Math.round(b.examplesPerSecond)} examples/s`, ''],
          ["bridge share of the epoch's wall time", `${(100 * b.bridgeShare).toFixed(3)} %`, '< 2 %'],
          [`plain PyTorch loop of the same recipe (${b.plainIterations} iterations, scaled to ${b.iterations})`, `${b.plainEpochSeconds.toFixed(1)} s`, ''],
          ['speed-up over the plain loop', `${(b.plainEpochSeconds / b.epochSeconds).toFixed(2)}x`, '>= 1x'],
          [
            `one step / its matrix products alone (median of ${m.rounds} alternated rounds of ${m.iterations} iterations)`,
            `${(1e3 * m.step_seconds).toFixed(1)} ms / ${(1e3 * m.matmul_seconds).toFixed(1)} ms = ${m.ratio.toFixed(2)}x (${m.gflop_per_step.toFixed(2)} GFLOP per step at ${m.matmul_gflops.toFixed(0)} GFLOP/s)`,
            '<= 1.15x',
          ],
          [
            `the step's draws alone (${m.draws_per_step} normal draws, ${m.values_drawn_per_step} values from torch's generator) and its Adam update alone (${m.parameters} parameters), in the same rounds`,
            `${(1e3 * m.draw_seconds).toFixed(1)} ms and ${(1e3 * m.adam_seconds).toFixed(1)} ms: products + draws + Adam = ${(1e3 * (m.matmul_seconds + m.draw_seconds + m.adam_seconds)).toFixed(1)} ms = ${m.floor_ratio.toFixed(2)}x the products`,
            '',
          ],
          ...(m.torch_ops_seconds !== null
            ? [
                [
                  "the same step with torch's ops instead of the C kernels (`PLADDER_NATIVE=0`, in the same rounds)",
                  `${(1e3 * m.torch_ops_seconds).toFixed(1)} ms = ${(m.torch_ops_seconds / m.step_seconds).toFixed(2)}x the step with the C kernels`,
                  '',
                ],
              ]
            : []),
          [
            `conv Gamma-model step (experiments/conv-gamma-mnist100.yaml; median of ${b.conv.rounds} alternated rounds of ${b.conv.iterations} iterations)`,
            b.conv.torch_ops_seconds === null
              ? `${(1e3 * b.conv.step_seconds).toFixed(0)} ms (torch's ops: no C kernels here)`
              : `${(1e3 * b.conv.step_seconds).toFixed(0)} ms with the C kernels, ${(1e3 * b.conv.torch_ops_seconds).toFixed(0)} ms with torch's ops (${(b.conv.torch_ops_seconds / b.conv.step_seconds).toFixed(2)}x)`,
            '',
          ],
          ...(b.conv.pool !== null && b.conv.other_pool_seconds !== null
            ? [
                [
                  `the same conv step with the kernel's threads in ${POOL_NAMES[b.conv.pool === 'torch' ? 'blas' : 'torch']} instead of ${POOL_NAMES[b.conv.pool]} (in the same rounds)`,
                  `${(1e3 * b.conv.other_pool_seconds).toFixed(0)} ms = ${(b.conv.other_pool_seconds / b.conv.step_seconds).toFixed(2)}x the step as runs take it`,
                  '',
                ],
              ]
            : []),
          ...(b.sideBySide
            ? [
                [
                  `${b.sideBySide.workers} runs side by side (\`--parallel ${b.sideBySide.workers}\`, ${b.sideBySide.threadsEach} thread(s) each, ${b.sideBySide.iterationsEach} iterations each)`,
                  `${Math.round(b.sideBySide.examplesPerSecond)} examples/s together, ${(b.sideBySide.examplesPerSecond / b.examplesPerSecond).toFixed(2)}x one run`,
                  '> 1x',
                ],
              ]
            : []),
        ],
      ),
      '',
      "The epoch is one `run_epoch` bridge call (training, evaluation on the 10000 test images, checkpoint). The",
      "bridge share is the call's wall time in TypeScript minus the time inside the kernel. The plain loop",
      '(`py_kernels/reference/plain_ladder.py`) runs separate clean and corrupted passes in the same kernel, under the',
      "same thread settings; ours fuses them into one matrix product per layer (py_kernels/models/ladder.py).",
      "The matrix products alone: every F.linear of one real step, recorded, and its forward, grad-of-input and",
      'grad-of-weight GEMMs replayed at the same shapes on random operands (py_kernels/reference/step_matmuls.py),',
      'alternated with slices of real steps in one kernel so that both see the same machine load: what the step would',
      'cost if everything but its matrix products took no time. Each figure is the median over the rounds, so that a',
      'round slowed by another process on the machine does not move it.',
      "On the CPU the step's element-wise work (every batch norm with the ladder's noise, the combinator, Adam) runs as",
      'the C kernels of py_kernels/native where they are built (`pladder doctor`: fused ops); the next row times the',
      "same steps with torch's ops in their place, in the same rounds, and the conv row does the same for the conv",
      "Gamma-model (there torch's ops are the same fused autograd nodes, built from torch ops).",
      "Two parts of the step are fixed by its numbers, not by how it is written: the noise, drawn from torch's",
      "generator (the stream each seed's run is reproduced from), and the fp32 Adam update, one memory-bound pass per",
      'parameter. The draws row replays the same draws and one Adam update over parameters of the same shapes, in the',
      'same rounds: products + draws + Adam is the least a step can cost while those stay, so a step/products target',
      'below that ratio cannot be met here without changing the noise stream or the optimiser. The rest of the gap is',
      "the element-wise work (batch norm, combinator, ReLU, losses) and the dispatch of the step's small ops.",
      "A CPU kernel gives its threads to the pool its model's step runs in, one thread to the other",
      "(py_kernels/cpu_threads.py): OpenBLAS's for the fc ladder (matrix products), torch's for the conv Gamma-model",
      "(oneDNN's convolutions); the last row times the conv step with them the other way round, as every model had",
      'them before.',
    ].join('\n'),
  );
}

export async function benchSeeds(device: string, log: (line: string) => void): Promise<void> {
  log('seeds: K ladders of experiments/ladder-mnist100.yaml in one kernel (batched network, seed threads), against K kernels side by side');
  const measured = await measureSeeds(device, log);
  const { stamp, measured: b, links } = await recordBench('seeds', seedsBenchSchema, measured, measured.device, seedsSpec);
  const per = (eps: number) => `${Math.round(eps)} examples/s (${(eps / b.single.examplesPerSecond).toFixed(2)}x one seed alone)`;
  const rounds = (values: number[]) => `rounds: ${values.map((v) => Math.round(v)).join(', ')}`;
  const against = (eps: number | undefined, r: SeedsRow) => (eps !== undefined && r.sideBySide ? `${(eps / r.sideBySide.examplesPerSecond).toFixed(2)}x` : '');
  writeSection(
    'seeds',
    [
      '## Seeds as one job: batched network and seed threads against side by side',
      '',
      stampLines(stamp, 'make bench   (pladder bench --only seeds)'),
      links,
      `- cores: ${b.cores}, load average ${b.loadAverage.toFixed(1)} as it began (other processes share the cores); one seed alone (the single-seed trainer, ${b.single.iterations} iterations): ${Math.round(b.single.examplesPerSecond)} examples/s`,
      '',
      table(
        ['seeds K', 'iterations', 'K as one batched network', 'K in threads of one kernel', 'K kernels side by side', 'batched / side by side', 'threads / side by side'],
        b.rows.map((r) => [
          r.seeds,
          r.iterations,
          `${per(r.batched.examplesPerSecond)}; ${rounds(r.batched.rounds)}`,
          r.seedThreads ? `${per(r.seedThreads.examplesPerSecond)}, ${r.seedThreads.threads} threads; ${rounds(r.seedThreads.rounds)}` : '',
          r.sideBySide
            ? `${per(r.sideBySide.examplesPerSecond)}, ${r.sideBySide.threadsEach} thread(s) each; ${rounds(r.sideBySide.rounds)}`
            : r.seeds === 1
              ? '(one seed alone, above)'
              : `skipped: ${r.skipped}`,
          against(r.batched.examplesPerSecond, r),
          against(r.seedThreads?.examplesPerSecond, r),
        ]),
      ),
      '',
      'Batched network: the K seeds as one module whose parameters carry a leading K dimension',
      '(py_kernels/batched_training.py), all cores to one kernel. Threads: each seed\'s own single-seed trainer in the',
      'same kernel, its steps taken by one worker thread per core, one thread each (py_kernels/seed_threads.py;',
      'what `--batch-seeds` runs on a CPU kernel of two or more threads). Side by side: K single-seed kernels at once,',
      'the cores shared out (what `--parallel K` runs), counted over the span from the first start to the last end.',
      'The three take turns, round by round, so that all see the same changes in the machine\'s load; the table gives',
      'the mean over the rounds. Each kernel trains on MNIST\'s 10000 test images as its pool (the step\'s speed does',
      'not depend on which images it reads), 100 + 100 per batch, after two warm-up iterations; the iterations shrink',
      'with K so each row does about the same work.',
    ].join('\n'),
  );
}

export const BENCHMARKS = ['bridge', 'data', 'ladder', 'seeds'] as const;

export async function runBench(options: { device: string; only?: string }, log: (line: string) => void = console.log): Promise<void> {
  try {
    if (!options.only || options.only === 'bridge') await benchBridge(options.device, log);
    if (!options.only || options.only === 'data') await benchData(options.device, log);
    if (!options.only || options.only === 'ladder') await benchLadder(options.device, log);
    if (!options.only || options.only === 'seeds') await benchSeeds(options.device, log);
    log('results written to docs/results.md');
  } finally {
    await stopAllKernels();
  }
}

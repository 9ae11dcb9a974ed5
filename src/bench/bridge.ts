/** Bridge benchmarks: call latency, and tensor pull throughput by the binary path against pythonia's JSON path. */
import { z } from 'zod';
import { pullTensor, type Kernel } from '../bridge/index.js';

export const latencyResultSchema = z.object({ calls: z.number().int(), meanMs: z.number(), medianMs: z.number(), p99Ms: z.number() });
export type LatencyResult = z.infer<typeof latencyResultSchema>;

export const pullResultSchema = z.object({
  path: z.enum(['binary', 'json']),
  values: z.number(),
  repeats: z.number().int(),
  /** The best of the repeats (steady state), and their median. */
  seconds: z.number(),
  medianSeconds: z.number(),
  bytesPerSecond: z.number(),
});
export type PullResult = z.infer<typeof pullResultSchema>;

/** What figures/bench-bridge.json holds: the kernel measured, its call latency and its pulls. */
export const bridgeBenchSchema = z.object({
  kernel: z.object({ device: z.string(), python_version: z.string(), torch: z.string(), blas: z.string() }),
  latency: latencyResultSchema,
  pulls: z.array(pullResultSchema),
});
export type BridgeBench = z.infer<typeof bridgeBenchSchema>;

export async function measureLatency(kernel: Kernel, calls = 3000): Promise<LatencyResult> {
  for (let i = 0; i < 200; i++) await kernel.call('ping', {}); // warm-up
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await kernel.call('ping', {});
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? Number.NaN;
  return { calls, meanMs: times.reduce((a, b) => a + b, 0) / calls, medianMs: at(0.5), p99Ms: at(0.99) };
}

/** `repeats` pulls of a float32 tensor of `values` elements: best and median. The first pulls of a large tensor
 * are slower while the OS assembles huge pages for Node's fresh buffers; the best is the steady state. */
export async function measurePull(kernel: Kernel, path: 'binary' | 'json', values: number, repeats: number): Promise<PullResult> {
  const name = `bench-${values}`;
  await kernel.call('tensor_random', { name, shape: [values], dtype: 'float32', seed: 0 });
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const length = path === 'binary' ? (await pullTensor(kernel, name)).data.length : await pullAsJson(kernel, name);
    times.push((performance.now() - start) / 1000);
    if (length !== values) throw new Error(`${path} pull of ${name} gave ${length} values`);
  }
  await kernel.call('tensor_drop', { name });
  times.sort((a, b) => a - b);
  const seconds = times[0] ?? NaN;
  const medianSeconds = times[Math.floor((times.length - 1) / 2)] ?? NaN;
  return { path, values, repeats, seconds, medianSeconds, bytesPerSecond: (values * 4) / seconds };
}

/** pythonia's own way: `tensor.tolist()` in Python, serialised to JSON and parsed by Node. */
async function pullAsJson(kernel: Kernel, name: string): Promise<number> {
  const list = await kernel.withRawApi(async (api) => (await api.bench_tolist(name)).valueOf());
  if (!Array.isArray(list)) throw new Error('pythonia did not return an array');
  return list.length;
}

/** Bridge benchmarks: call latency, and tensor pull throughput by the binary path against pythonia's JSON path. */
import { pullTensor, type Kernel } from '../bridge/index.js';

export interface LatencyResult {
  calls: number;
  meanMs: number;
  medianMs: number;
  p99Ms: number;
}

export interface PullResult {
  path: 'binary' | 'json';
  values: number;
  seconds: number;
  bytesPerSecond: number;
}

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

/** Best of `repeats` pulls of a float32 tensor of `values` elements. */
export async function measurePull(kernel: Kernel, path: 'binary' | 'json', values: number, repeats: number): Promise<PullResult> {
  const name = `bench-${values}`;
  await kernel.call('tensor_random', { name, shape: [values], dtype: 'float32', seed: 0 });
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const length = path === 'binary' ? (await pullTensor(kernel, name)).data.length : await pullAsJson(kernel, name);
    best = Math.min(best, performance.now() - start);
    if (length !== values) throw new Error(`${path} pull of ${name} gave ${length} values`);
  }
  await kernel.call('tensor_drop', { name });
  const seconds = best / 1000;
  return { path, values, seconds, bytesPerSecond: (values * 4) / seconds };
}

/** pythonia's own way: `tensor.tolist()` in Python, serialised to JSON and parsed by Node. */
async function pullAsJson(kernel: Kernel, name: string): Promise<number> {
  const list = await kernel.withRawApi(async (api) => (await api.bench_tolist(name)).valueOf());
  if (!Array.isArray(list)) throw new Error('pythonia did not return an array');
  return list.length;
}

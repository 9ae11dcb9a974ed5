/** The benchmarks' pictures (Vega-Lite, rendered next to their JSON by figures/render.ts). */
import type { TopLevelSpec } from 'vega-lite';
import { VEGA_LITE_SCHEMA } from '../figures/render.js';
import type { BridgeBench } from './bridge.js';
import type { LadderBench } from './ladder.js';
import type { SeedsBench } from './seeds.js';

/** One ladder step against its matrix products alone, and with torch's ops where the C kernels ran. */
export function ladderStepSpec(b: LadderBench, subtitle: string): TopLevelSpec {
  const m = b.matmuls;
  const values = [
    { what: 'matrix products alone', ms: 1e3 * m.matmul_seconds },
    { what: 'noise draws alone', ms: 1e3 * m.draw_seconds },
    { what: 'Adam update alone', ms: 1e3 * m.adam_seconds },
    { what: 'products + draws + Adam', ms: 1e3 * (m.matmul_seconds + m.draw_seconds + m.adam_seconds) },
    { what: 'step (C kernels)', ms: 1e3 * m.step_seconds },
    ...(m.torch_ops_seconds !== null ? [{ what: "step (torch's ops)", ms: 1e3 * m.torch_ops_seconds }] : []),
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: 'One ladder training step on the CPU', subtitle: [subtitle, `median of ${m.rounds} alternated rounds of ${m.iterations} iterations; target: step <= 1.15x its products`] },
    data: { values },
    width: 420,
    height: 24 * values.length,
    layer: [
      { mark: { type: 'bar' }, encoding: { y: { field: 'what', type: 'nominal', sort: null, title: null, axis: { labelLimit: 0 } }, x: { field: 'ms', type: 'quantitative', title: 'ms per step' } } },
      { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { y: { field: 'what', type: 'nominal', sort: null }, x: { field: 'ms', type: 'quantitative' }, text: { field: 'ms', type: 'quantitative', format: '.1f' } } },
    ],
  };
}

/** Examples per second of K seeds in one kernel (as one batched network, and in threads) and as K kernels side by
 * side (K = 1: the single-seed kernel alone). */
export function seedsSpec(b: SeedsBench, subtitle: string): TopLevelSpec {
  const apart = (r: SeedsBench['rows'][number]) => (r.seeds === 1 ? b.single.examplesPerSecond : r.sideBySide?.examplesPerSecond);
  const values = b.rows.flatMap((r) => {
    const separate = apart(r);
    return [
      { seeds: r.seeds, how: 'K seeds as one batched network', examplesPerSecond: r.batched.examplesPerSecond },
      ...(r.seedThreads ? [{ seeds: r.seeds, how: `K seeds in ${r.seedThreads.threads} threads of one kernel`, examplesPerSecond: r.seedThreads.examplesPerSecond }] : []),
      ...(separate !== undefined ? [{ seeds: r.seeds, how: 'K single-seed kernels side by side', examplesPerSecond: separate }] : []),
    ];
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: 'K ladder seeds: in one kernel against side by side', subtitle: [subtitle, `${b.cores} cores; one seed alone: ${Math.round(b.single.examplesPerSecond)} examples/s`] },
    data: { values },
    width: 360,
    height: 200,
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'seeds', type: 'ordinal', title: 'seeds K', axis: { labelAngle: 0 } },
      xOffset: { field: 'how', type: 'nominal' },
      y: { field: 'examplesPerSecond', type: 'quantitative', title: 'examples per second, all seeds' },
      color: { field: 'how', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 0 } },
    },
  };
}

/** Tensor pulls across the bridge: the rate by tensor size, binary path against pythonia's JSON path. */
export function pullsSpec(b: BridgeBench, subtitle: string): TopLevelSpec {
  const values = b.pulls.map((p) => ({ path: `${p.path} path`, values: p.values, best: p.bytesPerSecond / 1e6, median: (p.values * 4) / p.medianSeconds / 1e6 }));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: 'Pulling a float32 tensor from Python into Node', subtitle: [subtitle, 'points: best of the repeats; ticks: their median'] },
    data: { values },
    width: 360,
    height: 220,
    encoding: {
      x: { field: 'values', type: 'quantitative', scale: { type: 'log' }, title: 'float32 values' },
      color: { field: 'path', type: 'nominal', title: null, legend: { orient: 'bottom' } },
    },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'best', type: 'quantitative', scale: { type: 'log' }, title: 'MB per second' } } },
      { mark: { type: 'tick', orient: 'horizontal' }, encoding: { y: { field: 'median', type: 'quantitative' } } },
    ],
  };
}

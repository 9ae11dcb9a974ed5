/** The paper's Figure 6: Average Perturbation Sensitivity per layer of the source and target columns, for each
 * approach compared (the progressive ladder network, supervised -> supervised) and each noise scale, as the mean over
 * seeds with the range of the seeds. Measured on the finished runs (runs/perturbation.ts, kept in each aps.json). */
import type { TopLevelSpec } from 'vega-lite';
import { z } from 'zod';
import { VEGA_LITE_SCHEMA } from './render.js';
import { summarize } from '../analysis/stats.js';
import type { Kernel } from '../bridge/index.js';
import type { DataLocation } from '../data/index.js';
import { table } from '../results/document.js';
import type { ExistingRun } from '../runs/experiment.js';
import { APS_DEFAULTS, APS_QUICK, measureAps, NOISE_SCALES, type ApsMeasurement } from '../runs/perturbation.js';
import { RunDirectory } from '../runs/run-dir.js';
import type { RunEvents } from '../runs/runner.js';

export interface ApsApproach {
  label: string;
  experiment: string;
  runs: ExistingRun[];
}

/** One bar: APS of `layer` of a column (source or target) for an approach and noise scale, over the seeds measured
 * (figure6.json holds them; the report reads them back through this schema). */
export const apsBarSchema = z.object({
  scale: z.string(),
  approach: z.string(),
  column: z.string(),
  layer: z.number(),
  /** Per seed: APS, or null where no column's noise at this layer changed the output within the range searched. */
  seeds: z.array(z.object({ seed: z.number(), aps: z.number().nullable(), reaches_output: z.boolean() })),
  mean: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
});
export type ApsBar = z.infer<typeof apsBarSchema>;

export interface ApsFigureData {
  approaches: { label: string; experiment: string; runs: { seed: number; dir: string; measurements: ApsMeasurement[] }[] }[];
  bars: ApsBar[];
}

/** Measures (or reads) every complete run's APS and gathers the bars. Columns are named by role: the first is the
 * source, the last the target (the paper's two-column networks). */
export async function apsFigureData(kernel: Kernel, approaches: ApsApproach[], where: DataLocation, quick: boolean, events?: RunEvents): Promise<ApsFigureData> {
  const measured = [];
  for (const approach of approaches) {
    const runs = [];
    for (const run of approach.runs.filter((r) => r.complete && !r.diverged)) {
      runs.push({ seed: run.seed, dir: run.dir, measurements: await measureAps(kernel, new RunDirectory(run.dir), where, quick ? APS_QUICK : APS_DEFAULTS, events) });
    }
    measured.push({ label: approach.label, experiment: approach.experiment, runs });
  }
  const bars: ApsBar[] = [];
  for (const scale of NOISE_SCALES) {
    for (const approach of measured) {
      const sites = approach.runs[0]?.measurements.find((m) => m.scale === scale)?.sites ?? [];
      const columns = Math.max(0, ...sites.map((s) => s.column)) + 1;
      for (const site of sites) {
        const seeds = approach.runs.map((run) => {
          const own = run.measurements.find((m) => m.scale === scale)!.sites.find((s) => s.column === site.column && s.layer === site.layer)!;
          return { seed: run.seed, aps: own.aps, reaches_output: own.reaches_output };
        });
        const values = seeds.flatMap((s) => (s.aps === null ? [] : [s.aps]));
        const summary = summarize(values);
        const role = site.column === 0 ? 'source' : site.column === columns - 1 ? 'target' : `column ${site.column}`;
        bars.push({ scale, approach: approach.label, column: role, layer: site.layer, seeds, mean: values.length ? summary.mean : null, min: values.length ? summary.min : null, max: values.length ? summary.max : null });
      }
    }
  }
  return { approaches: measured, bars };
}

/** No seed's noise at this site has a path to the output (e.g. the source's logits, which feed no lateral): its APS
 * is 0 by construction, not a measured insensitivity, and the table and picture say so. */
const unreachable = (b: ApsBar) => b.seeds.every((s) => !s.reaches_output);

export function apsSpec(title: string, bars: ApsBar[], note?: string): TopLevelSpec {
  const values = bars.filter((b) => b.mean !== null).map((b) => ({ ...b, scaleLabel: b.scale === 'raw' ? 'raw noise' : 'relative noise', unreachable: unreachable(b) }));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: {
      text: title,
      subtitle: [
        'APS(l, k) = precision(l, k) / sum over columns of precision(l, .); mean over seeds, rule: their range',
        'raw noise: sigma on the activations\u2019 own scale (the paper); relative: sigma times each unit\u2019s std (Rusu et al.)',
        ...(note ? [note] : []),
      ],
    },
    data: { values },
    facet: { row: { field: 'scaleLabel', type: 'nominal', title: null }, column: { field: 'approach', type: 'nominal', title: null, sort: [...new Set(bars.map((b) => b.approach))] } },
    spec: {
      width: 300,
      height: 180,
      encoding: {
        x: { field: 'layer', type: 'ordinal', title: 'layer', axis: { labelAngle: 0 } },
        xOffset: { field: 'column', type: 'nominal', sort: ['source', 'target'] },
      },
      layer: [
        { mark: { type: 'bar' }, encoding: { y: { field: 'mean', type: 'quantitative', title: 'APS', scale: { domain: [0, 1] } }, color: { field: 'column', type: 'nominal', title: null, sort: ['source', 'target'] } } },
        { mark: { type: 'rule' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
        // An empty bar would read as "measured, insensitive": say that this site has no path to the output.
        { transform: [{ filter: 'datum.unreachable' }], mark: { type: 'text', angle: 270, align: 'left', baseline: 'middle', dy: 0, dx: 3, fontSize: 9 }, encoding: { y: { datum: 0 }, text: { value: 'no path to the output' } } },
      ],
    },
  };
}

function cell(b: ApsBar | undefined): string {
  if (!b) return '-';
  if (b.mean === null) return unreachable(b) ? 'cannot reach the output' : 'no halving in range';
  return unreachable(b) ? `${b.mean.toFixed(2)}: cannot reach the output` : `${b.mean.toFixed(2)} (${b.min!.toFixed(2)}-${b.max!.toFixed(2)})`;
}

/** Per noise scale and approach, each layer's APS for the source and the target column (mean, range over seeds). */
export function apsTable(bars: ApsBar[]): string {
  const keys = [...new Set(bars.map((b) => `${b.scale}\u0000${b.approach}\u0000${b.layer}`))];
  return table(
    ['noise scale', 'approach', 'layer', 'source APS', 'target APS', 'seeds'],
    keys.map((key) => {
      const [scale, approach, layer] = key.split('\u0000');
      const of = (column: string) => bars.find((b) => b.scale === scale && b.approach === approach && String(b.layer) === layer && b.column === column);
      return [scale!, approach!, layer!, cell(of('source')), cell(of('target')), String(of('target')?.seeds.length ?? of('source')?.seeds.length ?? 0)];
    }),
  );
}

/** The paper's comparison figures: Figure 5 (test accuracy by epoch for the four transfer approaches) and Figure 7
 * (final test accuracy with and without the learnable scalar). */
import type { TopLevelSpec } from 'vega-lite';
import { VEGA_LITE_SCHEMA } from './render.js';
import type { CurvePoint } from '../analysis/curves.js';

export function curvesSpec(title: string, approaches: { label: string; curve: CurvePoint[] }[], note?: string): TopLevelSpec {
  // A band from two seeds can reach past 0 or 100 %: it is cut at what an accuracy can be, and the axis fits the means
  // (a band wider than the plot is clipped at its edge) so that the curves stay readable.
  const values = approaches.flatMap(({ label, curve }) =>
    curve.map((p) => ({ approach: label, epoch: p.epoch, mean: 100 * p.mean, low: Math.max(0, 100 * p.low), high: Math.min(100, 100 * p.high) })),
  );
  const means = values.map((v) => v.mean);
  const domain = [Math.max(0, Math.floor(Math.min(...means) / 5) * 5 - 5), Math.min(100, Math.ceil(Math.max(...means) / 5) * 5 + 5)];
  const color = { field: 'approach', type: 'nominal' as const, title: null, sort: approaches.map((a) => a.label), legend: { orient: 'bottom' as const, columns: 2, labelLimit: 360 } };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: title, subtitle: ['mean over seeds, band: 95% confidence interval', ...(note ? [note] : [])] },
    width: 560,
    height: 340,
    data: { values },
    encoding: { x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } } },
    layer: [
      { mark: { type: 'area', opacity: 0.18, clip: true }, encoding: { y: { field: 'low', type: 'quantitative', scale: { domain } }, y2: { field: 'high' }, color } },
      { mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { y: { field: 'mean', type: 'quantitative', title: 'test accuracy (%)', scale: { domain } }, color } },
    ],
  };
}

/** Bars of the final test accuracy (the last epoch's: an epoch picked by its test accuracy would select on the test
 * set), mean over seeds with its 95% confidence interval. */
export function finalSpec(title: string, approaches: { label: string; final: CurvePoint | null }[], note?: string): TopLevelSpec {
  const values = approaches.flatMap(({ label, final }) => {
    if (!final) return [];
    const bound = (value: number) => 100 * (Number.isFinite(value) ? value : final.mean); // one seed: no interval
    return [{ approach: label, final: 100 * final.mean, low: bound(final.low), high: bound(final.high), text: `${(100 * final.mean).toFixed(1)}%` }];
  });
  // Labels break at their commas ("scalar," over "before BN"), so that six of them fit under their bars.
  const x = { field: 'approach', type: 'nominal' as const, title: null, sort: approaches.map((a) => a.label), axis: { labelAngle: 0, labelLimit: 240, labelExpr: "split(datum.label, ', ')" } };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: title, subtitle: ['final test accuracy (last epoch), mean over seeds with 95% confidence interval', ...(note ? [note] : [])] },
    width: Math.max(420, 90 * values.length),
    height: 300,
    data: { values },
    layer: [
      { mark: { type: 'bar', width: 60 }, encoding: { x, y: { field: 'final', type: 'quantitative', title: 'final test accuracy (%)', scale: { domain: [0, 100] } }, color: { field: 'approach', type: 'nominal', legend: null } } },
      { mark: { type: 'rule' }, encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
      { mark: { type: 'text', dy: -10, fontSize: 13 }, encoding: { x, y: { field: 'high', type: 'quantitative' }, text: { field: 'text' } } },
    ],
  };
}

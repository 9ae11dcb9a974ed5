/** Figure 6's table and picture tell a site whose noise has no path to the output (APS 0 by construction, e.g. the
 * source's logits) from a layer measured as insensitive (APS 0 found). */
import { describe, expect, it } from 'vitest';
import { apsSpec, apsTable, type ApsBar } from '../../src/figures/aps-figure.js';

const bar = (column: string, layer: number, aps: (number | null)[], reaches: boolean): ApsBar => {
  const values = aps.filter((v): v is number => v !== null);
  return {
    scale: 'raw', approach: '(a)', column, layer,
    seeds: aps.map((v, i) => ({ seed: i + 1, aps: v, reaches_output: reaches })),
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : null,
    min: values.length ? Math.min(...values) : null,
    max: values.length ? Math.max(...values) : null,
  };
};

describe('APS table and picture', () => {
  const bars = [
    bar('source', 5, [0, 0], true), bar('target', 5, [1, 1], true),      // measured: the source's layer 5 does not matter
    bar('source', 6, [0, 0], false), bar('target', 6, [1, 1], true),     // the source's logits feed no lateral
    bar('source', 7, [null, null], true), bar('target', 7, [null, null], false),
  ];

  it('marks the unreachable site and leaves the measured zero as a number', () => {
    const rows = apsTable(bars).split('\n').slice(2);
    expect(rows[0]).toBe('| raw | (a) | 5 | 0.00 (0.00-0.00) | 1.00 (1.00-1.00) | 2 |');
    expect(rows[1]).toBe('| raw | (a) | 6 | 0.00: cannot reach the output | 1.00 (1.00-1.00) | 2 |');
    expect(rows[2]).toBe('| raw | (a) | 7 | no halving in range | cannot reach the output | 2 |');
  });

  it('labels the unreachable bar in the picture, and only it', () => {
    const spec = apsSpec('t', bars) as unknown as { data: { values: { layer: number; column: string; unreachable: boolean }[] }; spec: { layer: { transform?: { filter: string }[]; encoding: { text?: { value: string } } }[] } };
    expect(spec.data.values.filter((v) => v.unreachable).map((v) => [v.column, v.layer])).toEqual([['source', 6]]);
    const label = spec.spec.layer.find((l) => l.encoding.text);
    expect(label?.transform).toEqual([{ filter: 'datum.unreachable' }]);
    expect(label?.encoding.text?.value).toBe('no path to the output');
  });
});

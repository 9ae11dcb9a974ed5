import { describe, expect, it } from 'vitest';
import { summarize, tQuantile975 } from '../../src/analysis/stats.js';

describe('summary statistics over seeds', () => {
  it('gives mean, sample std and the t-based 95% interval', () => {
    const s = summarize([1, 2, 3]);
    expect(s.mean).toBe(2);
    expect(s.std).toBe(1);
    expect(s.ci95).toBeCloseTo((4.303 * 1) / Math.sqrt(3), 6);
    expect([s.min, s.max]).toEqual([1, 3]);
  });

  it('has no spread for a single seed', () => {
    expect(summarize([5]).std).toBeNaN();
    expect(summarize([5]).ci95).toBeNaN();
  });

  it("takes Student's t past the table's 30 degrees of freedom too (1.96 was 4% narrow at 31)", () => {
    // scipy.stats.t.ppf(0.975, df)
    const exact: [number, number][] = [[31, 2.03951], [40, 2.02108], [60, 2.0003], [100, 1.98397], [1000, 1.96234]];
    for (const [df, t] of exact) expect(tQuantile975(df)).toBeCloseTo(t, 4);
    expect(tQuantile975(31)).toBeLessThan(tQuantile975(30));
  });
});

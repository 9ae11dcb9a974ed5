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

  it('has no spread for a single seed, and the normal quantile for many', () => {
    expect(summarize([5]).std).toBeNaN();
    expect(summarize([5]).ci95).toBeNaN();
    expect(tQuantile975(100)).toBe(1.96);
  });
});

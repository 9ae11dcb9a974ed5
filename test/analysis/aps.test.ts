import { describe, expect, it } from 'vitest';
import { APS_SEARCH, averagePerturbationSensitivity, findHalfVariances, precisionOf } from '../../src/analysis/aps.js';

/** A site whose accuracy falls from `clean` to chance (0.1) as a logistic in log10(variance), centred on `half`: its
 * accuracy is exactly (clean + 0.1) / 2 there, so with threshold (clean + 0.1) / 2 the half-point is 10^half. */
const logistic = (clean: number, half: number) => (logVariance: number) => 0.1 + (clean - 0.1) / (1 + Math.exp(3 * (logVariance - half)));

describe('the half-accuracy search', () => {
  it('finds a known half-point within its tolerance and its evaluation budget, all sites evaluated together', async () => {
    const halves = [-2.7, 0, 1.234, 3.9];
    const curves = halves.map((half) => logistic(0.9, half));
    let rounds = 0;
    const points = await findHalfVariances(halves.map(() => 0.5), async (logs) => {
      rounds++;
      return logs.map((log, i) => (log === null ? null : curves[i]!(log)));
    });
    points.forEach((point, i) => {
      expect(point.status).toBe('found');
      if (point.status !== 'found') return;
      expect(point.evaluations).toBeLessThanOrEqual(APS_SEARCH.maxEvaluations);
      expect(point.bracket[1] - point.bracket[0]).toBeLessThanOrEqual(APS_SEARCH.tolerance);
      expect(Math.abs(Math.log10(point.variance) - halves[i]!)).toBeLessThanOrEqual(APS_SEARCH.tolerance);
    });
    expect(rounds).toBeLessThanOrEqual(APS_SEARCH.maxEvaluations); // one evaluation of every site per round
  });

  it('says where accuracy never halves (precision 0) or halves below the range (a bound), instead of inventing a number', async () => {
    const [never, below] = await findHalfVariances([0.5, 0.5], async (logs) => logs.map((log, i) => (log === null ? null : i === 0 ? 0.9 : 0.2)));
    expect(never).toMatchObject({ status: 'never', evaluations: 1 });
    expect(below).toMatchObject({ status: 'below', evaluations: 2 });
    expect(precisionOf(never!)).toBe(0);
    expect(precisionOf(below!)).toBe(10 ** 4);
  });

  it('gives APS as each column\'s share of a layer\'s precision', () => {
    const aps = averagePerturbationSensitivity([
      { column: 0, layer: 1, precision: 3 },
      { column: 1, layer: 1, precision: 1 },
      { column: 0, layer: 2, precision: 0 },
      { column: 1, layer: 2, precision: 5 },
    ]);
    expect(aps.map((s) => s.aps)).toEqual([0.75, 0.25, 0, 1]);
  });
});

import { describe, expect, it } from 'vitest';
import { bestAccuracy, epochsToAccuracy, meanCurve } from '../../src/analysis/curves.js';
import type { EpochRecord } from '../../src/runs/run-dir.js';

const run = (accuracies: number[]) => accuracies.map((test_accuracy, i) => ({ epoch: i + 1, test_accuracy }) as EpochRecord);

describe('learning curves over seeds', () => {
  const runs = [run([0.5, 0.7, 0.8]), run([0.3, 0.5, 0.9])];

  it('averages per epoch with a 95% band', () => {
    const curve = meanCurve(runs);
    expect(curve.map((p) => p.mean)).toEqual([0.4, 0.6, 0.85000000000000009]);
    expect(curve[0]!.low).toBeLessThan(0.4);
    expect(curve[0]!.high).toBeGreaterThan(0.4);
    expect(curve[0]!.high - curve[0]!.low).toBeCloseTo(2 * ((12.706 * Math.SQRT2 * 0.1) / Math.SQRT2), 6);
  });

  it('finds the epochs needed to reach an accuracy, or none', () => {
    const curve = meanCurve(runs);
    expect(epochsToAccuracy(curve, 0.6)).toBe(2);
    expect(epochsToAccuracy(curve, 0.95)).toBeNull();
  });

  it('summarises the best accuracy of each seed', () => {
    expect(bestAccuracy(runs).mean).toBeCloseTo(0.85, 10);
  });
});

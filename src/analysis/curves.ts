/** Learning curves over seeds: mean and 95% band per epoch, epochs to reach an accuracy, best accuracy. */
import { summarize, type Summary } from './stats.js';

export interface CurvePoint {
  epoch: number;
  mean: number;
  low: number;
  high: number;
  seeds: number;
}

/** Mean test accuracy per epoch over the seeds that reached it, with its 95% confidence band. */
/** What the curves read of an epoch's record (a run directory's metrics.jsonl line has it). */
export interface EpochAccuracy {
  epoch: number;
  test_accuracy: number;
}

export function meanCurve(runs: EpochAccuracy[][]): CurvePoint[] {
  const epochs = Math.max(0, ...runs.map((records) => records.length));
  const points: CurvePoint[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const values = runs.flatMap((records) => records.filter((r) => r.epoch === epoch).map((r) => r.test_accuracy));
    const s = summarize(values);
    const half = Number.isFinite(s.ci95) ? s.ci95 : 0;
    points.push({ epoch, mean: s.mean, low: s.mean - half, high: s.mean + half, seeds: s.n });
  }
  return points;
}

/** The first epoch whose mean accuracy reaches `accuracy`, or null if none does. */
export function epochsToAccuracy(curve: CurvePoint[], accuracy: number): number | null {
  return curve.find((point) => point.mean >= accuracy)?.epoch ?? null;
}

/** The best test accuracy of each seed, summarised. */
export function bestAccuracy(runs: EpochAccuracy[][]): Summary {
  return summarize(runs.map((records) => Math.max(...records.map((r) => r.test_accuracy))));
}

import { describe, expect, it } from 'vitest';
import { poolProgress } from '../../src/runs/experiment.js';

describe('the progress of a pool of runs', () => {
  it('adds one line for the whole pool: iterations over all runs and the runs that have ended', () => {
    const calls: [number, number, string, string][] = [];
    const events = { progress: (done: number, total: number, label: string, runId: string) => void calls.push([done, total, label, runId]), log: () => undefined };
    // Three runs of 10 iterations: one not started, one complete, one continued after 4.
    const eventsOf = poolProgress(events, [{ done: 0, total: 10 }, { done: 10, total: 10 }, { done: 4, total: 10 }]);
    expect(calls).toEqual([[14, 30, '1 of 3 runs done', 'all runs']]);

    eventsOf(0).progress(5, 10, 'a epoch 1', 'a');
    expect(calls.slice(1)).toEqual([[5, 10, 'a epoch 1', 'a'], [19, 30, '1 of 3 runs done', 'all runs']]);
    eventsOf(2).progress(10, 10, 'c done', 'c');
    expect(calls.at(-1)).toEqual([25, 30, '2 of 3 runs done', 'all runs']);
  });

  it('is the run\'s own progress alone when the pool holds one run', () => {
    const calls: unknown[] = [];
    const events = { progress: (...args: unknown[]) => void calls.push(args), log: () => undefined };
    expect(poolProgress(events, [{ done: 0, total: 10 }])(0)).toBe(events);
    expect(calls).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { progressLines } from '../../src/cli/progress.js';
import { POOL_LANE } from '../../src/runs/experiment.js';

describe('progress lines for a log', () => {
  const lines = () => {
    const written: string[] = [];
    let clock = 0;
    const bar = progressLines('job', (text) => void written.push(text.trimEnd()), 30_000, () => clock);
    return { bar, written, at: (ms: number) => void (clock = ms) };
  };

  it('prints a lane as done once, however often its end is reported, and the lanes still going every interval', () => {
    const { bar, written, at } = lines();
    bar.update(0, 10, 'run a', 'a');
    bar.update(0, 10, 'run b', 'b');
    at(10_000);
    bar.update(10, 10, 'run a done', 'a');
    bar.update(10, 10, 'run a done', 'a'); // the run's result reports its end again
    at(40_000);
    bar.update(5, 10, 'run b', 'b');
    at(80_000);
    bar.update(10, 10, 'run a done', 'a');
    bar.update(6, 10, 'run b', 'b');
    expect(written).toEqual([
      'job 100% | run a done | 10s elapsed, 0s left',
      'job 50% | run b | 40s elapsed, 40s left',
      'job 60% | run b | 1m 20s elapsed, 53s left',
    ]);
  });

  it('follows a lane again when it goes on after its end (a run retried from its last epoch)', () => {
    const { bar, written, at } = lines();
    bar.update(10, 10, 'done', 'a');
    bar.update(4, 10, 'again', 'a');
    at(30_000);
    bar.update(5, 10, 'again', 'a');
    expect(written).toEqual(['job 100% | done | 0s elapsed, 0s left', 'job 50% | again | 30s elapsed, 2m 30s left']);
  });

  it("in a pool, gives the job's percentage and time left to the job's line only, and prints it when a run ends", () => {
    const { bar, written, at } = lines();
    bar.update(0, 20, '0 of 2 runs done', POOL_LANE);
    bar.update(0, 10, 'run a', 'a');
    bar.update(0, 10, 'run b', 'b');
    at(30_000);
    bar.update(5, 10, 'run a', 'a');
    bar.update(5, 20, '0 of 2 runs done', POOL_LANE);
    at(60_000);
    bar.update(10, 10, 'run a done', 'a');
    bar.update(10, 20, '1 of 2 runs done', POOL_LANE);
    expect(written).toEqual([
      'job 0% | 0 of 2 runs done | 30s elapsed, unknown left',
      'job | run a | 50% of the run, 30s left',
      'job | run b | 0% of the run, unknown left',
      'job | run a done',
      'job 50% | 1 of 2 runs done | 1m 00s elapsed, 1m 00s left',
    ]);
  });
});

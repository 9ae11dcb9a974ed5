import { describe, expect, it } from 'vitest';
import { seedsTogetherPay } from '../../src/runs/experiment.js';

/** The default for --batch-seeds: seeds together only on the CPU, where runs would wait for a core and every job
 * starts at once with two or more cores, and never against --parallel or --threads. */
describe('when the seeds of an experiment train together by default', () => {
  const cpu = { devices: ['cpu'], options: {} };
  it('groups one experiment\'s three seeds on two cores', () => {
    expect(seedsTogetherPay({ ...cpu, runs: 3, jobs: 1, groups: 1, cores: 2 })).toBe(true);
    expect(seedsTogetherPay({ ...cpu, runs: 5, jobs: 1, groups: 1, cores: 4 })).toBe(true);
  });
  it('keeps one run per core where every run has a core, or where the groups would wait or get one core each', () => {
    expect(seedsTogetherPay({ ...cpu, runs: 3, jobs: 1, groups: 1, cores: 4 })).toBe(false);
    expect(seedsTogetherPay({ ...cpu, runs: 12, jobs: 4, groups: 4, cores: 2 })).toBe(false); // Figure 5 on 2 cores
    expect(seedsTogetherPay({ ...cpu, runs: 6, jobs: 2, groups: 2, cores: 3 })).toBe(false);
    expect(seedsTogetherPay({ ...cpu, runs: 3, jobs: 3, groups: 0, cores: 2 })).toBe(false); // nothing batchable
  });
  it('never on a GPU, nor when --parallel or --threads set the workers', () => {
    expect(seedsTogetherPay({ runs: 3, jobs: 1, groups: 1, cores: 2, devices: ['cuda:0'], options: {} })).toBe(false);
    expect(seedsTogetherPay({ ...cpu, runs: 3, jobs: 1, groups: 1, cores: 2, options: { parallel: 2 } })).toBe(false);
    expect(seedsTogetherPay({ ...cpu, runs: 3, jobs: 1, groups: 1, cores: 2, options: { threads: 1 } })).toBe(false);
  });
});

import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Kernel } from '../../src/bridge/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { seedsTogetherPay } from '../../src/runs/experiment.js';
import { whySeedsApart } from '../../src/runs/runner.js';

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

/** Which experiments' seeds can train together at all: the kernel's rule (run_groups.why_seeds_apart), asked through
 * the bridge as `run` plans its jobs, of the real experiment files (progressive ones before their sources exist). */
describe('which seeds can train together', () => {
  const kernel = new Kernel({ device: 'cpu' });
  afterAll(() => kernel.stop({ final: true }));
  const experiment = (name: string) => loadExperiment(path.join(PROJECT_ROOT, 'experiments', `${name}.yaml`));
  it('on the CPU every model that reads one view of the data, in threads; not AlexNet columns beside fc ones', async () => {
    for (const name of ['ladder-mnist100', 'transfer-mnistm-ladder-sup', 'conv-gamma-mnist100', 'transfer-mnistm-conv-ladder-sup']) {
      expect(await whySeedsApart(kernel, experiment(name), true), name).toBeNull();
    }
    expect(await whySeedsApart(kernel, experiment('transfer-mnistm-alexnet-ladder'), true)).toMatch(/its columns read 2 views of the data \(flat784, alexnet-features\)/);
  }, 60_000);
  it('on a GPU only as one batched network: fc models without population statistics', async () => {
    for (const name of ['ladder-mnist100', 'source-mlp-mnist', 'transfer-mnistm-ladder-sup']) expect(await whySeedsApart(kernel, experiment(name), false), name).toBeNull();
    expect(await whySeedsApart(kernel, experiment('transfer-mnistm-conv-ladder-sup'), false)).toMatch(/one batched network, which exists for .* not for a progressive network of conv columns/);
    const ladder = experiment('ladder-mnist100');
    expect(await whySeedsApart(kernel, { ...ladder, training: { ...ladder.training, population_statistics: 1000 } }, false)).toMatch(/population_statistics is not supported/);
  }, 60_000);
});

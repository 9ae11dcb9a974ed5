import { describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/experiments/load.js';
import { applyVariant, runDirFor, variantSuffix } from '../../src/runs/runner.js';
import { pladder } from '../helpers/cli.js';

const baseline = loadExperiment('experiments/transfer-mnistm-baseline.yaml'); // 100 epochs, every target label

describe('command-line variants of an experiment (--epochs, --labels, --quick)', () => {
  it('change the length and the target label budget, and never share a run directory', () => {
    const varied = applyVariant(baseline, { quick: false, epochs: 10, labels: 1000 });
    expect(varied.training.epochs).toBe(10);
    expect(varied.data.labels).toBe(1000);
    expect(baseline.data.labels).toBeNull(); // the loaded experiment is untouched
    expect(applyVariant(baseline, { quick: false }).data.labels).toBeNull();
    expect(applyVariant(baseline, { quick: true, epochs: 10 }).training.epochs).toBe(baseline.quick.epochs);

    expect(variantSuffix({ quick: false })).toBe('');
    expect(variantSuffix({ quick: false, epochs: 10 })).toBe('-epochs10'); // as run directories were named before --labels
    expect(variantSuffix({ quick: true, epochs: 10, labels: 1000 })).toBe('-epochs10-labels1000-quick');
    expect(variantSuffix({ quick: false, labels: null })).toBe('-labelsall');
    const dirs = [{ quick: false }, { quick: false, labels: 1000 }, { quick: false, labels: 5000 }, { quick: false, labels: null }].map((v) => runDirFor('runs', baseline, 1, v));
    expect(new Set(dirs).size).toBe(dirs.length);
  });

  it('refuse a label budget that the balanced split cannot take, naming the flag', async () => {
    const run = await pladder(['run', 'experiments/transfer-mnistm-baseline.yaml', '--labels', '1005', '--quick']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("--labels 1005: labeled target examples, a multiple of the 10 classes (e.g. 1000), or 'all'");
  });
});

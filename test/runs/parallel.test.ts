import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';
import { readFileSync } from 'node:fs';

describe('pladder run --parallel: seeds side by side', () => {
  it('trains each seed in its own Python process with a share of the cores, and aggregates them', async () => {
    const { file, runsDir } = tinyExperimentFile({ epochs: 2, iterations: 30, seeds: [1, 2] });
    const run = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir, '--parallel', '2']);
    expect(run.exitCode, run.stderr).toBe(0);
    const seeds = [1, 2].map((seed) => new RunDirectory(path.join(runsDir, 'tiny-quick', `seed-${seed}`)));
    const kernels = seeds.map((dir) => JSON.parse(readFileSync(dir.file('environment.json'), 'utf8')).kernel);
    expect(kernels[0].pid).not.toBe(kernels[1].pid);
    for (const kernel of kernels) expect(kernel.threads).toBe(Math.max(1, Math.floor(os.availableParallelism() / 2)));
    for (const dir of seeds) expect(dir.readResult().final_test_error).toBeLessThan(0.6); // chance: 0.9
    const summary = JSON.parse(readFileSync(path.join(runsDir, 'tiny-quick', 'summary.json'), 'utf8'));
    expect(summary.seeds).toEqual([1, 2]);
    expect(run.stdout).toContain('over 2 seed(s)');
  });

  it('refuses a bad --parallel value, naming it', async () => {
    const { file, runsDir } = tinyExperimentFile();
    const run = await pladder(['run', file, '--quick', '--runs-dir', runsDir, '--parallel', '0']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--parallel 0: runs side by side on each device');
  });
});

/** `run --resume DIR` continues with the CPU threads the run's steps had, so that it keeps the run's bits (README, "When
 * results are bit-identical"): a seed trained in threads of a shared kernel had one BLAS thread, though its kernel had
 * two; resumed on both threads it ended at other numbers (7.37 % against --continue's 7.38 %, measured). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainedThreads } from '../../src/cli/run.js';
import { RunDirectory, type EpochRecord } from '../../src/runs/run-dir.js';

const epoch = (extra: Partial<EpochRecord>): EpochRecord => ({
  epoch: 1, lr: 0.002, iterations: 5, seconds: 2, examples_per_s: 500, loss_total: 1, loss_supervised: 1,
  test_accuracy: 0.8, test_error: 0.2, test_examples: 100, validation_accuracy: null, validation_error: null, validation_examples: 0,
  train_seconds: 1.5, eval_seconds: 0.5, kernel_seconds: 2, wall_seconds: 2, bridge_seconds: 0, ...extra,
});

function run(kernelThreads: number, record: Partial<EpochRecord>): RunDirectory {
  const dir = new RunDirectory(path.join(mkdtempSync(path.join(os.tmpdir(), 'pladder-threads-')), 'seed-1'));
  dir.writeMetrics([epoch(record)]);
  writeFileSync(dir.file('environment.json'), JSON.stringify({
    started_at: '2026-11-29T00:00:00Z', node: 'v20', git_commit: 'x', platform: 'linux', cpus: '2', argv: ['run', 'x.yaml'],
    kernel: { python_version: '3.11', torch: '1.13', device: 'cpu', threads: kernelThreads, cuda_name: null }, resumes: [],
  }));
  return dir;
}

describe('the threads a resumed run gets', () => {
  it('one for a seed trained in threads of a shared kernel, else its own kernel\'s', () => {
    expect(trainedThreads(run(2, { seeds_batched: 3, seed_threads: 2 }))).toBe(1);
    expect(trainedThreads(run(2, {}))).toBe(2);
    expect(trainedThreads(run(1, {}))).toBe(1);
  });
});

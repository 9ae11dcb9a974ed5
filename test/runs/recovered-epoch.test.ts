/** An epoch recovered from the checkpoint of a run killed between its checkpoint and its metrics write has no wall
 * time (TypeScript never saw the call end): it is written with null timings and must read back as an epoch, not be
 * dropped from metrics.jsonl on every later read (the learning curve and the epoch count lost it). */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunDirectory, type EpochRecord } from '../../src/runs/run-dir.js';

const record = (epoch: number, wall: number): EpochRecord => ({
  epoch, lr: 0.002, iterations: 5, seconds: 2, examples_per_s: 500, loss_total: 1, loss_supervised: 1,
  test_accuracy: 0.8, test_error: 0.2, test_examples: 100, validation_accuracy: null, validation_error: null, validation_examples: 0,
  train_seconds: 1.5, eval_seconds: 0.5, kernel_seconds: wall, wall_seconds: wall, bridge_seconds: wall,
});

describe('an epoch recovered from a checkpoint', () => {
  it('keeps its place in metrics.jsonl, its unmeasured timings NaN', () => {
    const dir = new RunDirectory(path.join(mkdtempSync(path.join(os.tmpdir(), 'pladder-recovered-')), 'seed-1'));
    dir.writeMetrics([record(1, 3), record(2, NaN), record(3, 3)]);
    const read = dir.readMetrics();
    expect(read.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(read[1]).toMatchObject({ seconds: 2, test_accuracy: 0.8 });
    expect([read[1]!.wall_seconds, read[1]!.kernel_seconds, read[1]!.bridge_seconds]).toEqual([NaN, NaN, NaN]);
  });
});

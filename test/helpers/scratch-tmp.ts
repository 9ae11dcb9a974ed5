/** Vitest global setup: every suite's temporary files (run directories, data and view caches, kernels' exchange of
 * tensors with Python's tempfile) go under one folder of this test run, removed when the run ends, so that repeated
 * `make test` runs do not fill the disk (each left about 2 GB in /tmp before). */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-tests-'));
  process.env.TMPDIR = root; // os.tmpdir() in the test processes forked after this, and their Python kernels
  return () => rmSync(root, { recursive: true, force: true });
}

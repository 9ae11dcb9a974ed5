import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A small real experiment on MNIST: the full ladder recipe, few iterations per epoch, a test subset. */
export function tinyExperimentFile(overrides: { name?: string; epochs?: number; iterations?: number; architecture?: 'ladder' | 'mlp'; seeds?: number[] } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-exp-'));
  const file = path.join(dir, `${overrides.name ?? 'tiny'}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${overrides.name ?? 'tiny'}`,
      'model:',
      `  architecture: ${overrides.architecture ?? 'ladder'}`,
      'data:',
      '  dataset: mnist',
      '  labels: 100',
      'training:',
      `  epochs: ${overrides.epochs ?? 3}`,
      `  iterations_per_epoch: ${overrides.iterations ?? 30}`,
      `seeds: [${(overrides.seeds ?? [1]).join(', ')}]`,
      'quick:',
      `  epochs: ${overrides.epochs ?? 3}`,
      `  iterations_per_epoch: ${overrides.iterations ?? 30}`,
      '  test_subset: 2000',
    ].join('\n'),
  );
  return { dir, file, runsDir: path.join(dir, 'runs') };
}

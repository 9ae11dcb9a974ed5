import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { pladder } from '../helpers/cli.js';
import { python, scratchData } from '../helpers/data.js';

describe('a Progressive AlexNet run through the CLI (a frozen fc column on flat784 beside an AlexNet column on its cached features)', () => {
  it('computes the features once into the view cache, trains on two views, and says in its result that the AlexNet is random', async () => {
    const where = scratchData(); // SVHN here is 67 real crops: AlexNet's features of them take seconds
    const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-alexnet-'));
    const column = path.join(root, 'mnist-column.pt');
    await python(`import sys, torch; sys.path.insert(0, "${PROJECT_ROOT}"); from py_kernels.models import build_column
torch.save(build_column("fc", seed=1, widths=[784, 32, 16, 10]).export_state(), "${column}")`);
    const file = path.join(root, 'alexnet-check.yaml');
    writeFileSync(
      file,
      `name: alexnet-check
model:
  architecture: progressive
  columns:
    - { name: mnist, widths: [784, 32, 16, 10], weights: { from: file, path: ${column} }, frozen: true }
    - { name: alexnet, architecture: alexnet, pretrained: false, head: [32, 16, 10] }
  laterals: all
data: { dataset: svhn, labels: null }
training: { epochs: 1, iterations_per_epoch: 2, labeled_batch: 10 }
seeds: [1]
`,
    );
    const runs = path.join(root, 'runs');
    const run = await pladder(['run', file, '--runs-dir', runs, '--data-dir', where.dataDir, '--device', 'cpu'], { PLADDER_CACHE: where.cacheDir });
    expect(run.exitCode, run.stderr).toBe(0);

    const result = JSON.parse(readFileSync(path.join(runs, 'alexnet-check', 'seed-1', 'result.json'), 'utf8')) as { notes?: string[]; epochs: number };
    expect(result.epochs).toBe(1);
    expect(result.notes).toEqual(['AlexNet with RANDOM weights (pretrained: false, trunk_seed 0), not ImageNet']);
    expect(`${run.stdout}${run.stderr}`).toContain('alexnet-check/seed-1: AlexNet with RANDOM weights');

    const entries = readdirSync(path.join(where.cacheDir, 'views')).filter((name) => name.includes('alexnet-features') && name.endsWith('.json'));
    expect(entries.map((name) => name.split('-alexnet-features-')[0]).sort()).toEqual(['svhn-test', 'svhn-train']);
    for (const name of entries) {
      const sidecar = JSON.parse(readFileSync(path.join(where.cacheDir, 'views', name), 'utf8')) as { arrays: { x: { shape: number[] } }; about: { label: string } };
      expect(sidecar.arrays.x.shape[1]).toBe(9216);
      expect(sidecar.about.label).toContain('RANDOM');
    }
    expect(existsSync(path.join(runs, 'alexnet-check', 'seed-1', 'model.pt'))).toBe(true);
  }, 120_000);
});

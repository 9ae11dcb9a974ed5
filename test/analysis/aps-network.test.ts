/** APS measured on a real trained progressive network through the kernel: source layers with no lateral out of them
 * or of any layer above (their noise cannot reach the output) have APS 0 and the target column's layers at those
 * depths APS 1; where both columns feed the output both get a share. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Kernel } from '../../src/bridge/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { runExperiment } from '../../src/runs/experiment.js';
import { measureAps, APS_QUICK } from '../../src/runs/perturbation.js';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { scratchData } from '../helpers/data.js';

const kernel = new Kernel({ device: 'cpu' });
const where = scratchData();
afterAll(() => kernel.stop({ final: true }));
const quiet = { progress: () => undefined, log: () => undefined };

describe('APS of a trained progressive network', () => {
  it('is 0 for a source layer whose laterals are gone and 1 for the target layer at that depth', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-aps-'));
    process.env.PLADDER_SOURCES = path.join(dir, 'sources');
    const source = path.join(dir, 'source.yaml');
    writeFileSync(source, ['name: aps-source', 'model: { architecture: mlp, widths: [784, 64, 32, 16, 10] }', 'data: { dataset: mnist, labels: null, pool: { start: 0, stop: 5000 } }', 'training: { epochs: 2, iterations_per_epoch: 40 }'].join('\n'));
    const target = path.join(dir, 'target.yaml');
    // One lateral, from source layer 1: nothing leaves source layers 2 and up.
    writeFileSync(target, [
      'name: aps-target', 'model:', '  architecture: progressive', '  columns:',
      `    - { name: src, widths: [784, 64, 32, 16, 10], weights: { from: source, experiment: ${source} }, frozen: true }`,
      '    - { name: tgt, widths: [784, 64, 32, 16, 10] }',
      '  laterals:', '    - { from: { column: src, layer: 1 }, to: { column: tgt, layer: 2 } }',
      'data: { dataset: mnist-m, labels: null, pool: { start: 29500, stop: 35000 } }', 'training: { epochs: 2, iterations_per_epoch: 40 }',
    ].join('\n'));
    const outcome = await runExperiment(kernel, loadExperiment(target), where, { runsDir: path.join(dir, 'runs'), device: 'cpu', quick: false }, quiet);
    const [raw, relative] = await measureAps(kernel, new RunDirectory(outcome.runs[0]!.dir), where, APS_QUICK);
    for (const measurement of [raw!, relative!]) {
      const site = (column: number, layer: number) => measurement.sites.find((s) => s.column === column && s.layer === layer)!;
      for (const layer of [2, 3]) {
        expect(site(0, layer)).toMatchObject({ reaches_output: false, precision: 0, aps: 0 });
        expect(site(1, layer).aps).toBe(1);
      }
      expect(site(0, 4)).toMatchObject({ reaches_output: false, precision: 0 }); // the source's logits feed nothing
      // At layer 1 both columns matter: both get a share, found within the search's budget.
      // (The source's share is small, about 1 % on the relative scale: one lateral, into a target trained for
      // 80 steps; what matters is that it is found and not 0.)
      expect(site(0, 1).aps).toBeGreaterThan(0.001);
      expect(site(1, 1).aps).toBeGreaterThan(0.001);
      expect(site(0, 1).aps! + site(1, 1).aps!).toBeCloseTo(1, 6); // shares of one sum over the columns
      for (const column of [0, 1]) expect(site(column, 1).half).toMatchObject({ status: 'found' });
      expect(site(0, 1).half.evaluations).toBeLessThanOrEqual(12);
      expect(measurement.clean_accuracy).toBeGreaterThan(0.3);
    }
  }, 240_000);
});

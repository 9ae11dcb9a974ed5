import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDataLocation } from '../../src/data/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { resolveSources } from '../../src/runs/sources.js';

describe('resolving the source columns of a progressive experiment', () => {
  it('announces a source by the experiment and column that take it (the pre-trained approach\'s column is "target")', async () => {
    process.env.PLADDER_SOURCES = mkdtempSync(path.join(os.tmpdir(), 'pladder-sources-')); // an empty source cache
    const lines: string[] = [];
    const trained: string[] = [];
    const resolved = await resolveSources(loadExperiment('experiments/transfer-mnistm-pretrained.yaml'), 1, {
      where: resolveDataLocation(),
      device: 'cpu',
      quick: true,
      events: { progress: () => undefined, log: (line) => void lines.push(line) },
      // Where a real job trains the source (runExperiment); here the run directory it would have made.
      train: async (source, seed) => (trained.push(`${source.name}/${seed}`), `/runs/${source.name}/seed-${seed}`),
    });
    expect(trained).toEqual(['source-ladder-mnist100/1']);
    expect(lines).toEqual(["transfer-mnistm-pretrained, column 'target': its weights come from source-ladder-mnist100 seed 1, which is trained first"]);
    expect(resolved.model.architecture === 'progressive' && resolved.model.columns[0]!.weights).toEqual({ from: 'file', path: '/runs/source-ladder-mnist100/seed-1/column.pt' });
  });
});

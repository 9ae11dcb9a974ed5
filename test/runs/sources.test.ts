import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDataLocation } from '../../src/data/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { sourceKey } from '../../src/runs/source-cache.js';
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

describe('the key of a cached source column', () => {
  it('leaves out a training field added later while it is at its default, and counts it when it is set', () => {
    const experiment = loadExperiment('experiments/source-ladder-mnist100.yaml');
    const config = { experiment, seed: 2, quick: false, device: 'cpu', data_dir: 'data' };
    const { population_statistics: _added, ...before } = experiment.training;
    const older = { ...config, experiment: { ...experiment, training: before as typeof experiment.training } };
    expect(sourceKey(config)).toBe(sourceKey(older)); // a column cached before the field existed is still found
    const set = { ...config, experiment: { ...experiment, training: { ...experiment.training, population_statistics: 1000 } } };
    expect(sourceKey(set)).not.toBe(sourceKey(config));
    expect(sourceKey({ ...config, seed: 3 })).not.toBe(sourceKey(config));
  });
});

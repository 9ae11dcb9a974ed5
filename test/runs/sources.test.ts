import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDataLocation } from '../../src/data/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { applyQuick } from '../../src/runs/runner.js';
import { sourceKey, storeSource } from '../../src/runs/source-cache.js';
import { columnFilesByContent, resolveSources, sourceSeed } from '../../src/runs/sources.js';
import type { Experiment } from '../../src/spec/experiment.js';
import { columnWeightsSchema } from '../../src/spec/progressive.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { python } from '../helpers/data.js';

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
    expect(trained).toEqual(['source-ladder-mnist100/1001']); // target seed 1's paired source: never seed 1 (sources.ts)
    expect(lines).toEqual(["transfer-mnistm-pretrained, column 'target': its weights come from source-ladder-mnist100 seed 1001, which is trained first"]);
    expect(resolved.model.architecture === 'progressive' && resolved.model.columns[0]!.weights).toEqual({ from: 'file', path: '/runs/source-ladder-mnist100/seed-1001/column.pt' });
  });
});

describe('a source trained now and found in the cache later', () => {
  const context = (train: (source: Experiment, seed: number) => Promise<string>) => ({
    where: resolveDataLocation(),
    device: 'cpu',
    quick: true,
    events: { progress: () => undefined, log: () => undefined },
    train,
  });
  const columnPath = (experiment: Experiment) => (experiment.model.architecture === 'progressive' && experiment.model.columns[0]!.weights.from === 'file' ? experiment.model.columns[0]!.weights.path : undefined);

  it('resolves to the same file both times (the cache\'s copy), so a run started with one continues with the other', async () => {
    process.env.PLADDER_SOURCES = mkdtempSync(path.join(os.tmpdir(), 'pladder-sources-'));
    const target = loadExperiment('experiments/transfer-mnistm-pretrained.yaml');
    // Trained now: the run (quick, as asked) stores its column in the cache as it finishes (runner.ts), as this stand-in does.
    const trainedNow = await resolveSources(target, 1, context(async (source, seed) => {
      const runDir = mkdtempSync(path.join(os.tmpdir(), 'pladder-source-run-'));
      writeFileSync(path.join(runDir, 'column.pt'), 'weights');
      storeSource({ experiment: applyQuick(source), seed, quick: true, device: 'cpu', data_dir: 'data' }, path.join(runDir, 'column.pt'), runDir);
      return runDir;
    }));
    const foundLater = await resolveSources(target, 1, context(async () => expect.fail('the cached source is trained again')));
    expect(columnPath(trainedNow)).toContain(process.env.PLADDER_SOURCES);
    expect(foundLater).toEqual(trainedNow);
  });

  it('compares column files by their content: the same bytes elsewhere are the same definition, other bytes are not', () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'pladder-columns-'));
    const column = (name: string) => path.join(folder, name, 'column.pt');
    const [a, b, c] = [column('a'), column('b'), column('c')];
    for (const [file, bytes] of [[a, 'weights'], [b, 'weights'], [c, 'other weights']] as [string, string][]) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, bytes);
    }
    const base = loadExperiment('experiments/transfer-mnistm-pretrained.yaml');
    const at = (file: string): Experiment => {
      if (base.model.architecture !== 'progressive') throw new Error('a progressive experiment');
      const [first, ...rest] = base.model.columns;
      return { ...base, model: { ...base.model, columns: [{ ...first!, weights: { from: 'file', path: file } }, ...rest] } };
    };
    expect(columnFilesByContent(at(a))).toEqual(columnFilesByContent(at(b)));
    expect(columnFilesByContent(at(a))).not.toEqual(columnFilesByContent(at(c)));
    expect(columnFilesByContent(at(path.join(folder, 'missing.pt')))).toEqual(at(path.join(folder, 'missing.pt'))); // a missing file: compared by its path
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

describe('the paired source of a target seed', () => {
  it("never starts from the target column's initial weights (a network built from one seed starts alike whatever it trains on)", async () => {
    // The supervised source (an MLP) of target seed s, and the target's fresh column, as the kernels build them.
    const firstLayers = async (sourceOf: number) => JSON.parse(await python(`import json, sys; sys.path.insert(0, ${JSON.stringify(PROJECT_ROOT)})
from py_kernels.models import build_model
widths = [784, 1000, 500, 250, 250, 250, 10]
source = build_model("mlp", widths=widths, seed=${sourceOf})
column = {"name": "target", "architecture": "fc", "widths": widths, "batch_norm": True, "frozen": False, "weights": {"from": "init"}}
target = build_model("progressive", spec={"columns": [column], "laterals": []}, seed=1)
same = [bool((a == b).all()) for a, b in zip(source.state_dict().values(), target.columns[0].state_dict().values()) if a.dim() == 2]
print(json.dumps(same))`));
    expect(await firstLayers(1)).toEqual([true, true, true, true, true, true]); // what seed 1's source would have been
    const weights = columnWeightsSchema.parse({ from: 'source', experiment: 'source-mlp-mnist.yaml' });
    expect(weights.from === 'source' && sourceSeed(weights, 1)).toBe(1001);
    expect(await firstLayers(1001)).toEqual([false, false, false, false, false, false]);
    expect(sourceSeed({ seed: 7, seed_offset: 1000 }, 1)).toBe(7); // a source seed the experiment names is kept
  });
});

/** Source columns of a progressive experiment: each `from: source` column becomes the column.pt of a trained run of
 * its source experiment, from the source cache when that exact training was done before, else trained now. */
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { DataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import type { Experiment } from '../spec/experiment.js';
import type { Column } from '../spec/progressive.js';
import type { RunEvents } from './runner.js';
import { applyQuick } from './runner.js';
import { cachedSource, fileSha256 } from './source-cache.js';

export interface SourceContext {
  where: DataLocation;
  device: string;
  quick: boolean;
  events: RunEvents;
  /** Trains the source experiment for one seed and returns its run directory (runExperiment, passed in to avoid a cycle). */
  train(experiment: Experiment, seed: number): Promise<string>;
}

/** The seed of the source a column of run `runSeed` uses: the one the experiment names, else the run's paired source's,
 * `seed_offset` above it (src/spec/progressive.ts says why it is not 0). */
export const sourceSeed = (weights: { seed?: number | undefined; seed_offset: number }, runSeed: number) => weights.seed ?? runSeed + weights.seed_offset;

/** The experiment, as run `seed` trains it, with every `from: source` column replaced by `from: file` pointing at a
 * trained column. */
export async function resolveSources(experiment: Experiment, runSeed: number, context: SourceContext): Promise<Experiment> {
  const { model } = experiment;
  if (model.architecture !== 'progressive') return experiment;
  const columns: Column[] = [];
  for (const column of model.columns) {
    if (column.weights.from !== 'source') {
      columns.push(column);
      continue;
    }
    const file = column.weights.experiment;
    const seed = sourceSeed(column.weights, runSeed);
    const source = loadExperiment(file);
    const effective = context.quick ? applyQuick(source) : source;
    const inCache = () => cachedSource({ experiment: effective, seed, quick: context.quick, device: context.device, data_dir: context.where.dataDir }, { log: context.events.log });
    let path = inCache();
    const whose = `${experiment.name}, column '${column.name}'`; // the same source may serve columns of several experiments
    if (path) {
      context.events.log(`${whose}: reusing the trained source ${source.name} seed ${seed} (${path})`);
    } else {
      context.events.log(`${whose}: its weights come from ${source.name} seed ${seed}, which is trained first`);
      const runDir = await context.train(source, seed);
      // The cache's copy where the run stored one, so the path is the same whether the source was trained now or before
      // (a run started with one and continued with the other is the same definition).
      path = inCache() ?? `${runDir}/column.pt`;
    }
    columns.push({ ...column, weights: { from: 'file', path } });
  }
  return { ...experiment, model: { ...model, columns } };
}

/** Whether a run started as `recorded` may continue as `now`: the same definition, a column file counting as the same
 * where its bytes are, wherever it lies (a source's run directory, or the source cache's copy). Files are read only
 * when the paths differ. */
export function sameDefinition(recorded: Experiment, now: Experiment): boolean {
  return isDeepStrictEqual(recorded, now) || isDeepStrictEqual(columnFilesByContent(recorded), columnFilesByContent(now));
}

/** The experiment with each column file named by its content (sha256) where the file exists. */
export function columnFilesByContent(experiment: Experiment): Experiment {
  const { model } = experiment;
  if (model.architecture !== 'progressive') return experiment;
  const columns = model.columns.map((column) => {
    const { weights } = column;
    if (weights.from !== 'file' || !existsSync(weights.path)) return column;
    return { ...column, weights: { ...weights, path: `sha256:${fileSha256(weights.path)}` } };
  });
  return { ...experiment, model: { ...model, columns } };
}

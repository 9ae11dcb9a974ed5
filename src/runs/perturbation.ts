/** Average Perturbation Sensitivity of a finished progressive run: its network loaded in a kernel, noise added after
 * each layer of each column at test time, the half-accuracy variance searched per layer (analysis/aps.ts), kept in the
 * run's aps.json. Both noise scales: `raw` (the paper: sigma on the activations' own scale) and `relative` (Rusu et
 * al.: sigma times each unit's activation standard deviation on the clean test pass). */
import type { Kernel } from '../bridge/index.js';
import { pullTensor } from '../bridge/index.js';
import { APS_SEARCH, averagePerturbationSensitivity, findHalfVariances, precisionOf, type HalfPoint, type SearchOptions } from '../analysis/aps.js';
import type { DataLocation } from '../data/index.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { depth } from '../progressive/shapes.js';
import type { RunDirectory } from './run-dir.js';
import { kernelModel, modelInputs, type RunEvents } from './runner.js';

export const NOISE_SCALES = ['raw', 'relative'] as const;
export type NoiseScale = (typeof NOISE_SCALES)[number];

export interface ApsOptions {
  scales: readonly NoiseScale[];
  /** The first N test examples only (null: the whole test set). */
  limit: number | null;
  /** Noise draws per (site, variance): the accuracy searched on is their mean. */
  draws: number;
  seed: number;
}

export const APS_DEFAULTS: ApsOptions = { scales: NOISE_SCALES, limit: null, draws: 3, seed: 0 };
/** `--quick`: the whole measurement in seconds (one draw, 500 test examples), to check a set-up. */
export const APS_QUICK: ApsOptions = { scales: NOISE_SCALES, limit: 500, draws: 1, seed: 0 };

export interface ApsSite {
  column: number;
  column_name: string;
  layer: number;
  /** False where noise there cannot change the output (e.g. a source column's logits, which feed no lateral). */
  reaches_output: boolean;
  half: HalfPoint;
  precision: number;
  aps: number | null;
}

export interface ApsMeasurement {
  scale: NoiseScale;
  clean_accuracy: number;
  half_accuracy: number;
  limit: number | null;
  draws: number;
  seed: number;
  search: SearchOptions;
  sites: ApsSite[];
  seconds: number;
}

/** Measures (or reads back from aps.json, when measured with the same options) the run's APS for every scale. */
export async function measureAps(kernel: Kernel, dir: RunDirectory, where: DataLocation, options: ApsOptions = APS_DEFAULTS, events?: RunEvents): Promise<ApsMeasurement[]> {
  const known = dir.readAps();
  const wanted = (m: ApsMeasurement, scale: NoiseScale) => m.scale === scale && m.draws === options.draws && m.limit === options.limit && m.seed === options.seed && JSON.stringify(m.search) === JSON.stringify(APS_SEARCH);
  if (known && options.scales.every((scale) => known.some((m) => wanted(m, scale)))) return options.scales.map((scale) => known.find((m) => wanted(m, scale))!);

  const config = dir.readConfig();
  const { experiment } = config;
  if (experiment.model.architecture !== 'progressive') throw new Error(`${dir.dir}: APS is measured on progressive networks; ${experiment.name} is a ${experiment.model.architecture}`);
  const { columns } = experiment.model;
  const model = kernelModel(experiment);
  const { views } = await kernel.call('model_describe', { model });
  const runId = `aps/${experiment.name}/seed-${config.seed}`;
  // Each view its columns read (an AlexNet column's features beside a ladder's flat784), as training loaded them.
  const test = await modelInputs(kernel, views, experiment.data.dataset, 'test', where, (line) => events?.log(`${runId}: ${line}`));
  await kernel.call('run_load_model', { run_id: runId, model, model_path: dir.file('model.pt') });
  try {
    const sites = columns.flatMap((column, k) => Array.from({ length: depth(column) }, (_, l) => ({ column: k, layer: l + 1 })));
    const measurements: ApsMeasurement[] = [];
    // Progress in search rounds: 1 unperturbed + at most maxEvaluations per scale.
    const rounds = options.scales.length * (1 + APS_SEARCH.maxEvaluations);
    let round = 0;
    const step = (label: string) => events?.progress(++round, rounds, `${runId} ${label}`, runId);
    for (const scale of options.scales) {
      const started = performance.now();
      const measure = (asked: number[], variances: number[]) => {
        step(`APS, ${scale} noise`);
        return kernel.call('aps_accuracy', {
          run_id: runId,
          x: test.x,
          y: test.y,
          limit: options.limit,
          sites: asked.map((i) => sites[i]!),
          variances: variances.map((variance) => [variance]),
          draws: options.draws,
          seed: options.seed,
          scale,
          store_as: `${runId}/accuracy`,
        });
      };
      // Variance 0 everywhere: the unperturbed accuracy, and which sites can reach the output at all.
      const unperturbed = await measure(sites.map((_, i) => i), sites.map(() => 0));
      const clean = unperturbed.clean_accuracy;
      const reaches = unperturbed.reaches_output;
      const half = clean / 2;
      const accuracyAt = async (logs: (number | null)[]) => {
        const asked = logs.flatMap((log, i) => (log === null ? [] : [i]));
        const result: (number | null)[] = logs.map(() => null);
        if (!asked.length) return result;
        const measured = await measure(asked, asked.map((i) => 10 ** logs[i]!));
        const accuracy = await pullTensor(kernel, measured.accuracy.name); // (sites asked, levels = 1, draws) float64
        asked.forEach((i, s) => {
          const draws = Array.from(accuracy.data.subarray(s * options.draws, (s + 1) * options.draws), Number);
          result[i] = draws.reduce((a, b) => a + b, 0) / draws.length;
        });
        return result;
      };
      const points = await findHalfVariances(sites.map(() => half), accuracyAt);
      const precisions = sites.map((site, i) => ({ ...site, precision: reaches[i] ? precisionOf(points[i]!) : 0 }));
      const aps = averagePerturbationSensitivity(precisions);
      measurements.push({
        scale,
        clean_accuracy: clean,
        half_accuracy: half,
        limit: options.limit,
        draws: options.draws,
        seed: options.seed,
        search: APS_SEARCH,
        sites: sites.map((site, i) => ({
          ...site,
          column_name: columns[site.column]!.name,
          reaches_output: reaches[i]!,
          half: points[i]!,
          precision: precisions[i]!.precision,
          aps: Number.isFinite(aps[i]!.aps) ? aps[i]!.aps : null,
        })),
        seconds: (performance.now() - started) / 1000,
      });
    }
    events?.progress(rounds, rounds, `${runId} done`, runId);
    events?.log(`${runId}: APS measured (${measurements.map((m) => `${m.scale} ${m.seconds.toFixed(0)} s`).join(', ')})`);
    writeJsonAtomic(dir.file('aps.json'), measurements);
    return measurements;
  } finally {
    await kernel.call('run_close', { run_id: runId }).catch(() => undefined);
  }
}

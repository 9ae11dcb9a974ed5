/** Data benchmark: time to the first (uncached: parse, md5, convert, store) and a cached load of each flat784 view. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { Kernel } from '../bridge/index.js';
import { DATASET_NAMES, describeDataset, loadView, resolveDataLocation } from '../data/index.js';

export const dataLoadTimingSchema = z.object({
  dataset: z.enum(DATASET_NAMES),
  split: z.enum(['train', 'test']),
  examples: z.number().int(),
  firstSeconds: z.number(),
  cachedSeconds: z.number(),
});
export type DataLoadTiming = z.infer<typeof dataLoadTimingSchema>;

/** What figures/bench-data.json holds. */
export const dataBenchSchema = z.object({ dataDir: z.string(), timings: z.array(dataLoadTimingSchema) });

/** Each cached load runs in a fresh kernel, so nothing from the first load is still in memory. */
export async function measureDataLoads(device: string, log: (line: string) => void): Promise<{ dataDir: string; timings: DataLoadTiming[] }> {
  const where = { ...resolveDataLocation(), cacheDir: mkdtempSync(path.join(os.tmpdir(), 'pladder-bench-cache-')) };
  const timings: DataLoadTiming[] = [];
  try {
    for (const dataset of DATASET_NAMES) {
      const probe = new Kernel({ device });
      const report = await describeDataset(probe, dataset, where);
      await probe.stop({ final: true });
      if (!report.found) {
        log(`  ${dataset}: not found in ${report.location}, skipped`);
        continue;
      }
      for (const split of ['train', 'test'] as const) {
        const seconds: number[] = [];
        let examples = 0;
        for (let pass = 0; pass < 2; pass++) {
          const kernel = new Kernel({ device });
          await kernel.info();
          const loaded = await loadView(kernel, { name: dataset, split, view: 'flat784', as: 'bench' }, where);
          seconds.push(loaded.seconds);
          examples = loaded.count;
          await kernel.stop({ final: true });
        }
        const [firstSeconds = NaN, cachedSeconds = NaN] = seconds;
        log(`  ${dataset} ${split}: ${examples} examples, first ${firstSeconds.toFixed(2)} s, cached ${cachedSeconds.toFixed(2)} s`);
        timings.push({ dataset, split, examples, firstSeconds, cachedSeconds });
      }
    }
  } finally {
    rmSync(where.cacheDir, { recursive: true, force: true });
  }
  return { dataDir: where.dataDir, timings };
}

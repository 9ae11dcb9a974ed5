/** Trained source columns, cached by the hash of what determines them, so later experiments reuse them. */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { RunConfig } from './run-dir.js';

export function sourceCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.PLADDER_SOURCES ?? path.join(PROJECT_ROOT, '.cache', 'sources'));
}

/** JSON with keys sorted at every level, so equal configurations hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Training fields added after columns were first cached: at their default (null) they are left out of the key, so
 * that the columns cached before they existed are still found (and runs built on them can be continued). */
const LATER_TRAINING_FIELDS: readonly string[] = ['population_statistics'];

/** What determines a trained column: network, data, training, seed, quick. Not the name, description or device. */
export function sourceKey(config: RunConfig): string {
  const { model, data, quick } = config.experiment;
  const training = Object.fromEntries(Object.entries(config.experiment.training).filter(([field, value]) => !(value === null && LATER_TRAINING_FIELDS.includes(field))));
  const identity = { model, data, training, seed: config.seed, quick: config.quick ? quick : null };
  return createHash('sha256').update(canonical(identity)).digest('hex').slice(0, 20);
}

export function cachedSource(config: RunConfig, dir = sourceCacheDir()): string | undefined {
  const file = path.join(dir, sourceKey(config), 'column.pt');
  return existsSync(file) ? file : undefined;
}

export function storeSource(config: RunConfig, columnFile: string, runDir: string, dir = sourceCacheDir()): string {
  const target = path.join(dir, sourceKey(config));
  mkdirSync(target, { recursive: true });
  const temporary = path.join(target, `column.pt.tmp-${process.pid}`);
  copyFileSync(columnFile, temporary);
  renameSync(temporary, path.join(target, 'column.pt'));
  writeJsonAtomic(path.join(target, 'source.json'), { experiment: config.experiment.name, seed: config.seed, quick: config.quick, run: runDir });
  return path.join(target, 'column.pt');
}

/** The run directory a cached column was trained in, as the source.json beside it says (undefined when there is none
 * or it cannot be read). */
export function cachedSourceRun(columnFile: string): string | undefined {
  const file = path.join(path.dirname(columnFile), 'source.json');
  if (!existsSync(file)) return undefined;
  try {
    const run: unknown = (JSON.parse(readFileSync(file, 'utf8')) as { run?: unknown }).run;
    return typeof run === 'string' ? run : undefined;
  } catch {
    return undefined;
  }
}

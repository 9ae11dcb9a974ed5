/** Trained source columns, cached by the hash of what determines them, so later experiments reuse them. */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
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

/** The cached column of `config`, or undefined when there is none. An entry is checked before it is used: its bytes
 * against the sha256 source.json records (entries cached before that was recorded: against the run the column was
 * trained in, where it still is). A damaged entry is rebuilt from that run's column.pt when the run still has it intact,
 * else removed, so that the source is found or trained again as if never cached; `log` says which. `repair: false`
 * only looks: a damaged entry is then as good as none, and left as it is. */
export function cachedSource(config: RunConfig, { log, repair = true, dir = sourceCacheDir() }: { log?: (line: string) => void; repair?: boolean; dir?: string } = {}): string | undefined {
  const entry = path.join(dir, sourceKey(config));
  const file = path.join(entry, 'column.pt');
  if (!existsSync(file)) return undefined;
  const recorded = readSourceRecord(entry);
  const runColumn = recorded?.run === undefined ? undefined : path.join(recorded.run, 'column.pt');
  const original = runColumn && existsSync(runColumn) && statSync(runColumn).isFile() ? runColumn : undefined;
  const expected = recorded?.sha256 ?? (original ? fileSha256(original) : undefined);
  if (expected === undefined || fileSha256(file) === expected) return file;
  if (!repair) return undefined; // (a look before the job: the entry is repaired when the job reaches it, and says so)
  if (original && fileSha256(original) === expected) {
    copyInto(original, file);
    log?.(`the cached source column ${file} was damaged; rebuilt from ${original}`);
    return file;
  }
  rmSync(entry, { recursive: true, force: true });
  log?.(`the cached source column ${file} was damaged and its run's column.pt is gone or changed; the cache entry ${entry} was removed`);
  return undefined;
}

/** A file's sha256, read once per process while its size and mtime stay: a job asks for each source column of every
 * run it plans, checks and trains (tens of MB each), not once. */
const digests = new Map<string, { size: number; mtimeMs: number; digest: string }>();
export function fileSha256(file: string): string {
  const { size, mtimeMs } = statSync(file);
  const known = digests.get(file);
  if (known && known.size === size && known.mtimeMs === mtimeMs) return known.digest;
  const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
  digests.set(file, { size, mtimeMs, digest });
  return digest;
}

function copyInto(from: string, to: string): void {
  const temporary = `${to}.tmp-${process.pid}`;
  copyFileSync(from, temporary);
  renameSync(temporary, to);
}

/** What source.json says of an entry that is used here (a damaged or foreign one: nothing). */
const sourceRecordSchema = z.object({ run: z.string().optional(), sha256: z.string().optional() });

function readSourceRecord(entry: string): z.infer<typeof sourceRecordSchema> | undefined {
  try {
    return sourceRecordSchema.safeParse(JSON.parse(readFileSync(path.join(entry, 'source.json'), 'utf8'))).data;
  } catch {
    return undefined;
  }
}

export function storeSource(config: RunConfig, columnFile: string, runDir: string, dir = sourceCacheDir()): string {
  const target = path.join(dir, sourceKey(config));
  mkdirSync(target, { recursive: true });
  copyInto(columnFile, path.join(target, 'column.pt'));
  writeJsonAtomic(path.join(target, 'source.json'), { experiment: config.experiment.name, seed: config.seed, quick: config.quick, run: runDir, sha256: fileSha256(path.join(target, 'column.pt')) });
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

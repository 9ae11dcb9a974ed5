/** Where datasets and the view cache live. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';

export interface DataLocation {
  dataDir: string;
  /** How dataDir was chosen, for messages. */
  source: '--data-dir' | 'PLADDER_DATA' | './data' | '../shared/data' | 'none found';
  cacheDir: string;
}

/** The data directory: an explicit --data-dir, then PLADDER_DATA, then ./data, then ../shared/data where it exists.
 * When none exists, ./data (where a download would go). The view cache: PLADDER_CACHE, else <project>/.cache/views. */
export function resolveDataLocation(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DataLocation {
  const cacheDir = path.resolve(env.PLADDER_CACHE ?? path.join(PROJECT_ROOT, '.cache', 'views'));
  if (explicit) return { dataDir: path.resolve(cwd, explicit), source: '--data-dir', cacheDir };
  if (env.PLADDER_DATA) return { dataDir: path.resolve(cwd, env.PLADDER_DATA), source: 'PLADDER_DATA', cacheDir };
  const local = path.resolve(cwd, 'data');
  if (existsSync(local)) return { dataDir: local, source: './data', cacheDir };
  const shared = path.resolve(cwd, '..', 'shared', 'data');
  if (existsSync(shared)) return { dataDir: shared, source: '../shared/data', cacheDir };
  return { dataDir: local, source: 'none found', cacheDir };
}

import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { VITE_NODE } from './processes.js';

const BUILT_CLI = path.resolve('dist/src/cli/main.js');

/** The newest modification time of any file under `dir`. */
function newestUnder(dir: string): number {
  return Math.max(...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => statSync(path.join(dir, f)).mtimeMs));
}

/** How tests start the CLI: the build when it is newer than every source file (`make test` builds first; a start
 * takes 0.5 s against vite-node's 1.8 s, over a hundred starts a suite), else from source through vite-node, so that
 * a test never runs stale code. */
const CLI: [string, string] = (() => {
  try {
    if (statSync(BUILT_CLI).mtimeMs >= newestUnder(path.resolve('src'))) return [process.execPath, BUILT_CLI];
  } catch {
    // not built: from source
  }
  return [VITE_NODE, path.resolve('src/cli/main.ts')];
})();

/** Runs the pladder CLI (in the project's folder unless `cwd`), never throwing on a non-zero exit: await it, or signal
 * the process it returns. */
export function pladder(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
  return execa(CLI[0], [CLI[1], ...args], { reject: false, env: { ...process.env, ...env }, ...(cwd ? { cwd } : {}) });
}

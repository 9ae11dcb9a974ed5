/** Where the project's own files are, from the source tree (tests) or from dist/ (the CLI) alike. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'py_kernels', 'api.py'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`py_kernels/api.py not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot();
export const API_MODULE = path.join(PROJECT_ROOT, 'py_kernels', 'api.py');

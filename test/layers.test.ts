/** The folders of src/ are layers: a module imports from its own layer or below, never from above, so that (for
 * example) the run loop never depends on how figures are drawn, and the bridge on nothing but itself. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Lowest first; folders in one entry may import each other. */
const LAYERS = [
  ['util', 'analysis'],
  ['spec'],
  ['bridge'],
  ['data', 'provenance'],
  ['experiments', 'progressive'],
  ['runs', 'slurm'],
  ['figures', 'results'],
  ['bench', 'cli'],
];
const TOP_LEVEL_FILES = ['paths.ts', 'index.ts']; // paths.ts is a leaf; index.ts is the public API, above everything

const layerOf = (folder: string) => LAYERS.findIndex((layer) => layer.includes(folder));

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]!);
}

describe('the layers of src/', () => {
  const root = path.resolve('src');
  const folders = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

  it('every folder of src/ has a layer, and nothing else is at the top of src/', () => {
    expect(folders.filter((folder) => layerOf(folder) < 0)).toEqual([]);
    const files = readdirSync(root, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
    expect(files.sort()).toEqual([...TOP_LEVEL_FILES].sort());
  });

  it('no module imports from a higher layer', () => {
    const upward: string[] = [];
    for (const folder of folders) {
      for (const name of readdirSync(path.join(root, folder), { recursive: true }) as string[]) {
        if (!name.endsWith('.ts')) continue;
        const file = path.join(root, folder, name);
        for (const spec of importsOf(file)) {
          const target = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep)[0]!;
          if (target.endsWith('.js')) continue; // a top-level leaf (paths.ts)
          if (layerOf(target) > layerOf(folder)) upward.push(`${path.relative(root, file)} -> ${target} (${spec})`);
        }
      }
    }
    expect(upward).toEqual([]);
  });
});

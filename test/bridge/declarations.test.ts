/** The package's emitted declarations compile for a library user who type-checks them (strict, no skipLibCheck), with
 * the README's example: zod's enum type once emitted a key `[-Infinity]` into bridge/calls.d.ts, which tsc refuses. */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';

const INDEX = path.join(PROJECT_ROOT, 'dist', 'src', 'index.js');

describe('the package as a TypeScript user imports it', () => {
  it("compiles the README's example against the built declarations", async () => {
    // make test builds first; a stale build would test old declarations
    expect(statSync(INDEX.replace(/\.js$/, '.d.ts')).mtimeMs, 'dist is older than src: npm run build').toBeGreaterThanOrEqual(statSync(path.join(PROJECT_ROOT, 'src', 'bridge', 'wire.ts')).mtimeMs);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-consumer-'));
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(path.join(dir, 'example.ts'), [
      `import { kernelFor, pullTensor, KernelError } from '${INDEX}';`,
      "const kernel = kernelFor('auto');",
      "await kernel.call('tensor_random', { name: 'w', shape: [1000, 784], dtype: 'float32', seed: 0 });",
      "const w = await pullTensor(kernel, 'w');",
      'export const seen: [string, readonly number[], boolean] = [w.dtype, w.shape, KernelError.prototype instanceof Error];',
    ].join('\n'));
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'], typeRoots: [path.join(PROJECT_ROOT, 'node_modules', '@types')] },
      files: ['example.ts'],
    }));
    const result = await execa(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', dir], { reject: false });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  }, 60_000);
});

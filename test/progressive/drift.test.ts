/** The rules of the progressive graph live in TypeScript alone: two cases that once passed `pladder run`'s checks and
 * failed later in the kernel (naming kernel-spec indices, possibly after a source had trained for hours) are refused
 * with the YAML file's line, exit code 2, before any kernel starts: PLADDER_PYTHON points at no interpreter here, so a
 * kernel started at all would end the command with exit code 3 instead. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';

const NO_PYTHON = { PLADDER_PYTHON: '/nonexistent/python3' };

function experimentFile(model: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-drift-'));
  writeFileSync(path.join(dir, 'column.pt'), 'a column file (never read: the graph is refused first)');
  const file = path.join(dir, 'drift.yaml');
  writeFileSync(file, ['name: drift', 'model:', '  architecture: progressive', ...model, 'data: { dataset: mnist-m, labels: null }', 'training: { epochs: 1 }'].join('\n'));
  return file;
}

describe('progressive graphs the kernel used to be the first to refuse', () => {
  it('a duplicate lateral', async () => {
    const file = experimentFile([
      '  columns:',
      '    - { name: mnist, weights: { from: file, path: column.pt }, frozen: true }',
      '    - { name: target }',
      '  laterals:',
      '    - { from: { column: mnist, layer: 1 }, to: { column: target, layer: 2 } }',
      '    - { from: { column: mnist, layer: 1 }, to: { column: target, layer: 2 }, adapter: { kind: none } }',
    ]);
    const result = await pladder(['run', file, '--device', 'cpu'], NO_PYTHON);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${file}:9:7 model.laterals[1]: repeats laterals[0] (mnist layer 1 -> target layer 2)`);
  });

  it('fc columns that do not read the 784 values of a flat784 digit, even where all of them agree', async () => {
    const file = experimentFile([
      '  columns:',
      '    - name: svhn-gray',
      '      widths: [1024, 500, 10]',
      '      weights: { from: file, path: column.pt }',
      '      frozen: true',
      '    - { name: target, widths: [1024, 500, 10] }',
      '  laterals: none',
    ]);
    const result = await pladder(['run', file, '--device', 'cpu'], NO_PYTHON);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${file}:6:15 model.columns[0].widths: the first width is the input: 784 (a 28x28 digit, flattened)`);
    expect(result.stderr).toContain(`${file}:9:31 model.columns[1].widths: the first width is the input: 784`);
  });
});

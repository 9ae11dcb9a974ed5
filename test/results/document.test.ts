import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { table, writeSection } from '../../src/results/document.js';

describe('the results document', () => {
  it('replaces a section in place and keeps the others', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'results-')), 'results.md');
    writeSection('a', '## A\nfirst', file);
    writeSection('b', '## B\nsecond', file);
    writeSection('a', '## A\nthird', file);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# Results/);
    expect(text).not.toContain('first');
    expect(text.indexOf('third')).toBeLessThan(text.indexOf('second'));
  });

  it('writes markdown tables', () => {
    expect(table(['x', 'y'], [[1, 'a']])).toBe('| x | y |\n| --- | --- |\n| 1 | a |');
  });
});

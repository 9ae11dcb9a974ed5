/** The paper's figures are make targets of their names: the results sections point at `make NAME` for these only
 * (figure-source-pairing's section pointed at a target that does not exist). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAPER_FIGURES } from '../../src/figures/schema.js';
import { PROJECT_ROOT } from '../../src/paths.js';

describe("the paper's figures", () => {
  it('each has its experiments/NAME.yaml and a Makefile target NAME; no other figure file does', () => {
    const makefile = readFileSync(path.join(PROJECT_ROOT, 'Makefile'), 'utf8');
    const targets = new Set(makefile.split('\n').flatMap((line) => (/^[\w -]+:/.test(line) && !line.startsWith('.') ? line.split(':')[0]!.trim().split(/\s+/) : [])));
    for (const name of PAPER_FIGURES) {
      expect(existsSync(path.join(PROJECT_ROOT, 'experiments', `${name}.yaml`)), name).toBe(true);
      expect(targets.has(name), `make ${name}`).toBe(true);
    }
    expect(targets.has('figure-source-pairing')).toBe(false);
  });
});

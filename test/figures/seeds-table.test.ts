/** The per-seed table of a figure says where a run was built on a source of its own seed: those runs (every committed
 * transfer figure was trained so) began their fresh column at the source column's initial weights. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { figureDataSchema } from '../../src/figures/figure-data.js';
import { seedsTable } from '../../src/figures/tables.js';
import { PROJECT_ROOT } from '../../src/paths.js';

const COUPLED = "the run's own seed, so a fresh column of the run began at this column's initial weights";

describe("a figure's per-seed table", () => {
  const figure5 = figureDataSchema.parse(JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'figures', 'figure5.json'), 'utf8')));
  const rows = (data: typeof figure5) => seedsTable(data).split('\n').slice(2); // below the header and its rule

  it('marks each source of the run\'s own seed (figure5.json, trained before sources took seed s + 1000)', () => {
    const built = rows(figure5).filter((row) => row.includes('source-'));
    expect(built.length).toBeGreaterThan(0);
    for (const row of built) expect(row).toContain(COUPLED);
    const baseline = rows(figure5).filter((row) => row.startsWith('| Supervised (baseline) |')); // built on no source
    expect(baseline).toHaveLength(3);
    for (const row of baseline) expect(row).not.toContain(COUPLED);
  });

  it('leaves a paired source of another seed unmarked', () => {
    const paired = structuredClone(figure5);
    for (const run of paired.approaches.flatMap((a) => a.runs)) for (const source of run.sources) source.seed = run.seed + 1000;
    expect(rows(paired).some((row) => row.includes('source-ladder-mnist100 seed 1001'))).toBe(true);
    expect(seedsTable(paired)).not.toContain(COUPLED);
  });
});

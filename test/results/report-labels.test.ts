/** The report shows Figure 5 at a smaller label budget (figure5-labelsN.json) beside the full one, with its claims. */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { writeReport } from '../../src/results/report.js';

describe('pladder report with a label-budget variant of Figure 5', () => {
  it('adds its figure and judges the accuracy claims on it', async () => {
    const figures = mkdtempSync(path.join(os.tmpdir(), 'pladder-report-labels-'));
    const committed = path.join(PROJECT_ROOT, 'figures', 'figure5.json');
    copyFileSync(committed, path.join(figures, 'figure5.json'));
    copyFileSync(committed, path.join(figures, 'figure5-labels1000.json')); // its numbers stand in for a 1000-label run's
    const out = path.join(figures, 'report');
    const { claims, markdown } = await writeReport(out, figures);
    const fewLabels = claims.filter((c) => c.section === '4.2 (1000 labels)');
    expect(fewLabels.map((c) => c.claim)).toEqual([
      'The progressive ladder network ends above the supervised baseline on the target, with 1000 target labels',
      'A semi-supervised (ladder) source column is worth more than a supervised one, with 1000 target labels',
    ]);
    // Judged on the same numbers, the verdicts equal those of the full figure's two claims.
    const full = claims.filter((c) => c.section === '4.2').slice(0, 2);
    expect(fewLabels.map((c) => [c.ours, c.verdict])).toEqual(full.map((c) => [c.ours, c.verdict]));
    const text = readFileSync(markdown, 'utf8');
    expect(text).toMatch(/## MNIST -> MNIST-M, fully-connected columns: test accuracy by epoch, 1000 target labels\n\n!\[[^\]]*\]\([^)]*figure5-labels1000\.svg\)/);
  });
});

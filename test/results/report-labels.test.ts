/** The report shows Figure 5 and the conv transfer at a smaller label budget (figure5-labelsN.json,
 * figure-conv-epochsE-labelsN.json) beside the full ones, with their claims. */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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
    copyFileSync(committed, path.join(figures, 'figure5-epochs10-labels1000.json')); // a shortened one: the full one wins
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

  it('judges the conv transfer claim on a shortened conv figure with fewer labels, saying how far its runs went', async () => {
    const figures = mkdtempSync(path.join(os.tmpdir(), 'pladder-report-conv-labels-'));
    copyFileSync(path.join(PROJECT_ROOT, 'figures', 'figure5.json'), path.join(figures, 'figure5.json'));
    // The longest committed conv transfer figure (figure-conv-epochsE.json) stands in for a 1000-label run of E epochs.
    const conv = readdirSync(path.join(PROJECT_ROOT, 'figures'))
      .flatMap((f) => (/^figure-conv-epochs\d+\.json$/.test(f) ? [{ f, epochs: Number(/\d+/.exec(f)![0]) }] : []))
      .sort((a, b) => b.epochs - a.epochs)[0];
    expect(conv, 'a committed figures/figure-conv-epochsE.json').toBeDefined();
    copyFileSync(path.join(PROJECT_ROOT, 'figures', conv!.f), path.join(figures, `figure-conv-epochs${conv!.epochs}-labels1000.json`));
    const { claims, markdown } = await writeReport(path.join(figures, 'report'), figures);
    const fewLabels = claims.filter((c) => c.section === '4.2 (1000 labels)');
    expect(fewLabels.map((c) => c.claim)).toEqual([
      'With convolutional columns the progressive ladder network does poorly: the Gamma-model column does not help the target, with 1000 target labels',
    ]);
    expect(fewLabels[0]!.ours).toContain(`after ${conv!.epochs} of 100 epochs`);
    expect(fewLabels[0]!.verdict).not.toBe('cannot be tested here');
    const text = readFileSync(markdown, 'utf8');
    expect(text).toContain(`figure-conv-epochs${conv!.epochs}-labels1000.svg`);
  });
});

/** The report shows Figure 5 and the conv and AlexNet transfers at a smaller label budget (figure5-labelsN.json,
 * figure-conv-epochsE-labelsN.json, figure-alexnet-epochsE-labelsN.json) beside the full ones, with their claims. */
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

  const claimAt1000 = {
    'figure-conv': 'With convolutional columns the progressive ladder network does poorly: the Gamma-model column does not help the target, with 1000 target labels',
    'figure-alexnet': "The progressive AlexNet does worse than its head alone, because AlexNet's scale does not match the ladder's layers (here: laterals added after the head's batch norm, so scale cannot matter), with 1000 target labels",
  };
  for (const [id, claim] of Object.entries(claimAt1000)) {
    it(`judges ${id}'s transfer claim on a shortened variant with fewer labels, saying how far its runs went`, async () => {
      const figures = mkdtempSync(path.join(os.tmpdir(), `pladder-report-${id}-labels-`));
      copyFileSync(path.join(PROJECT_ROOT, 'figures', 'figure5.json'), path.join(figures, 'figure5.json'));
      // The longest committed shortened figure (figure-...-epochsE.json) stands in for a 1000-label run of E epochs.
      const shortened = new RegExp(`^${id}-epochs(\\d+)\\.json$`);
      const longest = readdirSync(path.join(PROJECT_ROOT, 'figures'))
        .flatMap((f) => (shortened.test(f) ? [{ f, epochs: Number(shortened.exec(f)![1]) }] : []))
        .sort((a, b) => b.epochs - a.epochs)[0];
      expect(longest, `a committed figures/${id}-epochsE.json`).toBeDefined();
      copyFileSync(path.join(PROJECT_ROOT, 'figures', longest!.f), path.join(figures, `${id}-epochs${longest!.epochs}-labels1000.json`));
      const { claims, markdown } = await writeReport(path.join(figures, 'report'), figures);
      const fewLabels = claims.filter((c) => c.section === '4.2 (1000 labels)');
      expect(fewLabels.map((c) => c.claim)).toEqual([claim]);
      expect(fewLabels[0]!.ours).toContain(`after ${longest!.epochs} of 100 epochs`);
      expect(fewLabels[0]!.verdict).not.toBe('cannot be tested here');
      expect(readFileSync(markdown, 'utf8')).toContain(`${id}-epochs${longest!.epochs}-labels1000.svg`);
    });
  }
});

/** The report's opening says which folder its figures came from, and a report of --quick figures says it is a check of
 * the set-up, not a result (reproduce --quick writes docs/report/quick/ from figures/quick/). */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { writeReport } from '../../src/results/report.js';

describe('the report\'s opening', () => {
  it('names the folder the figures were read from', async () => {
    const figures = mkdtempSync(path.join(os.tmpdir(), 'pladder-report-intro-'));
    copyFileSync(path.join(PROJECT_ROOT, 'figures', 'figure5.json'), path.join(figures, 'figure5.json'));
    const { markdown, html } = await writeReport(path.join(figures, 'report'), figures);
    expect(readFileSync(markdown, 'utf8')).toContain(`from the figures' JSON in ${figures}/`);
    expect(readFileSync(html, 'utf8')).toContain(`in ${figures}/`);
    expect(readFileSync(markdown, 'utf8')).not.toContain('--quick runs');
    // the claims' parentheses are ranges over seeds, the figure tables' are 95% intervals: the opening says which
    expect(readFileSync(markdown, 'utf8')).toContain('the parentheses give the lowest and highest seed');
    // figure5.json's transfer runs were built on sources of their own seed: the opening says so
    expect(readFileSync(markdown, 'utf8')).toContain('were each built on the source of its own seed');
  });

  it('of --quick figures, says their numbers and verdicts are a check of the set-up', async () => {
    const figures = mkdtempSync(path.join(os.tmpdir(), 'pladder-report-intro-'));
    copyFileSync(path.join(PROJECT_ROOT, 'figures', 'figure5.json'), path.join(figures, 'figure5.json'));
    const { markdown } = await writeReport(path.join(figures, 'report'), figures, true);
    expect(readFileSync(markdown, 'utf8')).toMatch(/These are --quick runs .*say nothing about the paper/);
  });
});

/** `pladder reproduce --quick`: the whole paper in one command (sources, the approaches, the ablation, APS, the
 * report), and the report as a page a real browser (Debian's Chromium, headless) opens without a console message and
 * shows every figure of. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { pladder } from '../helpers/cli.js';
import { python } from '../helpers/data.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));

describe('make reproduce QUICK=1', () => {
  it('runs the whole pipeline and ends with a report naming every figure and claim, which a browser shows', async () => {
    const env = { PLADDER_SOURCES: path.join(root, 'sources'), PLADDER_RESULTS_DOC: path.join(root, 'results.md') };
    const started = Date.now();
    const result = await pladder(['reproduce', '--quick', '--parallel', '2', '--device', 'cpu', '--runs-dir', path.join(root, 'runs')], env);
    expect(result.exitCode, result.stderr).toBe(0);
    const seconds = (Date.now() - started) / 1000;
    const report = path.join(PROJECT_ROOT, 'docs', 'report', 'quick', 'report.html');
    expect(result.stdout.trim().split('\n').at(-1)).toBe(`report: ${report} (and report.md)`);
    expect(result.stdout).toMatch(/^\d+ claims: /m);

    // --quick leaves the progressive AlexNet out (its features take half an hour once), and says so.
    expect(result.stdout).toMatch(/reproduce --quick: experiments\/figure-alexnet.yaml is left out/);
    for (const id of ['figure5', 'figure6', 'figure7', 'figure-conv-gamma', 'figure-conv']) {
      const base = path.join(PROJECT_ROOT, 'figures', 'quick', id);
      expect(readFileSync(`${base}.svg`, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>$/);
      expect(readFileSync(`${base}.png`).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a'); // the PNG signature
    }
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('MNIST -&gt; MNIST-M (standing in for SVHN'); // the title names the target domain
    for (const id of ['figure5', 'figure6', 'figure7', 'figure-conv-gamma', 'figure-conv']) expect(html).toMatch(new RegExp(`<section id="${id}"><h2>[^<]+</h2><figure><svg`));
    expect(html).not.toMatch(/<(script|link|img)\b/); // self-contained: nothing to fetch, nothing to run
    const markdown = readFileSync(path.join(path.dirname(report), 'report.md'), 'utf8');
    for (const claim of ['ends above the supervised baseline', 'worth more than a supervised one', 'beats fine-tuning', 'reaches 74% test accuracy', 'collapses (laterals before the batch norm)', 'reuses the source column\'s layer 1', 'Layer 6 of the target column', 'reaches only about 82%', 'the Gamma-model column does not help the target', 'The progressive AlexNet does worse than its head alone']) {
      expect(markdown).toContain(claim);
    }
    expect(markdown).toMatch(/\| \*\*(holds|does not hold|not shown \([^)]*\)|cannot be tested here)\*\* \|/);

    if (!CHROMIUM) throw new Error('Debian\'s chromium is not installed: make setup installs it (apt-get install chromium)');
    const screenshot = path.join(root, 'report.png');
    const browser = await execa(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0', `--screenshot=${screenshot}`, '--window-size=1280,4000', `file://${report}`], { reject: false, timeout: 120_000 });
    expect(browser.stderr).not.toMatch(/CONSOLE/);
    // The screenshot is a page with content: many pixels far from white, in several colours (the figures' bars and lines).
    const stats = JSON.parse(await python(`import json; from PIL import Image
im = Image.open(${JSON.stringify(screenshot)}).convert("RGB"); px = list(im.getdata())
dark = sum(1 for p in px if sum(p) < 600); colours = len({(r // 32, g // 32, b // 32) for r, g, b in px})
print(json.dumps({"dark": dark / len(px), "colours": colours}))`));
    expect(stats.dark).toBeGreaterThan(0.01);
    expect(stats.colours).toBeGreaterThan(8);
    console.log(`reproduce --quick: ${seconds.toFixed(0)} s`);
  }, 480_000);
});

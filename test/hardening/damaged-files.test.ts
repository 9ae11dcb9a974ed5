/** Files a run, figure or report reads back that something other than pladder damaged (a cut-off line, garbage, NaN,
 * an empty object): refused through the real CLI with exit 2, naming the file (and line) and what to do, no stack. */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-damaged-'));
const scratch = [root];
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function expectRefused(result: { exitCode?: number; stderr: string }, ...needles: string[]) {
  expect(result.exitCode, result.stderr).toBe(2);
  for (const needle of needles) expect(result.stderr).toContain(needle);
  expect(result.stderr).not.toContain('    at ');
  expect(result.stderr).not.toMatch(/SyntaxError|ZodError/);
}

const DAMAGE: [string, (text: string) => string][] = [
  ['a garbage line', (text) => `${text}this is not json\n`],
  ['a cut-off line', (text) => `${text}${text.slice(0, 40)}\n`],
  ['NaN', (text) => `${text}${text.trim().replace(/"lr":[^,]+/, '"lr":NaN')}\n`],
];

/** JSON objects that are not the next epoch's record: dropped silently, the learning curve lost the epoch. Every
 * reader reads metrics.jsonl through the one RunDirectory.readMetrics (DAMAGE above goes through all three). */
const NOT_RECORDS: [string, (text: string) => string, string][] = [
  ['an object that is not an epoch record', (text) => `${text}{"note": "an edit"}\n`, 'not an epoch record: epoch:'],
  ['a record without its test accuracy', (text) => `${text}${text.trim().replace(/"test_accuracy":[^,]+,/, '')}\n`, 'not an epoch record: test_accuracy:'],
  ['the first epoch twice', (text) => `${text}${text}`, "the record of epoch 1 where epoch 2's belongs"],
];

describe('a damaged run file', () => {
  let experimentFile: string;
  let finished: string; // runs/tiny-quick, seeds 1 and 2 complete

  beforeAll(async () => {
    const { dir, file, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5, seeds: [1, 2] });
    scratch.push(dir);
    experimentFile = file;
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir]);
    expect(result.exitCode, result.stderr).toBe(0);
    finished = path.join(runsDir, 'tiny-quick');
  }, 120_000);

  /** A copy of the experiment's runs; `unfinished`: seed 1 as a kill after its first epoch's checkpoint leaves it. */
  function copyRuns(name: string, unfinished = false): { runsDir: string; seed1: string } {
    const runsDir = path.join(root, name, 'runs');
    cpSync(finished, path.join(runsDir, 'tiny-quick'), { recursive: true });
    const seed1 = path.join(runsDir, 'tiny-quick', 'seed-1');
    if (unfinished) for (const file of ['result.json', 'model.pt', 'column.pt']) rmSync(path.join(seed1, file));
    return { runsDir, seed1 };
  }

  for (const [what, damage] of DAMAGE) {
    it(`metrics.jsonl with ${what}: resume, record and figure --no-train name the file and line`, async () => {
      const { runsDir, seed1 } = copyRuns(what.replace(/\W/g, '-'), true);
      const metrics = path.join(seed1, 'metrics.jsonl');
      writeFileSync(metrics, damage(readFileSync(metrics, 'utf8')));

      const resumed = await pladder(['run', '--resume', seed1, '--device', 'cpu']);
      expectRefused(resumed, `${metrics}:2`, '--fresh');
      expect(resumed.stderr).not.toContain('resuming after');

      expectRefused(await pladder(['record', path.join(runsDir, 'tiny-quick'), '--doc', path.join(root, `${what}.md`)]), `${metrics}:2`);

      // One unreadable run among several: the figure is refused, naming it, never drawn without it.
      const figure = path.join(path.dirname(experimentFile), 'damaged-figure.yaml');
      writeFileSync(figure, ['name: damaged-figure-test', 'title: t', 'kind: curves', `experiments: [{ label: tiny, file: ${path.basename(experimentFile)} }]`].join('\n'));
      const drawn = await pladder(['figure', figure, '--no-train', '--quick', '--device', 'cpu', '--runs-dir', runsDir]);
      expectRefused(drawn, `${metrics}:2`, `delete ${seed1} to leave it out`);
    });
  }

  for (const [what, damage, why] of NOT_RECORDS) {
    it(`metrics.jsonl with ${what}: record names the file and line`, async () => {
      const { runsDir, seed1 } = copyRuns(what.replace(/\W/g, '-'), true);
      const metrics = path.join(seed1, 'metrics.jsonl');
      writeFileSync(metrics, damage(readFileSync(metrics, 'utf8')));
      expectRefused(await pladder(['record', path.join(runsDir, 'tiny-quick'), '--doc', path.join(root, `${what}.md`)]), `${metrics}:2: ${why}`);
    });
  }

  it('a garbage environment.json is refused on resume before it says it resumes', async () => {
    const { seed1 } = copyRuns('environment', true);
    const environment = path.join(seed1, 'environment.json');
    writeFileSync(environment, '{"python": "3.1');
    const resumed = await pladder(['run', '--resume', seed1, '--device', 'cpu']);
    expectRefused(resumed, environment, '--fresh');
    expect(resumed.stderr).not.toContain('resuming after');
  });
});

describe('a damaged figure JSON given to report', () => {
  for (const [what, text] of [['cut short', '{"figure": "figure5", "title": "MNIST'], ['an empty object', '{}']] as const) {
    it(`figure5.json ${what}: named, with the command that redraws it`, async () => {
      const figures = path.join(root, `figures-${what.replace(/\W/g, '-')}`);
      mkdirSync(figures, { recursive: true });
      cpSync(path.join(PROJECT_ROOT, 'figures', 'figure7.json'), path.join(figures, 'figure7.json'));
      writeFileSync(path.join(figures, 'figure5.json'), text);
      const result = await pladder(['report', '--figures', figures, '--out', path.join(root, `report-${what.replace(/\W/g, '-')}`)]);
      expectRefused(result, path.join(figures, 'figure5.json'), 'redraw it (bin/pladder figure experiments/figure5.yaml --no-train) or remove it');
    });
  }

  it('a variant figure names its own command', async () => {
    const figures = path.join(root, 'figures-variant');
    mkdirSync(figures, { recursive: true });
    cpSync(path.join(PROJECT_ROOT, 'figures', 'figure5.json'), path.join(figures, 'figure5.json'));
    writeFileSync(path.join(figures, 'figure5-epochs10-labels1000.json'), '[]');
    const result = await pladder(['report', '--figures', figures, '--out', path.join(root, 'report-variant')]);
    expectRefused(result, 'figure5-epochs10-labels1000.json', 'bin/pladder figure experiments/figure5.yaml --no-train --epochs 10 --labels 1000');
  });
});

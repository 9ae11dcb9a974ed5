/** A run directory edited or replaced by hand, or written to a full disk: `pladder run --resume` refuses what it cannot
 * continue exactly (exit 2, the file and the fix named, no Python traceback or JavaScript stack) and changes nothing;
 * a full disk ends the run with the path named and its last complete checkpoint intact, not a crash and a retry. */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kernel } from '../../src/bridge/index.js';
import { loadExperiment } from '../../src/experiments/load.js';
import { runExperiment } from '../../src/runs/experiment.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { pladder } from '../helpers/cli.js';
import { python, scratchData } from '../helpers/data.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-checkpoints-'));
const scratch = [root];
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const py = (value: string) => JSON.stringify(value);

/** Refused as the user's to fix: exit 2, the file named, the way out named, no traceback or stack. */
function expectRefused(result: { exitCode?: number; stderr: string }, file: string) {
  expect(result.exitCode, result.stderr).toBe(2);
  expect(result.stderr).toContain(file);
  expect(result.stderr).toMatch(/--fresh/);
  expect(result.stderr).not.toContain('Traceback');
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe('pladder run --resume with a checkpoint.pt or config.json edited by hand', () => {
  let unfinished: string; // a real run stopped after epoch 1 of 2: its checkpoint.pt and metrics.jsonl as the run left them

  beforeAll(async () => {
    // A 2-epoch MLP run stopped right after its first epoch (the runner logs each epoch once its checkpoint and
    // metrics are written; throwing there ends the run like a kill would).
    const { dir, file, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 2, iterations: 5 });
    scratch.push(dir);
    const where = scratchData();
    scratch.push(where.root);
    const kernel = new Kernel({ device: 'cpu' });
    const events = { progress: () => undefined, log: (line: string) => { if (/epoch 1\/2:/.test(line)) throw new Error('stopped after epoch 1'); } };
    try {
      await expect(runExperiment(kernel, loadExperiment(file), where, { runsDir, device: 'cpu', quick: true }, events)).rejects.toThrow('stopped after epoch 1');
    } finally {
      await kernel.stop({ final: true });
    }
    unfinished = path.join(runsDir, 'tiny-quick', 'seed-1');
    expect(existsSync(path.join(unfinished, 'checkpoint.pt'))).toBe(true);
  }, 120_000);

  /** A copy of the unfinished run (in a folder seed-1), its checkpoint edited by the Python lines `edit` (on `s`). */
  async function editedRun(name: string, edit: string): Promise<{ dir: string; checkpoint: string; config: string }> {
    const dir = path.join(root, name, 'seed-1');
    mkdirSync(path.dirname(dir), { recursive: true });
    cpSync(unfinished, dir, { recursive: true });
    const checkpoint = path.join(dir, 'checkpoint.pt');
    if (edit) await python(`import sys, torch\nsys.path.insert(0, ${py(PROJECT_ROOT)})\nfrom py_kernels import safe_load\ns = safe_load.load(${py(checkpoint)}, what='checkpoint', hint='')\n${edit}\ntorch.save(s, ${py(checkpoint)})`);
    return { dir, checkpoint, config: path.join(dir, 'config.json') };
  }

  const resume = (dir: string) => pladder(['run', '--resume', dir, '--device', 'cpu']);

  // One of each kind through the CLI (the network, the file's structure, the epoch); every other edit is refused by
  // the same check, py_kernels/tests/test_checkpoint_validation.py, in milliseconds instead of a process each.
  const CHECKPOINT_EDITS: [string, string, RegExp][] = [
    ['a tensor of the wrong shape', 's["model"]["layers.0.weight"] = torch.zeros(3, 3)', /model\['layers\.0\.weight'\] of shape \(3, 3\), but the network built from the run's config\.json has \(1000, 784\)/],
    ['no model', 's.pop("model")', /it has no 'model'/],
    ['epoch 99', 's["epoch"] = 99', /is at epoch 99, outside the run's 2 planned epochs/],
  ];

  it.each(CHECKPOINT_EDITS)('%s', async (name, edit, message) => {
    const { dir, checkpoint } = await editedRun(name.replace(/\W+/g, '-'), edit);
    const before = readFileSync(checkpoint);
    const result = await resume(dir);
    expectRefused(result, `checkpoint ${checkpoint}`);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('delete it to train the run again from its first epoch');
    expect(readFileSync(checkpoint).equals(before)).toBe(true); // nothing changed
  }, 60_000);

  it('a checkpoint at an epoch that metrics.jsonl does not hold', async () => {
    const { dir, checkpoint } = await editedRun('epoch-beyond-metrics', 's["epoch"] = 2');
    const result = await resume(dir);
    expectRefused(result, `checkpoint ${checkpoint} is at epoch 2, but ${path.join(dir, 'metrics.jsonl')} holds 1 of its epochs`);
  }, 60_000);

  it("config.json's widths edited so that the network no longer fits the checkpoint", async () => {
    const { dir, checkpoint, config } = await editedRun('widths', '');
    const json = JSON.parse(readFileSync(config, 'utf8'));
    json.experiment.model.widths[1] = 999;
    writeFileSync(config, JSON.stringify(json));
    const result = await resume(dir);
    expectRefused(result, `checkpoint ${checkpoint}`);
    expect(result.stderr).toMatch(/model\['layers\.0\.weight'\] of shape \(1000, 784\), but the network built from the run's config\.json has \(999, 784\)/);
  }, 60_000);

  it("config.json's seed edited to another than its folder's", async () => {
    const { dir, config } = await editedRun('config-seed', '');
    const json = JSON.parse(readFileSync(config, 'utf8'));
    json.seed = 7;
    writeFileSync(config, JSON.stringify(json));
    const result = await resume(dir);
    expectRefused(result, config);
    expect(result.stderr).toContain('says "seed": 7, but its run directory is seed-1');
    expect(result.stderr).toContain('put "seed": 1 back in config.json');
  }, 60_000);
});

describe('a run whose runs directory fills up', () => {
  const mountPoint = path.join(root, 'small-disk');
  let mounted = false;
  beforeAll(async () => {
    // A 30 MB file system: one checkpoint of the MLP (18.5 MB) fits, a second beside it (atomic: written, then
    // renamed over the first) does not. Needs root (mount); skipped where there is none.
    mkdirSync(mountPoint, { recursive: true });
    mounted = (await execa('mount', ['-t', 'tmpfs', '-o', 'size=30m', 'tmpfs', mountPoint], { reject: false })).exitCode === 0;
  });
  afterAll(async () => {
    if (mounted) await execa('umount', [mountPoint], { reject: false });
  });

  it('ends with the path and "no space left on device", exit 2, its last complete checkpoint intact, not retried', async (context) => {
    if (!mounted) context.skip();
    const { dir, file } = tinyExperimentFile({ architecture: 'mlp', epochs: 2, iterations: 5 });
    scratch.push(dir);
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', mountPoint]);
    const run = path.join(mountPoint, 'tiny-quick', 'seed-1');
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`cannot write ${path.join(run, 'checkpoint.pt')}: no space left on device`);
    expect(result.stderr).toContain('its previous content is intact');
    expect(result.stderr).not.toContain('Traceback');
    expect(result.stderr).not.toMatch(/terminate called|c10::Error|trying it once more/);
    expect(readdirSync(run).sort()).toEqual(['checkpoint.pt', 'config.json', 'environment.json', 'metrics.jsonl']);
    expect(await python(`import sys; sys.path.insert(0, ${py(PROJECT_ROOT)}); from py_kernels import safe_load
print(safe_load.load(${py(path.join(run, 'checkpoint.pt'))}, what="checkpoint", hint="")["epoch"])`)).toBe('1');
  }, 120_000);
});

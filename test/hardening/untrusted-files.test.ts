/** Column files and checkpoints come from elsewhere: loading one must never run code from it, and a damaged one
 * must say which file and what to do, through the real CLI (exit code 2, no stack trace). */
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { pladder } from '../helpers/cli.js';
import { python } from '../helpers/data.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-untrusted-'));
const scratch = [root];
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const py = (value: string) => JSON.stringify(value); // a JSON string is a valid Python string literal

/** Python that defines `Calls(fn, *args)`, an object that unpickles as the call fn(*args). */
const CALLS = `
class Calls:
    def __init__(self, fn, *args): self.fn, self.args = fn, args
    def __reduce__(self): return self.fn, self.args
`;

/** A progressive experiment whose frozen first column is read from `columnFile`. */
function progressiveExperiment(name: string, columnFile: string): string {
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'model:',
      '  architecture: progressive',
      '  columns:',
      '    - name: source',
      `      weights: { from: file, path: ${py(columnFile)} }`,
      '      frozen: true',
      '    - name: target',
      '  laterals: all',
      'data:',
      '  dataset: mnist',
      '  labels: 100',
      'training:',
      '  epochs: 1',
      '  iterations_per_epoch: 5',
      'seeds: [1]',
      'quick:',
      '  epochs: 1',
      '  iterations_per_epoch: 5',
      '  test_subset: 500',
    ].join('\n'),
  );
  return file;
}

/** Refused as the user's to fix: exit 2, the file named, no Python traceback or JavaScript stack. */
function expectRefusedNaming(result: { exitCode?: number; stderr: string }, file: string) {
  expect(result.exitCode, result.stderr).toBe(2);
  expect(result.stderr).toContain(file);
  expect(result.stderr).not.toContain('Traceback');
  expect(result.stderr).not.toContain('    at ');
}

const runArgs = (file: string, name: string) => ['run', file, '--quick', '--device', 'cpu', '--runs-dir', path.join(root, 'runs', name)];

describe('a column file that would run code when loaded is refused before anything runs', () => {
  it('a pickle whose __reduce__ calls os.system', async () => {
    const marker = path.join(root, 'MARKER-system');
    const column = path.join(root, 'system-column.pt');
    await python(`import os, torch\n${CALLS}\ntorch.save({"layers.0.weight": Calls(os.system, ${py(`touch ${marker}`)})}, ${py(column)})`);

    const result = await pladder(runArgs(progressiveExperiment('system-column', column), 'system'));
    expectRefusedNaming(result, column);
    expect(result.stderr).toMatch(/pickled object of type posix\.system/);
    expect(existsSync(marker)).toBe(false);
  });

  it('a real column file with one tensor built by a pickled eval', async () => {
    const marker = path.join(root, 'MARKER-eval');
    const column = path.join(root, 'eval-column.pt');
    await python(`import builtins, sys, torch
sys.path.insert(0, ${py(PROJECT_ROOT)})
from py_kernels.models import build_model
from py_kernels.training import source_column_state
${CALLS}
marker = ${py(marker)}
column = source_column_state(build_model("mlp", widths=[784, 1000, 500, 250, 250, 250, 10], seed=1))
key = min(column, key=lambda k: column[k].numel())
expression = f"(open({marker!r}, 'w').close(), __import__('torch').tensor({column[key].tolist()!r}))[1]"
column[key] = Calls(builtins.eval, expression)
torch.save(column, ${py(column)})`);

    const result = await pladder(runArgs(progressiveExperiment('eval-column', column), 'eval'));
    expectRefusedNaming(result, column);
    expect(result.stderr).toMatch(/pickled object of type builtins\.eval/);
    expect(result.stderr).toContain('columns[0].weights.path');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('pladder run --resume with a checkpoint.pt that is not what the run wrote', () => {
  let finished: string; // a complete tiny run, copied into an unfinished state for each case

  beforeAll(async () => {
    const { dir, file, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5 });
    scratch.push(dir);
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir]);
    expect(result.exitCode, result.stderr).toBe(0);
    finished = path.join(runsDir, 'tiny-quick', 'seed-1');
  });

  /** The run as a process killed after its checkpoint would leave it, with checkpoint.pt written by `script`. */
  async function unfinishedRun(name: string, script: (checkpoint: string) => string): Promise<{ dir: string; checkpoint: string }> {
    const dir = path.join(root, 'resume', name, 'seed-1');
    cpSync(finished, dir, { recursive: true });
    for (const file of ['result.json', 'model.pt', 'column.pt']) rmSync(path.join(dir, file));
    const checkpoint = path.join(dir, 'checkpoint.pt');
    await python(script(checkpoint));
    return { dir, checkpoint };
  }

  it('a crafted checkpoint is refused and its code never runs', async () => {
    const marker = path.join(root, 'MARKER-checkpoint');
    const { dir, checkpoint } = await unfinishedRun(
      'crafted',
      (file) => `import os, torch\n${CALLS}\ntorch.save({"kind": "mlp", "epoch": 1, "model": Calls(os.system, ${py(`touch ${marker}`)})}, ${py(file)})`,
    );
    const result = await pladder(['run', '--resume', dir, '--device', 'cpu']);
    expectRefusedNaming(result, checkpoint);
    expect(result.stderr).toMatch(/pickled object of type posix\.system/);
    expect(existsSync(marker)).toBe(false);
  });

  it('a truncated checkpoint names the file and how to go on, and that advice works', async () => {
    const { dir, checkpoint } = await unfinishedRun(
      'truncated',
      (file) => `import sys, torch
sys.path.insert(0, ${py(PROJECT_ROOT)})
from py_kernels.models import build_model
from py_kernels.training import SupervisedTrainer
x, y = torch.rand(20, 784), torch.randint(0, 10, (20,))
trainer = SupervisedTrainer(build_model("mlp", widths=[784, 1000, 500, 250, 250, 250, 10], seed=1), x, y, epochs_planned=1, lr=0.002, decay_fraction=0.0, seed=1)
torch.save(trainer.state_dict(), ${py(file)})
data = open(${py(file)}, "rb").read()
open(${py(file)}, "wb").write(data[: len(data) // 2])`,
    );
    const result = await pladder(['run', '--resume', dir, '--device', 'cpu']);
    expectRefusedNaming(result, checkpoint);
    expect(result.stderr).toContain(`checkpoint ${checkpoint} is damaged`);
    expect(result.stderr).toMatch(/delete it/);

    rmSync(checkpoint);
    const again = await pladder(['run', '--resume', dir, '--device', 'cpu']);
    expect(again.exitCode, again.stderr).toBe(0);
    const run = new RunDirectory(dir);
    expect(run.isComplete()).toBe(true);
    expect(run.readMetrics().map((r) => r.epoch)).toEqual([1]);
  });
});

/** Jobs that cannot be carried out as asked are refused before anything trains (exit 2, nothing written): two runs
 * into one run directory (a seed named twice in an experiment file, one file named twice, two files with the same
 * `name`: each once trained the same folder twice at once and summarised "2 seeds" with std 0, or trained one and
 * advised --fresh for the other, which would have deleted the first); --devices naming a GPU the machine does not have
 * (the CPU's runs trained, then the job failed part way); an --epochs no double holds exactly. */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

describe('two runs into one directory', () => {
  const { dir, file, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5 });
  const sameName = path.join(dir, 'tiny-other-rate.yaml');
  writeFileSync(sameName, `name: tiny\nmodel: { architecture: mlp }\ndata: { dataset: mnist, labels: 100 }\ntraining: { epochs: 1, iterations_per_epoch: 5, learning_rate: 0.001 }\n`);
  const seedTwice = tinyExperimentFile({ name: 'twice', architecture: 'mlp', epochs: 1, iterations: 5, seeds: [1, 2, 1] }).file;

  it.each([
    ['one file twice', [file, file], /the job names experiment 'tiny' twice, so two runs would share .*tiny-quick\/seed-1; name each experiment file once/],
    ['two files named alike', [file, sameName], /the job names experiment 'tiny' twice/],
    ['a seed twice in the file', [seedTwice], /twice\.yaml:\d+:\d+ seeds: a seed is named twice; each seed is one run/],
  ])('%s', async (_, files, message) => {
    for (const extra of [[], ['--plan']]) {
      const result = await pladder(['run', ...files, '--quick', '--device', 'cpu', '--runs-dir', runsDir, ...extra]);
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
    expect(existsSync(runsDir)).toBe(false);
  }, 30_000);
});

describe('devices and lengths', () => {
  const { file, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5 });

  it('--devices with a CUDA device this machine does not have', async () => {
    const result = await pladder(['run', file, '--quick', '--seeds', '1,2', '--devices', 'cpu,cuda:99', '--parallel', '1', '--runs-dir', runsDir]);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/nothing was trained: --devices cpu,cuda:99 names cuda:99, but (this machine's kernel sees no CUDA device|the \d+ CUDA device\(s\) this machine's kernel sees are cuda:0)/);
    expect(existsSync(runsDir)).toBe(false);
  }, 60_000);

  it('--epochs beyond the whole numbers a double holds', async () => {
    const result = await pladder(['run', file, '--quick', '--epochs', '99999999999999999999', '--device', 'cpu', '--runs-dir', runsDir, '--plan']);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/--epochs 99999999999999999999: a whole number of epochs, from 1 to 9007199254740991/);
  });
});

describe('a data pool past the dataset', () => {
  it('is refused naming the experiment, the pool and the range there is (the kernel said it without the experiment)', async () => {
    const { dir, runsDir } = tinyExperimentFile();
    const file = path.join(dir, 'bigpool.yaml');
    writeFileSync(file, 'name: bigpool\nmodel: { architecture: mlp }\ndata: { dataset: mnist, labels: 100, pool: { start: 0, stop: 10000000 } }\ntraining: { epochs: 1, iterations_per_epoch: 5 }\n');
    const result = await pladder(['run', file, '--quick', '--device', 'cpu', '--runs-dir', runsDir]);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/bigpool: data\.pool \[0, 10000000\) goes past the 60000 training images of mnist; give a range within \[0, 60000\)/);
    expect(existsSync(path.join(runsDir, 'bigpool-quick'))).toBe(false);
  }, 60_000);
});


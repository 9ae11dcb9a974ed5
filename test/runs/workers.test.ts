/** Runs spread over worker processes: the same per-run numbers as one at a time, and a run whose process is killed
 * is retried once (from its last complete epoch) while the others go on. Seeds batched as one network
 * (--batch-seeds) give each seed the numbers of its own run, to float tolerance, and resume the same way; on a CPU
 * kernel of several threads the seeds train each by its own trainer in threads, bit for bit as their runs alone. */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { seedsTogetherPay } from '../../src/runs/experiment.js';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';
import { waitUntil } from '../helpers/processes.js';

const SEEDS = [1, 2];

/** Two approaches (the ladder and the supervised MLP) of a small real MNIST experiment. */
function approaches(epochs: number, iterations: number) {
  const ladder = tinyExperimentFile({ name: 'ladder-small', architecture: 'ladder', epochs, iterations, seeds: SEEDS });
  const mlp = tinyExperimentFile({ name: 'mlp-small', architecture: 'mlp', epochs, iterations, seeds: SEEDS });
  return { files: [ladder.file, mlp.file], runs: (root: string) => ['ladder-small', 'mlp-small'].flatMap((name) => SEEDS.map((seed) => path.join(root, `${name}-quick`, `seed-${seed}`))) };
}

/** Each run's records by epoch. */
const records = (dir: string) =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { test_error: number; loss_total: number; seeds_batched?: number; seed_threads?: number });
const errors = (dir: string) => records(dir).map((r) => r.test_error);

/** Kills the Python process of the first of `dirs` caught part way (an epoch written, no result yet). */
async function killOneCaughtPartWay(dirs: string[]): Promise<string> {
  let victim: string | undefined;
  await waitUntil(() => {
    victim = dirs.find((dir) => existsSync(path.join(dir, 'environment.json')) && existsSync(path.join(dir, 'metrics.jsonl')) && !existsSync(path.join(dir, 'result.json')));
    return victim !== undefined;
  }, 120_000);
  expect(victim, 'no run was caught part way').toBeDefined();
  const pid = (JSON.parse(readFileSync(path.join(victim!, 'environment.json'), 'utf8')) as { kernel: { pid: number } }).kernel.pid;
  process.kill(pid, 'SIGKILL');
  return victim!;
}

const { files, runs } = approaches(3, 25);
const base = path.dirname(files[0]!);
const common = [...files, '--quick', '--threads', '1'];

describe('runs over worker processes', () => {
  it('2 seeds x 2 approaches on 2 workers give the numbers of one run at a time; a killed worker is retried once', async () => {
    const alone = await pladder(['run', ...common, '--parallel', '1', '--runs-dir', path.join(base, 'alone')]);
    expect(alone.exitCode, alone.stderr).toBe(0);

    // On 2 workers; the Python process of the first run to finish an epoch is killed outright part way.
    const retried = pladder(['run', ...common, '--parallel', '2', '--runs-dir', path.join(base, 'retried')]);
    const dirs = runs(path.join(base, 'retried'));
    const victim = await killOneCaughtPartWay(dirs);
    const result = await retried;
    expect(result.exitCode, result.stderr).toBe(0);
    const name = path.relative(path.join(base, 'retried'), victim).replace(/-quick/, '');
    expect(result.stdout + result.stderr).toMatch(new RegExp(`${name}.*failed on .*trying it once more`));
    expect(result.stdout + result.stderr).toMatch(/the second try succeeded/);
    // Every run completed with the numbers of one run at a time, the retried one from its last complete epoch.
    for (const [i, dir] of dirs.entries()) {
      expect(existsSync(path.join(dir, 'result.json'))).toBe(true);
      expect(errors(dir)).toEqual(errors(runs(path.join(base, 'alone'))[i]!));
    }
  }, 300_000);

  it('--batch-seeds trains the seeds as one network with each seed\'s own numbers, and resumes after a kill', async () => {
    // The ladder's two seeds as one batched job on a worker process (the MLP's batched twin is held to its single
    // runs in py_kernels/tests/test_batched.py), killed part way.
    const batched = pladder(['run', files[0]!, '--quick', '--threads', '1', '--batch-seeds', '--parallel', '2', '--runs-dir', path.join(base, 'batched')]);
    const dirs = runs(path.join(base, 'batched')).slice(0, SEEDS.length);
    await killOneCaughtPartWay(dirs);
    const result = await batched;
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toMatch(/ladder-small\/seeds-1-2: seeds 1, 2 trained together, as one batched network/);
    expect(result.stdout + result.stderr).toMatch(/the second try succeeded/);
    for (const [i, dir] of dirs.entries()) {
      for (const file of ['result.json', 'model.pt', 'column.pt']) expect(existsSync(path.join(dir, file)), `${dir}/${file}`).toBe(true);
      const ours = records(dir);
      const own = records(runs(path.join(base, 'alone'))[i]!);
      expect(ours.map((r) => r.seeds_batched)).toEqual(own.map(() => SEEDS.length));
      // The batched products sum in another order: the same training up to float rounding.
      ours.forEach((r, epoch) => {
        expect(Math.abs(r.loss_total - own[epoch]!.loss_total) / own[epoch]!.loss_total, `${dir} epoch ${epoch + 1}`).toBeLessThan(1e-3);
        expect(Math.abs(r.test_error - own[epoch]!.test_error), `${dir} epoch ${epoch + 1}`).toBeLessThanOrEqual(0.005);
      });
    }
  }, 300_000);

  it('--batch-seeds on a CPU kernel of 2 threads trains each seed by its own trainer in threads, bit for bit as alone', async () => {
    const threaded = await pladder(['run', files[0]!, '--quick', '--threads', '2', '--batch-seeds', '--parallel', '1', '--runs-dir', path.join(base, 'threaded')]);
    expect(threaded.exitCode, threaded.stderr).toBe(0);
    expect(threaded.stdout + threaded.stderr).toMatch(/ladder-small\/seeds-1-2: seeds 1, 2 trained together, each by its own trainer, 2 at a time in threads/);
    const dirs = runs(path.join(base, 'threaded')).slice(0, SEEDS.length);
    for (const [i, dir] of dirs.entries()) {
      for (const file of ['result.json', 'model.pt', 'column.pt']) expect(existsSync(path.join(dir, file)), `${dir}/${file}`).toBe(true);
      const ours = records(dir);
      const own = records(runs(path.join(base, 'alone'))[i]!); // one BLAS thread, as each seed's thread has
      expect(ours.map((r) => [r.seeds_batched, r.seed_threads])).toEqual(own.map(() => [SEEDS.length, 2]));
      expect(ours.map((r) => [r.loss_total, r.test_error])).toEqual(own.map((r) => [r.loss_total, r.test_error]));
    }
  }, 300_000);

  it('with neither --batch-seeds nor --no-batch-seeds, three seeds on a CPU of fewer cores train together, bit for bit', async () => {
    const cores = os.availableParallelism();
    const expected = seedsTogetherPay({ runs: 3, jobs: 1, groups: 1, devices: ['cpu'], cores, options: {} });
    const lone = await pladder(['run', files[0]!, '--quick', '--seeds', '1,2,3', '--device', 'cpu', '--runs-dir', path.join(base, 'lone')]);
    expect(lone.exitCode, lone.stderr).toBe(0);
    const together = /3 runs on \d+ cores: the seeds of each experiment train together in one kernel/;
    if (expected) expect(lone.stdout + lone.stderr).toMatch(together);
    else expect(lone.stdout + lone.stderr).not.toMatch(together);
    // seeds 1 and 2 have the bits of their runs alone with one thread (2 cores: the kernel's 2 threads step them)
    if (cores === 2) {
      for (const [i, dir] of runs(path.join(base, 'lone')).slice(0, 2).entries()) {
        const own = records(runs(path.join(base, 'alone'))[i]!);
        expect(records(dir).map((r) => [r.loss_total, r.test_error])).toEqual(own.map((r) => [r.loss_total, r.test_error]));
      }
    }
  }, 300_000);

  it('conv Gamma-model seeds (no batched network) train together on the CPU in threads, bit for bit one run per core', async () => {
    const conv = path.join(PROJECT_ROOT, 'experiments', 'conv-gamma-mnist100.yaml');
    const args = ['run', conv, '--quick', '--seeds', '1,2', '--device', 'cpu'];
    const together = await pladder([...args, '--batch-seeds', '--runs-dir', path.join(base, 'conv-together')]);
    expect(together.exitCode, together.stderr).toBe(0);
    expect(together.stdout + together.stderr).toMatch(/conv-gamma-mnist100\/seeds-1-2: seeds 1, 2 trained together, each by its own trainer/);
    const apart = await pladder([...args, '--no-batch-seeds', '--parallel', '2', '--runs-dir', path.join(base, 'conv-apart')]);
    expect(apart.exitCode, apart.stderr).toBe(0);
    for (const seed of [1, 2]) {
      const dir = (root: string) => path.join(base, root, 'conv-gamma-mnist100-quick', `seed-${seed}`);
      const numbers = (root: string) => records(dir(root)).map((r) => [r.loss_total, r.test_error]);
      expect(numbers('conv-together')).toEqual(numbers('conv-apart'));
    }
  }, 300_000);
});

/** `pladder task` (what one Slurm array task runs) and --slurm's plan, without Slurm: its exit status is the command's, so that a failed
 * task fails its array job and the stages after it (sbatch --dependency=afterok) never start; and a task stopped by
 * SIGTERM (scancel, Slurm's time limit) records that it ended, so `pladder status` does not call it running forever;
 * a file named relative to the user's folder reaches the tasks, which run in the project's folder. */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { jobStatus, markerFile } from '../../src/slurm/status.js';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';
import { VITE_NODE, waitUntil } from '../helpers/processes.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-task-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A submission folder whose one stage 'targets' has one task running `argv`. */
function submission(name: string, argv: string[]): string {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const plan = {
    created: new Date().toISOString(),
    command: ['run', 'x.yaml'],
    runs_dir: path.join(root, name, 'runs'),
    stages: [{ name: 'targets', tasks: [{ label: 'x/seed-1', argv, run_dir: null }], job_id: null }],
  };
  writeFileSync(path.join(dir, 'plan.json'), JSON.stringify(plan));
  return dir;
}

const marker = (dir: string) => JSON.parse(readFileSync(markerFile(dir, 'targets', 0), 'utf8')) as { ended: string | null; exit_code: number | null };

describe('pladder task', () => {
  it('a task whose command fails exits with that command\'s code (Slurm must see the failure)', async () => {
    const dir = submission('fails', ['run', path.join(root, 'no-such-experiment.yaml'), '--runs-dir', path.join(root, 'fails', 'runs')]);
    const result = await pladder(['task', path.join(dir, 'plan.json'), 'targets', '0']);
    expect(marker(dir).exit_code).toBe(2);
    expect(result.exitCode, result.stderr).toBe(2);
  });

  it('a task stopped by SIGTERM records its end and exit code; status says failed, not running', async () => {
    const runs = path.join(root, 'stopped', 'runs');
    const dir = submission('stopped', ['run', 'experiments/ladder-mnist100.yaml', '--quick', '--seeds', '1', '--runs-dir', runs, '--device', 'cpu']);
    const child = pladder(['task', path.join(dir, 'plan.json'), 'targets', '0']);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    expect(await waitUntil(() => out.includes('pladder task targets[0]'), 60_000)).toBe(true);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(143);
    expect(marker(dir)).toMatchObject({ exit_code: 143 });
    expect(marker(dir).ended).not.toBeNull();
    const [task] = jobStatus(dir).tasks;
    expect(task?.state).toBe('failed');
    expect(task?.detail).toContain('SIGTERM');
  });
});

describe('run --slurm from another folder', () => {
  it('the tasks name the experiment files the user gave relative to their folder by absolute path (the batch scripts cd to the project)', async () => {
    const { dir: where, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5 });
    const bin = path.join(root, 'relative', 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'sbatch'), '#!/bin/sh\necho 101\n');
    chmodSync(path.join(bin, 'sbatch'), 0o755);
    const result = await execa(VITE_NODE, [path.resolve('src/cli/main.ts'), 'run', 'tiny.yaml', '--quick', '--runs-dir', runsDir, '--slurm'], {
      cwd: where,
      reject: false,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const slurm = path.join(runsDir, '.slurm');
    const plan = JSON.parse(readFileSync(path.join(slurm, readdirSync(slurm)[0]!, 'plan.json'), 'utf8')) as { stages: { name: string; tasks: { argv: string[] }[] }[] };
    for (const stage of plan.stages) {
      const file = stage.tasks[0]!.argv[1]!;
      expect(path.isAbsolute(file), `${stage.name}: ${file}`).toBe(true);
      expect(existsSync(file)).toBe(true);
    }
  });
});

describe('run --slurm --sbatch-args as the README writes it', () => {
  it("--sbatch-args '--account=mylab --qos=normal' (a separate value starting with a dash) reaches sbatch", async () => {
    const { file, runsDir } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5 });
    const bin = path.join(root, 'sbatch-args', 'bin');
    const calls = path.join(root, 'sbatch-args', 'calls');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'sbatch'), `#!/bin/sh\necho "$@" >> ${calls}\necho 101\n`);
    chmodSync(path.join(bin, 'sbatch'), 0o755);
    const result = await pladder(['run', file, '--quick', '--runs-dir', runsDir, '--slurm', '--sbatch-args', '--account=mylab --qos=normal'], { PATH: `${bin}:${process.env.PATH}` });
    expect(result.exitCode, result.stderr).toBe(0);
    for (const line of readFileSync(calls, 'utf8').trim().split('\n')) expect(line).toContain('--account=mylab --qos=normal');
  });
});

/** `pladder task` (what one Slurm array task runs), without Slurm: its exit status is the command's, so that a failed
 * task fails its array job and the stages after it (sbatch --dependency=afterok) never start; and a task stopped by
 * SIGTERM (scancel, Slurm's time limit) records that it ended, so `pladder status` does not call it running forever. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jobStatus, markerFile } from '../../src/slurm/status.js';
import { pladder } from '../helpers/cli.js';
import { waitUntil } from '../helpers/processes.js';

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

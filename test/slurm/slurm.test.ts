/** `--slurm` against a real Slurm on this machine (Debian's slurm-wlm: a controller and one node on localhost, started
 * here by scripts/slurm-local.sh): a source and two targets complete as job arrays, the source's stage before the
 * targets', with the numbers of the same runs trained locally. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobStatus, latestSubmission, markerFile } from '../../src/slurm/status.js';
import { pladder } from '../helpers/cli.js';
import { waitUntil } from '../helpers/processes.js';

const hasSlurm = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v slurmctld && command -v sbatch'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();
if (!hasSlurm) console.warn('test/slurm: skipped: needs root and Debian\'s slurm-wlm (apt-get install slurm-wlm; .ci/run installs it)');

const TARGETS = ['experiments/transfer-mnistm-ladder-sup.yaml', 'experiments/transfer-mnistm-pretrained.yaml'];
/** Each run of seed 1's job, by its folder: target seed 1 is built on source seed 1001. */
const RUNS = ['source-ladder-mnist100-quick/seed-1001', 'transfer-mnistm-ladder-sup-quick/seed-1', 'transfer-mnistm-pretrained-quick/seed-1'];

const errors = (runsDir: string, run: string) =>
  readFileSync(path.join(runsDir, run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { test_error: number }).test_error);

describe.skipIf(!hasSlurm)('--slurm on a real Slurm', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'pladder-slurm-'));
  const slurmDir = path.join(base, 'slurm');
  let env: NodeJS.ProcessEnv = {};

  beforeAll(() => {
    const conf = execFileSync('bash', ['scripts/slurm-local.sh', 'start', slurmDir], { encoding: 'utf8' }).trim();
    env = { SLURM_CONF: conf };
  }, 60_000);
  afterAll(() => {
    execFileSync('bash', ['scripts/slurm-local.sh', 'stop', slurmDir]);
  });

  it('a source and two targets: stages in order, every run complete, the numbers of a local run', async () => {
    const runsDir = path.join(base, 'runs');
    const options = ['--quick', '--seeds', '1'];
    const submitted = await pladder(['run', ...TARGETS, ...options, '--runs-dir', runsDir, '--slurm', '--cpus-per-task', '1'], { ...env, PLADDER_SOURCES: path.join(base, 'sources') });
    expect(submitted.exitCode, submitted.stderr).toBe(0);
    expect(submitted.stdout).toMatch(/stage sources: Slurm job \d+, 1 task\(s\): source-ladder-mnist100\/seed-1001/);
    expect(submitted.stdout).toMatch(/stage targets: Slurm job \d+, 2 task\(s\)/);

    const dir = latestSubmission(runsDir);
    process.env.SLURM_CONF = env.SLURM_CONF; // for squeue, which jobStatus asks
    const settled = () => jobStatus(dir).tasks.every((t) => t.state !== 'pending' && t.state !== 'running');
    expect(await waitUntil(settled, 400_000)).toBe(true);
    const { tasks } = jobStatus(dir);
    expect(tasks.map((t) => `${t.stage} ${t.state}`)).toEqual(['sources complete', 'targets complete', 'targets complete', 'finish complete']);
    // The dependency held: the source's task ended before either target's began.
    const marker = (stage: string, i: number) => JSON.parse(readFileSync(markerFile(dir, stage, i), 'utf8')) as { started: string; ended: string };
    for (const i of [0, 1]) expect(Date.parse(marker('targets', i).started)).toBeGreaterThanOrEqual(Date.parse(marker('sources', 0).ended));

    // Submitting again finds every run complete and only draws.
    const again = await pladder(['run', ...TARGETS, ...options, '--runs-dir', runsDir, '--slurm'], { ...env, PLADDER_SOURCES: path.join(base, 'sources') });
    expect(again.stdout).not.toMatch(/stage (sources|targets)/);
    expect(again.stdout).toMatch(/every run was already complete/);

    // The same runs here, one at a time with the tasks' one thread, with a source cache of their own.
    const localDir = path.join(base, 'local');
    const local = await pladder(['run', ...TARGETS, ...options, '--runs-dir', localDir, '--threads', '1', '--parallel', '1'], { PLADDER_SOURCES: path.join(base, 'local-sources') });
    expect(local.exitCode, local.stderr).toBe(0);
    for (const run of RUNS) {
      const [slurm, here] = [errors(runsDir, run), errors(localDir, run)];
      expect(slurm.length).toBe(here.length);
      slurm.forEach((value, i) => expect(value).toBeCloseTo(here[i]!, 6));
    }
  }, 600_000);

  it('refuses to submit runs a submission still has queued or running, and calls a task killed by SIGKILL failed', async () => {
    const runsDir = path.join(base, 'runs-twice');
    const submit = () => pladder(['run', 'experiments/ladder-mnist100.yaml', '--epochs', '3', '--seeds', '5', '--runs-dir', runsDir, '--slurm', '--cpus-per-task', '1', '--continue'], env);
    const first = await submit();
    expect(first.exitCode, first.stderr).toBe(0);
    const dir = latestSubmission(runsDir);
    process.env.SLURM_CONF = env.SLURM_CONF;
    expect(await waitUntil(() => jobStatus(dir).tasks[0]!.state === 'running', 60_000)).toBe(true);

    // A second submission of the same run met the first one's lock, failed, and status then showed only that failure.
    const second = await submit();
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toMatch(/ladder-mnist100\/seed-5 is still queued or running in the submission .*nothing was submitted/);
    expect(latestSubmission(runsDir)).toBe(dir);

    // Killed where no handler runs (the out-of-memory killer's SIGKILL): its end never recorded, it showed as running forever.
    execFileSync('pkill', ['-KILL', '-f', `task ${path.join(dir, 'plan.json')} targets 0`]);
    expect(await waitUntil(() => jobStatus(dir).tasks[0]!.state === 'failed', 60_000)).toBe(true);
    expect(jobStatus(dir).tasks[0]!.detail).toMatch(/killed on .* without recording its end \(out of memory, a node failure, or SIGKILL\)/);
    const third = await submit(); // nothing of it is left running: it may be submitted again
    expect(third.exitCode, third.stderr).toBe(0);
    execFileSync('scancel', jobStatus(latestSubmission(runsDir)).plan.stages.map((s) => s.job_id!), { env: { ...process.env, ...env } });
  }, 240_000);
});

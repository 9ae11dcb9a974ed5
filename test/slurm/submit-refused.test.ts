/** `--slurm` refused by sbatch: exit 2 with sbatch's reason, and nothing left behind (no .slurm/<time>/ folder that
 * `pladder status` would report as submitted); stages already queued are cancelled. sbatch and scancel are stand-ins
 * on PATH here (test/slurm/slurm.test.ts runs a real Slurm). */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-sbatch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A bin folder whose sbatch accepts the first `accepted` submissions (job ids 101, 102, ...) and then refuses as a
 * real sbatch does for an unknown partition; scancel writes its arguments to `cancelled`. */
function fakeSlurm(name: string, accepted: number): { PATH: string; cancelled: string } {
  const bin = path.join(root, name, 'bin');
  const count = path.join(root, name, 'count');
  const cancelled = path.join(root, name, 'cancelled');
  mkdirSync(bin, { recursive: true });
  writeFileSync(count, '0');
  const sbatch = path.join(bin, 'sbatch');
  writeFileSync(sbatch, `#!/bin/sh\nn=$(cat ${count}); n=$((n+1)); echo $n > ${count}\nif [ $n -le ${accepted} ]; then echo $((100+n)); exit 0; fi\necho 'sbatch: error: invalid partition specified: nosuch' >&2\necho 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2\nexit 1\n`);
  writeFileSync(path.join(bin, 'scancel'), `#!/bin/sh\necho "$@" > ${cancelled}\n`);
  chmodSync(sbatch, 0o755);
  chmodSync(path.join(bin, 'scancel'), 0o755);
  return { PATH: `${bin}:${process.env.PATH}`, cancelled };
}


describe('run --slurm refused by sbatch', () => {
  it('the first stage refused: exit 2 with the reason; no submission folder, status finds none', async () => {
    const { file } = tinyExperimentFile({ architecture: 'mlp', epochs: 1, iterations: 5 });
    const runsDir = path.join(root, 'first', 'runs');
    const { PATH } = fakeSlurm('first', 0);
    const result = await pladder(['run', file, '--quick', '--runs-dir', runsDir, '--slurm', '--partition', 'nosuch'], { PATH });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('sbatch refused the job');
    expect(result.stderr).toContain('invalid partition');
    expect(existsSync(path.join(runsDir, '.slurm'))).toBe(false);
    const status = await pladder(['status', runsDir], { PATH });
    expect(status.stdout).not.toMatch(/submitted/);
  });

  it('a later stage refused: the stages queued before it are cancelled, and nothing is left behind', async () => {
    // A progressive target needs its source trained first: two stages (sources, then targets, then finish).
    const runsDir = path.join(root, 'later', 'runs');
    const { PATH, cancelled } = fakeSlurm('later', 1);
    const result = await pladder(['run', 'experiments/transfer-mnistm-ladder-sup.yaml', '--quick', '--seeds', '1', '--runs-dir', runsDir, '--slurm'], {
      PATH,
      PLADDER_SOURCES: path.join(root, 'later', 'sources'),
    });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('sbatch refused the job');
    expect(result.stderr).toContain('cancelled (Slurm job 101)');
    expect(readFileSync(cancelled, 'utf8').trim()).toBe('101');
    expect(existsSync(path.join(runsDir, '.slurm'))).toBe(false);
  });
});

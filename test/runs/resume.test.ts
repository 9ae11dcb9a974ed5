import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { RunDirectory } from '../../src/runs/run-dir.js';
import { pladder } from '../helpers/cli.js';
import { python } from '../helpers/data.js';
import { tinyExperimentFile } from '../helpers/experiments.js';
import { waitUntil } from '../helpers/processes.js';

/** sha256 over every tensor of model.pt's state, in name order (independent of the kernel that wrote it). */
function weightsHash(runDir: string): Promise<string> {
  return python(
    `import hashlib, sys; sys.path.insert(0, "${PROJECT_ROOT}"); from py_kernels import safe_load
s = safe_load.load("${path.join(runDir, 'model.pt')}", what="model file", hint="")["state"]; h = hashlib.sha256()
for k in sorted(s): h.update(k.encode()); h.update(s[k].contiguous().numpy().tobytes())
print(h.hexdigest())`,
  );
}

describe('a run killed at any moment resumes from its last complete epoch', () => {
  it('ends with the same weights as a run never stopped (CPU, fixed seed)', async () => {
    const { file, runsDir } = tinyExperimentFile({ epochs: 4, iterations: 25 });
    const args = (runs: string) => ['run', file, '--quick', '--device', 'cpu', '--runs-dir', runs];

    const straight = await pladder(args(path.join(runsDir, 'straight')));
    expect(straight.exitCode, straight.stderr).toBe(0);
    const straightDir = path.join(runsDir, 'straight', 'tiny-quick', 'seed-1');

    // Killed outright (SIGKILL: no handler runs) once at least one epoch is complete.
    const killedDir = path.join(runsDir, 'killed', 'tiny-quick', 'seed-1');
    const child = pladder(args(path.join(runsDir, 'killed')));
    const metrics = path.join(killedDir, 'metrics.jsonl');
    const oneEpochDone = await waitUntil(() => existsSync(metrics) && readFileSync(metrics, 'utf8').trim().length > 0, 90_000);
    expect(oneEpochDone).toBe(true);
    child.kill('SIGKILL');
    await child;
    const run = new RunDirectory(killedDir);
    expect(run.isComplete()).toBe(false);
    const epochsBefore = run.readMetrics().length;
    expect(epochsBefore).toBeGreaterThanOrEqual(1);
    expect(epochsBefore).toBeLessThan(4);

    // A plain re-run refuses to overwrite it and says how to continue.
    const refused = await pladder(args(path.join(runsDir, 'killed')));
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`pladder run --resume ${killedDir}`);

    const resumed = await pladder(['run', '--resume', killedDir, '--device', 'cpu']);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(run.isComplete()).toBe(true);
    expect(run.readMetrics().map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
    expect(await weightsHash(killedDir)).toBe(await weightsHash(straightDir));
    expect(run.readResult().final_test_error).toBe(new RunDirectory(straightDir).readResult().final_test_error);

    // The run's record says where it was resumed, and `pladder record` reports it.
    const environment = JSON.parse(readFileSync(run.file('environment.json'), 'utf8'));
    expect(environment.resumes).toHaveLength(1);
    expect(environment.resumes[0].after_epoch).toBeGreaterThanOrEqual(epochsBefore);
    expect(environment.resumes[0].argv).toContain('--resume');
    const doc = path.join(runsDir, 'doc', 'results.md');
    const recorded = await pladder(['record', path.dirname(killedDir), '--doc', doc]);
    expect(recorded.exitCode, recorded.stderr).toBe(0);
    const section = readFileSync(doc, 'utf8');
    expect(section).toContain(`resumed: seed 1 after epoch ${environment.resumes[0].after_epoch}`);
    expect(section).toContain(`bin/pladder run --resume ${killedDir} --device cpu`);
  }, 300_000); // three CLI runs and a kill: about 40 s on a quiet 2-core machine, far more when it is busy
});

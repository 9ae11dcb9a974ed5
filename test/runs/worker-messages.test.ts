/** What the worker pool says of a crashed run: the kernel's sentence set inside its own, punctuated once. */
import { describe, expect, it } from 'vitest';
import { Kernel, KernelError } from '../../src/bridge/index.js';
import { RunsFailedError, runOnWorkers } from '../../src/runs/workers.js';

describe('a run whose kernel was killed', () => {
  it('says "exited with signal SIGKILL; trying it once more", not "SIGKILL.;"', async () => {
    const lines: string[] = [];
    const killed = () => new KernelError('KERNEL_EXITED', "The Python kernel (pid 1, device 'cpu') exited with signal SIGKILL.", { hint: 'A SIGKILL is often the out-of-memory killer.' });
    const job = { label: 'tiny/seed-1', run: async (): Promise<number> => { throw killed(); } };
    const failed = await runOnWorkers([{ device: 'cpu', threads: 1 }], [job], (line) => lines.push(line), new Kernel({ device: 'cpu' })).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(RunsFailedError);
    expect(lines[0]).toBe("tiny/seed-1 failed on cpu: The Python kernel (pid 1, device 'cpu') exited with signal SIGKILL; trying it once more on a fresh Python process");
    expect(lines.join('\n')).not.toMatch(/[.;:,][.;:,]/);
    expect((failed as Error).message).not.toMatch(/[.;:,][.;:,]/);
  });
});

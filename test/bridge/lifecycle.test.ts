import { describe, expect, it } from 'vitest';
import { holdKernel, isAlive, waitUntil } from '../helpers/processes.js';

describe('no Python process outlives Node', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('when Node receives %s', async (signal) => {
    const { child, pythonPid } = await holdKernel('wait');
    expect(isAlive(pythonPid)).toBe(true);
    child.kill(signal);
    await child;
    expect(await waitUntil(() => !isAlive(pythonPid))).toBe(true);
  });

  it('when Node is killed outright (SIGKILL): the kernel notices its parent is gone', async () => {
    const { child, pythonPid } = await holdKernel('wait');
    child.kill('SIGKILL');
    await child;
    expect(await waitUntil(() => !isAlive(pythonPid))).toBe(true);
  });

  it('when the script ends without stopping its kernel, Node exits and takes Python with it', async () => {
    const { child, pythonPid } = await holdKernel('return');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(await waitUntil(() => !isAlive(pythonPid))).toBe(true);
  });

  it('when the script throws', async () => {
    const { child, pythonPid } = await holdKernel('throw');
    const result = await child;
    expect(result.exitCode).not.toBe(0);
    expect(await waitUntil(() => !isAlive(pythonPid))).toBe(true);
  });
});

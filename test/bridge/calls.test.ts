import { afterAll, describe, expect, it } from 'vitest';
import { Kernel, KernelError, pullTensor, pushTensor, toNumber, type ProgressEvent } from '../../src/bridge/index.js';

const kernel = new Kernel({ device: 'cpu' });
afterAll(() => kernel.stop({ final: true }));

async function failure(promise: Promise<unknown>): Promise<KernelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KernelError);
  return error as KernelError;
}

describe('typed calls through the real bridge', () => {
  it('starts on the CPU with a real torch and reports it', async () => {
    const info = await kernel.info();
    expect(info.device).toBe('cpu');
    expect(info.torch).toMatch(/^\d+\.\d+/);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.matmul_gflops).toBeGreaterThan(0);
  });

  it('round-trips a random tensor bit for bit, both directions', async () => {
    await kernel.call('tensor_random', { name: 'source', shape: [257, 33], dtype: 'float32', seed: 7 });
    const pulled = await pullTensor(kernel, 'source');
    expect(pulled.shape).toEqual([257, 33]);
    expect(pulled.data).toBeInstanceOf(Float32Array);
    // Edge values that a lossy path would change: subnormals, signed zero, extremes, NaN payload.
    const data = pulled.data as Float32Array;
    data.set([1.4e-45, -0, 3.4028235e38, -3.4028235e38, Number.NaN], 0);
    await pushTensor(kernel, 'echo', pulled);
    const back = await pullTensor(kernel, 'echo');
    expect(Buffer.from((back.data as Float32Array).buffer).equals(Buffer.from(data.buffer))).toBe(true);
    // Python hashed exactly the bytes we sent.
    const { createHash } = await import('node:crypto');
    expect(await kernel.call('tensor_sha256', { name: 'echo' })).toBe(createHash('sha256').update(Buffer.from(data.buffer)).digest('hex'));
  });

  it('pulls integer tensors with their dtype', async () => {
    await kernel.call('tensor_random', { name: 'bytes', shape: [4, 5], dtype: 'uint8', seed: 1 });
    await kernel.call('tensor_random', { name: 'longs', shape: [3], dtype: 'int64', seed: 1 });
    expect((await pullTensor(kernel, 'bytes')).data).toBeInstanceOf(Uint8Array);
    expect((await pullTensor(kernel, 'longs')).data).toBeInstanceOf(BigInt64Array);
  });

  it('receives NaN and infinities as marked values without crashing Node', async () => {
    const value = await kernel.call('diagnostic_nonfinite', {});
    expect(value.nan).toEqual({ $nonfinite: 'NaN' });
    expect(value.inf).toEqual({ $nonfinite: 'Infinity' });
    expect(value.minus_inf).toEqual({ $nonfinite: '-Infinity' });
    expect(value.finite).toBe(1.5);
    expect(Number.isNaN(toNumber(value.numpy))).toBe(true);
    expect(toNumber(value.nested[0].loss)).toBeNaN();
    expect(value.nested[1].map(toNumber)).toEqual([Infinity, 2]);
    // and the bridge still works afterwards
    expect((await kernel.call('ping', {})).pid).toBe((await kernel.info()).pid);
  });

  it('turns a Python exception into a KernelError with type and traceback', async () => {
    const error = await failure(kernel.call('diagnostic_raise', { message: 'the cause, in words' }));
    expect(error.code).toBe('PYTHON_EXCEPTION');
    expect(error.call).toBe('diagnostic_raise');
    expect(error.python?.type).toBe('RuntimeError');
    expect(error.python?.message).toBe('the cause, in words');
    expect(error.python?.traceback).toMatch(/Traceback \(most recent call last\):[\s\S]*api\.py[\s\S]*RuntimeError: the cause, in words/);
    expect(error.message).toContain('Traceback');
  });

  it('names a bad argument coming back from Python', async () => {
    const error = await failure(kernel.call('tensor_export', { name: 'no-such-tensor' }));
    expect(error.python?.type).toBe('KernelInputError');
    expect(error.shortMessage).toContain("no tensor named 'no-such-tensor'");
  });

  it('refuses arguments that do not match the declared schema before calling Python', async () => {
    const error = await failure(kernel.call('tensor_random', { name: 'x', shape: [-1], dtype: 'float32', seed: 0 }));
    expect(error.shortMessage).toMatch(/Arguments of kernel call 'tensor_random' are invalid/);
  });

  it('delivers progress events during a long call, at a bounded rate', async () => {
    const events: ProgressEvent[] = [];
    const started = Date.now();
    await kernel.call('diagnostic_sleep', { seconds: 1.2 }, { onProgress: (event) => events.push(event) });
    const seconds = (Date.now() - started) / 1000;
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.length).toBeLessThanOrEqual(Math.ceil(seconds / 0.2) + 2); // 120 steps, at most ~5 events a second
    expect(events.at(-1)).toMatchObject({ stage: 'sleep', done: 120, total: 120 });
  });

  it.each(['kill', 'exit'] as const)('survives the kernel dying in a call (%s): a clear error, then a fresh kernel', async (how) => {
    const before = (await kernel.call('ping', {})).pid;
    const error = await failure(kernel.call('diagnostic_crash', { how }));
    expect(error.code).toBe('KERNEL_EXITED');
    expect(error.shortMessage).toMatch(how === 'kill' ? /exited with signal SIGKILL/ : /exited with code 3/);
    const after = (await kernel.call('ping', {})).pid;
    expect(after).not.toBe(before);
  });

  it('fails a call past its timeout with a clear error, and the next call gets a fresh kernel', async () => {
    const before = (await kernel.call('ping', {})).pid;
    const error = await failure(kernel.call('diagnostic_sleep', { seconds: 30 }, { timeoutMs: 300 }));
    expect(error.code).toBe('CALL_TIMEOUT');
    expect(error.message).toMatch(/'diagnostic_sleep' on device 'cpu' ran 0\.3 s, past its timeout/);
    const after = (await kernel.call('ping', {})).pid;
    expect(after).not.toBe(before);
  });

  it('counts the timeout from the last progress report: a long call that reports progress is alive', async () => {
    const events: number[] = [];
    // 2 s of work reporting every 0.2 s, under a 1 s timeout: finishes; the same call without progress would not.
    const reply = await kernel.call('diagnostic_sleep', { seconds: 2 }, { timeoutMs: 1000, onProgress: (event) => events.push(event.done) });
    expect(reply.slept).toBe(2);
    expect(events.length).toBeGreaterThan(5);
    const silent = await failure(kernel.call('diagnostic_sleep', { seconds: 2 }, { timeoutMs: 1000 }));
    expect(silent.code).toBe('CALL_TIMEOUT');
  });
});

// Issue 10, item 9: every bridge call used to leave about 400 bytes on the Node heap for ever (a Promise.race with the
// kernel's `exited` promise, pending for the kernel's life, kept a reaction per call and, through it, the reply). A
// library user calling per batch, or a long sweep, makes millions of calls: after forced garbage collection the heap
// must not grow with the number of calls.
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelFor, stopAllKernels } from '../../src/bridge/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

afterAll(() => stopAllKernels());

function heapAfterGc(): number {
  // Twice: objects freed by the first pass's finalizers (pythonia's FinalizationRegistry) go in the second.
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function ping(times: number): Promise<void> {
  const kernel = kernelFor('cpu');
  for (let i = 0; i < times; i++) await kernel.call('ping', {});
}

describe('the Node heap over many bridge calls', () => {
  it('stays flat: 25000 pings leave under 2 MB after garbage collection (they left about 10 MB)', async () => {
    await ping(5000); // start the kernel and warm up: compiled code, pythonia's maps, zod's caches
    const before = heapAfterGc();
    const calls = 25_000;
    await ping(calls);
    const growth = heapAfterGc() - before;
    expect(growth, `heap grew ${(growth / 1e6).toFixed(2)} MB, ${(growth / calls).toFixed(0)} bytes per call`).toBeLessThan(2e6);
  });
});

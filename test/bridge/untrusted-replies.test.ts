/** What the kernel replies is checked before Node acts on it: a tensor file outside the kernel's exchange folder is
 * neither read nor removed, a byte count that is not its shape's is refused, and a reply that is not api.dispatch's
 * envelope is a BAD_REPLY, not a SyntaxError or ZodError. (The kernel here is a stand-in that misbehaves as ours
 * never does; test/bridge/calls.test.ts pulls tensors through the real one.) */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelError } from '../../src/bridge/errors.js';
import { parseEnvelope, type Kernel } from '../../src/bridge/kernel.js';
import { pullTensor } from '../../src/bridge/tensor.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-replies-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const exchange = path.join(root, 'exchange');

/** A kernel whose tensor_export reply is `meta`. */
const replying = (meta: object) => ({ call: async () => meta, exchangeDir: Promise.resolve(exchange) }) as unknown as Kernel;

describe('replies the kernel could send', () => {
  it('a tensor written outside the exchange folder: refused, the file left alone', async () => {
    const elsewhere = path.join(root, 'precious.bin');
    writeFileSync(elsewhere, new Uint8Array(8));
    for (const where of [elsewhere, path.join(exchange, '..', 'precious.bin'), exchange]) {
      const pulled = pullTensor(replying({ dtype: 'float32', shape: [2], path: where, bytes: 8 }), 'x');
      await expect(pulled).rejects.toThrow(KernelError);
      await expect(pulled).rejects.toThrow(/outside the kernel's exchange folder .* neither read nor removed/);
      expect(existsSync(elsewhere)).toBe(true);
    }
  });

  it('a byte count that is not its shape\'s: refused before anything is allocated', async () => {
    const file = path.join(exchange, 'out-x.bin');
    mkdirSync(exchange, { recursive: true });
    writeFileSync(file, new Uint8Array(8));
    await expect(pullTensor(replying({ dtype: 'float32', shape: [2], path: file, bytes: 2 ** 40 }), 'x')).rejects.toThrow(/as 1099511627776 bytes, but float32 of shape \[2\] is 8/);
    writeFileSync(file, new Float32Array([1.5, -2]));
    const tensor = await pullTensor(replying({ dtype: 'float32', shape: [2], path: file, bytes: 8 }), 'x');
    expect(Array.from(tensor.data as Float32Array)).toEqual([1.5, -2]);
    expect(existsSync(file)).toBe(false); // pulled, then removed
  });

  it('a reply that is not the envelope', () => {
    for (const reply of ['not json', '{"ok": true}', '[]', '{"ok": "yes", "value": 1}']) expect(parseEnvelope(reply)).toBeUndefined();
    expect(parseEnvelope('{"ok": true, "value": 3}')).toEqual({ ok: true, value: 3 });
  });
});

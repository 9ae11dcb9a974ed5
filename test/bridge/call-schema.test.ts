/** One declaration of every call, for both languages: the committed JSON Schema that Python checks arguments against is
 * what the zod declarations export now, and Python registers exactly the calls TypeScript declares. */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { calls, Kernel } from '../../src/bridge/index.js';
import { CALL_SCHEMA_FILE, callArgsJsonSchema } from '../../src/bridge/call-schema.js';

describe('the calls across the bridge', () => {
  it('py_kernels/call_args.schema.json is what src/bridge/calls.ts exports (run `npm run build` after changing a call)', () => {
    expect(readFileSync(CALL_SCHEMA_FILE, 'utf8')).toBe(callArgsJsonSchema());
  });

  const kernel = new Kernel({ device: 'cpu' });
  afterAll(() => kernel.stop({ final: true }));

  it('are the same in TypeScript and in py_kernels/api.py', async () => {
    expect(await kernel.call('api_calls', {})).toEqual(Object.keys(calls).sort());
  });
});

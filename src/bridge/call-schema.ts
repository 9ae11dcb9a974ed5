/** The JSON Schema of every call's arguments, exported from the zod declarations (calls.ts) for Python, which checks
 * each call against it before running it (py_kernels/call_args.py). The file is committed, rewritten by the build
 * (`npm run build`), and a test fails when it differs from what the declarations export now. */
import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths.js';
import { writeFileAtomic } from '../util/atomic.js';
import { calls } from './calls.js';

export const CALL_SCHEMA_FILE = path.join(PROJECT_ROOT, 'py_kernels', 'call_args.schema.json');

/** { calls: { name: JSON Schema of its arguments as sent (zod's output: defaults applied) } }, as text. */
export function callArgsJsonSchema(): string {
  const schemas = Object.fromEntries(
    Object.entries(calls)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, declared]) => [name, z.toJSONSchema(declared.args, { io: 'output', target: 'draft-2020-12' })]),
  );
  const document = {
    $comment: 'Generated from src/bridge/calls.ts by `npm run build` (src/bridge/call-schema.ts); do not edit.',
    calls: schemas,
  };
  return `${JSON.stringify(document, null, 1)}\n`;
}

export function writeCallArgsJsonSchema(file = CALL_SCHEMA_FILE): void {
  writeFileAtomic(file, callArgsJsonSchema());
}

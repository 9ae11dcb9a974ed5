// Part of `npm run build`: writes py_kernels/call_args.schema.json from the compiled call declarations.
import { writeCallArgsJsonSchema, CALL_SCHEMA_FILE } from '../dist/src/bridge/call-schema.js';

writeCallArgsJsonSchema();
console.error(`[build] ${CALL_SCHEMA_FILE}`);

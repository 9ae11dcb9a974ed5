/** pythonia, narrowed to the little we use and typed, with one fresh instance (one Python process) per kernel.
 *
 * pythonia keeps a single child process in module state and spawns it when first required. Loading it anew (after
 * dropping it from the require cache) gives an independent instance, so each device can have its own process. */
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The module `py_kernels/api.py` as pythonia exposes it; every method returns a thenable proxy. */
export interface ApiModule {
  dispatch(name: string, argsJson: string, progress?: (event: string) => void): Promise<unknown>;
  bench_tolist(name: string): Promise<{ valueOf(): Promise<unknown> }>;
}

export interface PythoniaInstance {
  importFile(absolutePath: string): Promise<ApiModule>;
  /** The Python child process (null once ended). */
  process(): ChildProcess | null;
  /** Stops pythonia's timers and the Python process. */
  end(): void;
  /** Lets Node exit while no call is in flight (pythonia otherwise holds the event loop open for ever). */
  setKeepsNodeAlive(alive: boolean): void;
}

interface PythoniaModule {
  python: ((file: string) => Promise<ApiModule>) & { exit(): void };
  com: { proc: ChildProcess | null };
}

interface PythoniaBridge {
  loop: NodeJS.Timeout;
}

const require = createRequire(import.meta.url);
const pythoniaDir = `${path.sep}node_modules${path.sep}pythonia${path.sep}`;

export function loadPythonia(pythonExecutable: string): PythoniaInstance {
  for (const key of Object.keys(require.cache)) {
    if (key.includes(pythoniaDir)) delete require.cache[key];
  }
  const saved = { PYTHON_BIN: process.env.PYTHON_BIN, REQ_TIMEOUT: process.env.REQ_TIMEOUT };
  // Both are read while the module loads; our own per-call timeout replaces pythonia's (0 = none).
  process.env.PYTHON_BIN = pythonExecutable;
  process.env.REQ_TIMEOUT = '0';
  let mod: PythoniaModule;
  let bridge: PythoniaBridge;
  try {
    mod = require('pythonia') as PythoniaModule;
    bridge = (globalThis as unknown as { __pythonBridge: PythoniaBridge }).__pythonBridge;
  } finally {
    restore('PYTHON_BIN', saved.PYTHON_BIN);
    restore('REQ_TIMEOUT', saved.REQ_TIMEOUT);
  }
  const child = mod.com.proc;
  return {
    importFile: (absolutePath) => mod.python(absolutePath),
    process: () => mod.com.proc,
    end: () => {
      if (mod.com.proc) mod.python.exit();
      else clearInterval(bridge.loop);
    },
    setKeepsNodeAlive: (alive) => {
      const method = alive ? 'ref' : 'unref';
      bridge.loop[method]();
      child?.[method]();
      child?.channel?.[method]();
    },
  };
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

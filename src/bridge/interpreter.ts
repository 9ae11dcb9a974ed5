/** Finding the Python that runs the kernels: one that imports torch, torchvision, numpy, scipy and jsonschema. */
import { execa } from 'execa';
import { z } from 'zod';
import { KernelError } from './errors.js';

export const REQUIRED_MODULES = ['torch', 'torchvision', 'numpy', 'scipy', 'jsonschema'] as const;

/** What to type when no interpreter works; shared by the bridge, `pladder doctor` and the setup script's messages. */
export const INSTALL_HINT = [
  'Install PyTorch for the kernels, then retry:',
  '  - on Debian/Ubuntu (as root): make setup   (installs python3-torch python3-torchvision python3-numpy',
  '    python3-scipy python3-pil python3-jsonschema libopenblas0-pthread for /usr/bin/python3)',
  '  - elsewhere: python3 -m pip install -r requirements.txt',
  '  - or point PLADDER_PYTHON at an interpreter that has them.',
].join('\n');

const probeSchema = z.object({
  executable: z.string(),
  version: z.string(),
  modules: z.record(z.string(), z.string().nullable()),
});
export type PythonProbe = z.infer<typeof probeSchema> & { command: string; missing: string[] };

const PROBE_SCRIPT = `
import importlib, json, sys, platform
mods = {}
for name in ${JSON.stringify(REQUIRED_MODULES)}:
    try:
        mods[name] = getattr(importlib.import_module(name), "__version__", "unknown")
    except Exception:
        mods[name] = None
print(json.dumps({"executable": sys.executable, "version": platform.python_version(), "modules": mods}))
`;

/** Importing torch takes seconds, and minutes on a machine busy with trainings: a slow answer is not a missing Python. */
const PROBE_TIMEOUT_MS = 180_000;

/** Runs `command` and reports which of the required modules it imports, or why it gave no answer. */
export async function probePython(command: string): Promise<PythonProbe | { command: string; failure: string }> {
  try {
    const { stdout } = await execa(command, ['-c', PROBE_SCRIPT], { timeout: PROBE_TIMEOUT_MS });
    const probe = probeSchema.parse(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
    const missing = REQUIRED_MODULES.filter((name) => probe.modules[name] == null);
    return { ...probe, command, missing };
  } catch (error) {
    const timedOut = (error as { timedOut?: boolean }).timedOut === true;
    return { command, failure: timedOut ? `did not answer within ${PROBE_TIMEOUT_MS / 1000} s (a machine too busy to import torch?)` : 'could not be run' };
  }
}

/** Where we look, in order: an explicit PLADDER_PYTHON (alone: it wins or fails), Debian's interpreter, then PATH. */
export function candidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.PLADDER_PYTHON) return [env.PLADDER_PYTHON];
  return ['/usr/bin/python3', 'python3', 'python'];
}

const found = new Map<string, Promise<PythonProbe>>();

/** The first candidate with every required module; a KernelError('NO_PYTHON') saying what to install otherwise. */
export function findPython(env: NodeJS.ProcessEnv = process.env): Promise<PythonProbe> {
  const list = candidates(env);
  const key = list.join('\0');
  let pending = found.get(key);
  if (!pending) {
    pending = search(list);
    found.set(key, pending);
    pending.catch(() => found.delete(key));
  }
  return pending;
}

async function search(list: string[]): Promise<PythonProbe> {
  const seen: string[] = [];
  for (const command of list) {
    const probe = await probePython(command);
    if ('failure' in probe) seen.push(`${command} ${probe.failure}`);
    else if (probe.missing.length === 0) return probe;
    else seen.push(`${command} (Python ${probe.version}) lacks ${probe.missing.join(', ')}`);
  }
  throw new KernelError('NO_PYTHON', `No Python with ${REQUIRED_MODULES.join(', ')} was found.`, {
    hint: `Tried: ${seen.join('; ')}.\n${INSTALL_HINT}`,
  });
}

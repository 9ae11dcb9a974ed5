/** The project's environment variables, checked before any command runs: a bad one is the user's to fix (exit 2,
 * naming it and what to give), not a stack trace from deep inside, a hang, or files written where nobody looks. */
import { callTimeoutProblem } from '../bridge/index.js';
import { writableDirProblem } from '../util/writable-dir.js';
import { UsageError } from './exit.js';

/** Folders the commands write into (README, "Environment variables"). */
const WRITTEN_FOLDERS = ['PLADDER_EXCHANGE_DIR', 'PLADDER_SOURCES', 'PLADDER_CACHE'] as const;

export function checkEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const problems: string[] = [];
  if (env.PLADDER_CALL_TIMEOUT_MS !== undefined) problems.push(callTimeoutProblem(env.PLADDER_CALL_TIMEOUT_MS) ?? '');
  for (const name of WRITTEN_FOLDERS) {
    const value = env[name];
    if (value === undefined) continue;
    problems.push(value.trim() ? (writableDirProblem(name, value) ?? '') : `${name} is set but empty: give it a directory, or unset it`);
  }
  const found = problems.filter(Boolean);
  if (found.length) throw new UsageError(found.join('\n'));
}

import { writableDirProblem } from '../util/writable-dir.js';
import { UsageError } from './exit.js';

/** Arguments as people type them: a negative number given to an option (`--epochs -3`) is that option's value, to be
 * judged by the option's own check, not Node's parseArgs "ambiguous option" error. */
export function joinNegativeValues(args: string[], options: Record<string, { type: 'string' | 'boolean' }>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const option = arg.startsWith('--') && !arg.includes('=') ? options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** Refuses, before any work, a folder given as `label` that the command could not write into (exit 2, naming it and
 * what to fix; util/writable-dir.ts). `what` says which folder, where the option names a file in it. */
export function requireWritableDir(label: string, dir: string, what?: string): void {
  const problem = writableDirProblem(label, dir);
  if (problem) throw new UsageError(what ? `${problem} (${what})` : problem);
}

import { existsSync, statSync } from 'node:fs';
import { writableDirProblem, writableFileProblem } from '../util/writable-dir.js';
import { UsageError } from './exit.js';

/** Options whose value is itself a list of options. */
const OPTIONS_VALUED = new Set(['--sbatch-args']);

/** Arguments as people type them: a negative number given to an option (`--epochs -3`) is that option's value, to be
 * judged by the option's own check, not Node's parseArgs "ambiguous option" error; so is the value of an option that
 * holds other options (`--sbatch-args '--account=lab --qos=normal'`, as the README writes it). */
export function joinNegativeValues(args: string[], options: Record<string, { type: 'string' | 'boolean' }>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const option = arg.startsWith('--') && !arg.includes('=') ? options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && next !== undefined && (/^-\d/.test(next) || OPTIONS_VALUED.has(arg))) {
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

/** Refuses, before any work, a file given as `label` that the command could not write (a folder, under a file, not
 * writable, or, with `extensions`, named for another format): exit 2, naming it and what to fix. */
export function requireWritableFile(label: string, file: string, what: string, extensions?: string[]): void {
  const problem = writableFileProblem(label, file, what, extensions);
  if (problem) throw new UsageError(problem);
}

/** Refuses a --data-dir that is a file: it names the folder that holds the datasets (mnist-m/, svhn/). A folder that
 * does not exist is left to the command, which says what is missing from it. */
export function requireDataDir(value: string | undefined): void {
  if (value === undefined) return;
  if (!value.trim()) throw new UsageError('--data-dir is empty; give the folder that holds the datasets, e.g. --data-dir data');
  if (existsSync(value) && !statSync(value).isDirectory()) throw new UsageError(`--data-dir ${value}: this is a file, not a folder; give the folder that holds the datasets (mnist-m/, svhn/), e.g. --data-dir data`);
}

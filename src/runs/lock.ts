/** One process at a time per run directory: `<dir>.lock` next to it (so that `--fresh` removing the directory does not
 * remove the lock), created exclusively, holding the owner's PID, host and command. A lock whose process is gone (on
 * this host) is stale and taken over; a live one refuses the second process with who holds it. */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class RunLockedError extends Error {
  override readonly name = 'RunLockedError';
}

interface LockOwner {
  pid: number;
  host: string;
  command: string;
  started_at: string;
}

/** Locks this process holds, with how many holders inside it (a figure's source may also be one of its runs). */
const held = new Map<string, number>();
let exitHookInstalled = false;

export function lockFile(dir: string): string {
  return `${dir.replace(/[/\\]+$/, '')}.lock`;
}

/** Takes the lock of `dir` (waiting for nobody); returns its release. */
export function acquireRunLock(dir: string): () => void {
  const file = lockFile(path.resolve(dir));
  const holders = held.get(file);
  if (holders !== undefined) {
    held.set(file, holders + 1);
    return once(() => release(file));
  }
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), command: `pladder ${process.argv.slice(2).join(' ')}`, started_at: new Date().toISOString() };
  mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(file, owner)) break;
    const current = readOwner(file);
    if (current && isAlive(current)) {
      throw new RunLockedError(
        `${path.dirname(file)}/${path.basename(file, '.lock')} is in use by PID ${current.pid}${current.host !== owner.host ? ` on ${current.host}` : ''} ` +
          `(${current.command}, since ${current.started_at}); wait for it to end or stop it, then run this again`,
      );
    }
    // Stale (its process is gone) or unreadable: moved aside atomically, so two processes taking it over cannot both win.
    if (attempt >= 3) throw new RunLockedError(`${file}: cannot take over this stale lock; remove it by hand if no pladder process uses the run`);
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
      // Between our reading and our move another process may have taken it over: then its lock goes back.
      const moved = readOwner(aside);
      if (moved && current && moved.pid !== current.pid && isAlive(moved)) renameSync(aside, file);
      else rmSync(aside, { force: true });
    } catch {
      // another process moved it first: try again
    }
  }
  held.set(file, 1);
  installExitHook();
  return once(() => release(file));
}

function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as LockOwner) : undefined;
  } catch {
    return undefined; // being written this instant, or damaged: judged again on the next attempt
  }
}

/** A lock from another host is taken as live: its process cannot be checked from here. */
function isAlive(owner: LockOwner): boolean {
  if (owner.host !== os.hostname()) return true;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

function release(file: string): void {
  const holders = held.get(file);
  if (holders === undefined) return;
  if (holders > 1) {
    held.set(file, holders - 1);
    return;
  }
  held.delete(file);
  if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
  try {
    rmdirSync(path.dirname(file)); // the experiment's folder, made for the lock, when a refused job left it empty
  } catch {
    // not empty: it holds runs
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) fn();
    done = true;
  };
}

/** Locks are removed however the process ends short of SIGKILL (then the next process finds them stale). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const file of held.keys()) if (existsSync(file) && readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
    held.clear();
  });
}

/** A directory the command will write into, checked before any work: not empty, not under a file, not on a kernel
 * pseudo-filesystem (/proc, /sys, /dev but /dev/shm: Node's recursive mkdir can loop forever under /proc), and
 * writable. */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

const PSEUDO_FILESYSTEMS = ['/proc', '/sys', '/dev'];
const SHARED_MEMORY = '/dev/shm'; // under /dev, but a tmpfs for files (the kernels' default exchange folder)

/** The problem with writing under `value` (given as `label`, e.g. "--runs-dir"), or undefined when there is none. */
export function writableDirProblem(label: string, value: string): string | undefined {
  if (!value.trim()) return `${label} is empty; give a directory, e.g. ${label} runs`;
  const dir = path.resolve(value);
  let existing = dir;
  while (!existsSync(existing)) existing = path.dirname(existing);
  const real = realpathSync(existing);
  const pseudo = real === SHARED_MEMORY || real.startsWith(`${SHARED_MEMORY}/`) ? undefined : PSEUDO_FILESYSTEMS.find((root) => real === root || real.startsWith(`${root}/`));
  if (pseudo) return `${label} ${value}: ${pseudo} is a kernel pseudo-filesystem, not a place for files; give a directory on a disk`;
  if (!statSync(existing).isDirectory()) {
    return existing === dir ? `${label} ${value}: this is a file, not a directory` : `${label} ${value}: ${existing} is a file, so no directory can be made under it`;
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch {
    return `${label} ${value}: ${existing} is not writable by this user; give a directory you can write to`;
  }
  return undefined;
}

/** A path as a command line shows it: relative to `base` when inside it ('.' for `base` itself), else absolute. */
import path from 'node:path';

export function shownPath(file: string, base: string): string {
  const relative = path.relative(base, path.resolve(file));
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative || '.';
}

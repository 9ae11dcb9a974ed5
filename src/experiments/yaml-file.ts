/** Reading a YAML input file against a zod schema: every problem with file, line, column, field and a fix (an unknown
 * key gets a "did you mean"). Experiments and figures are both read this way. */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { formatPath } from '../util/field-path.js';

export interface FileProblem {
  path: string;
  line: number | undefined;
  column: number | undefined;
  message: string;
}

/** A file that cannot be used as it is: each problem on its own `file:line:column field: message` line. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
  constructor(
    readonly file: string,
    readonly problems: FileProblem[],
    readonly kind = 'experiment',
  ) {
    super(
      `${file}: ${problems.length === 1 ? `invalid ${kind}` : `${problems.length} problems`}\n` +
        problems.map((p) => `  ${file}${p.line === undefined ? '' : `:${p.line}:${p.column ?? 1}`} ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'),
    );
  }
}

/** The largest experiment or figure file read: ours are a few KB; a larger one is not a hand-written input, and read
 * whole (a 300 MB file, /dev/zero) it exhausted Node's heap. */
export const INPUT_FILE_MAX_BYTES = 1 << 20;

export function readInputFile(file: string, kind: string): string {
  const refuse = (message: string) => new InputFileError(file, [{ path: '', line: undefined, column: undefined, message }], kind);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever and deaf to Ctrl-C.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw refuse(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw refuse(`is a directory; give the ${kind}'s YAML file`);
    if (!stat.isFile()) throw refuse(`is not a regular file (a device, FIFO or socket); give the ${kind}'s YAML file`);
    if (stat.size > INPUT_FILE_MAX_BYTES) throw refuse(`is ${stat.size} bytes, too large for an input file (${kind} files are a few KB; at most ${INPUT_FILE_MAX_BYTES} bytes are read): give the ${kind}'s YAML file`);
    const bytes = readFileSync(fd);
    // Decoding turns a byte that is not UTF-8 into U+FFFD, silently: the text must encode back to the same bytes.
    const text = bytes.toString('utf8');
    const back = Buffer.from(text, 'utf8');
    if (!back.equals(bytes)) {
      const at = bytes.findIndex((byte, i) => byte !== back[i]);
      throw refuse(`is not UTF-8 text (at byte ${at}); save it as UTF-8`);
    }
    return text;
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw refuse(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  } finally {
    closeSync(fd);
  }
}

export interface ParsedFile<T> {
  data: T;
  /** Where `path` (or its nearest present parent) is in the file, for problems found after the schema. */
  position(path: (string | number)[]): { line: number; column: number } | undefined;
}

/** A file of the other kind (an experiment given where a figure is wanted, or the reverse): the one problem to name,
 * instead of every field the two kinds do not share. */
export type WrongKind = (value: unknown) => string | undefined;

/** Whether `value` is a mapping with every one of `keys` at its top. */
export const hasKeys = (value: unknown, keys: string[]) => typeof value === 'object' && value !== null && keys.every((key) => key in value);

export function parseYamlFile<S extends z.ZodType>(text: string, file: string, schema: S, kind: string, wrongKind?: WrongKind): ParsedFile<z.output<S>> {
  const empty = (what: string) => new InputFileError(file, [{ path: '', line: 1, column: 1, message: `the file is empty${what}; an ${kind} is a YAML mapping (see the files in experiments/)` }], kind);
  if (!text.trim()) throw empty('');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  // Only comments (or a lone `---`): no document, however many lines.
  if (doc.errors.length === 0 && (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null && !doc.contents.source))) throw empty(' (it holds only comments)');
  // A tag YAML itself does not define (!!python/object...) is read as plain data by this parser; say it is not ours.
  const problems = [...doc.errors, ...doc.warnings.filter((warning) => warning.code === 'TAG_RESOLVE_FAILED')];
  if (problems.length > 0) {
    throw new InputFileError(
      file,
      problems.map((error) => {
        const at = lines.linePos(error.pos[0]);
        return { path: '', line: at.line, column: at.col, message: `YAML: ${error.message.split('\n')[0]}` };
      }),
      kind,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // e.g. "Excessive alias count": an alias bomb, refused before it is expanded.
    throw new InputFileError(file, [{ path: '', line: 1, column: 1, message: `YAML: ${(error as Error).message.split('\n')[0]}` }], kind);
  }
  const parsed = schema.safeParse(value);
  const other = parsed.success ? undefined : wrongKind?.(value);
  if (other) throw new InputFileError(file, [{ path: '', line: 1, column: 1, message: other }], kind);
  if (!parsed.success) throw new InputFileError(file, parsed.error.issues.map((issue) => describeIssue(issue, schema, doc, lines, value)), kind);
  return {
    data: parsed.data,
    position: (path) => {
      const offset = nodeOffset(doc, path.map(String));
      if (offset === undefined) return undefined;
      const at = lines.linePos(offset);
      return { line: at.line, column: at.col };
    },
  };
}

function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType, doc: Document, lines: LineCounter, value: unknown): FileProblem {
  const path = issue.path.map(String);
  let message = issue.message;
  let offset = nodeOffset(doc, path);
  const names = choices(issue);
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(schema, path, value);
    message = issue.keys
      .map((key) => {
        const guess = closest(key, allowed);
        return `unknown key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}`;
      })
      .join('; ');
    if (allowed.length) message += `; allowed here: ${allowed.join(', ')}`;
    offset = keyOffset(doc, path, issue.keys[0] ?? '') ?? offset;
  } else if (names.length > 1 && typeof doc.getIn(path) === 'string') {
    // A misspelt name among fixed choices (an architecture, a dataset): the closest one, then them all.
    const received = doc.getIn(path) as string;
    const guess = closest(received, names);
    message = `unknown value '${received}'${guess ? ` (did you mean '${guess}'?)` : ''}; one of: ${names.join(', ')}`;
  } else if (issue.code === 'invalid_type' && doc.getIn(path) === undefined) {
    message = `missing: this field is required (${issue.expected})`;
    offset = nodeOffset(doc, path.slice(0, -1));
  } else if (issue.code !== 'custom') {
    const received = doc.getIn(path);
    if (typeof received === 'number' && !Number.isFinite(received)) {
      // YAML's .inf and .nan: JSON has no word for them (it would say null).
      message = `must be a finite number; got ${Number.isNaN(received) ? '.nan' : received > 0 ? '.inf' : '-.inf'}`;
    } else if (received !== undefined && (typeof received !== 'object' || received === null)) {
      message += `; got ${JSON.stringify(received)}`;
    }
  }
  const at = offset === undefined ? undefined : lines.linePos(offset);
  return { path: formatPath(issue.path), line: at?.line, column: at?.col, message };
}

/** The names a field may take, where the issue lists them: a discriminator's options, an enum's values. */
function choices(issue: z.core.$ZodIssue): string[] {
  const listed = issue.code === 'invalid_union' && 'options' in issue ? issue.options : issue.code === 'invalid_value' ? issue.values : [];
  return Array.isArray(listed) ? listed.filter((choice): choice is string => typeof choice === 'string') : [];
}

export function nodeOffset(doc: Document, path: string[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return range[0];
  }
  return undefined;
}

function keyOffset(doc: Document, path: string[], key: string): number | undefined {
  const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isPair(pair) && isScalar(pair.key) && pair.key.value === key) return pair.key.range?.[0];
  }
  return undefined;
}

/** The keys the schema accepts at `path` (for "did you mean"), `value` being the file's contents: in a discriminated
 * union, the keys of the option the file's discriminator picks (a conv column's keys, not every architecture's). */
function allowedKeys(root: z.ZodType, path: string[], value: unknown): string[] {
  let schema: unknown = root;
  let node = value;
  for (const key of path) {
    schema = childSchema(schema, key, node);
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  }
  const shape = objectShape(schema, node);
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { def?: { innerType?: unknown; in?: unknown; type?: string; schema?: unknown } } | undefined;
  while (current?.def && (current.def.innerType || current.def.type === 'pipe')) {
    current = (current.def.innerType ?? current.def.in) as typeof current;
  }
  return current;
}

function objectShape(schema: unknown, value?: unknown): Record<string, unknown> | undefined {
  const unwrapped = unwrap(schema) as { def?: { type?: string; shape?: Record<string, unknown>; options?: unknown[]; discriminator?: string } } | undefined;
  if (unwrapped?.def?.type === 'object') return unwrapped.def.shape;
  if (unwrapped?.def?.type === 'union' && unwrapped.def.options) {
    const { options, discriminator } = unwrapped.def;
    const picked = discriminator && typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[discriminator] : undefined;
    const chosen = discriminator ? options.find((option) => discriminatorValues(objectShape(option)?.[discriminator]).includes(picked)) : undefined;
    if (chosen) return objectShape(chosen);
    return Object.assign({}, ...options.map((option) => objectShape(option) ?? {}));
  }
  return undefined;
}

/** The values a discriminator field takes: its literal's, and undefined (the key left out) when it has a default. */
function discriminatorValues(field: unknown): unknown[] {
  const def = (field as { def?: { type?: string; values?: unknown[] } } | undefined)?.def;
  if (def?.type === 'default') return [undefined, ...discriminatorValues(unwrap(field))];
  return def?.type === 'literal' ? (def.values ?? []) : [];
}

function childSchema(schema: unknown, key: string, value?: unknown): unknown {
  const shape = objectShape(schema, value);
  if (shape) return shape[key];
  const unwrapped = unwrap(schema) as { def?: { type?: string; element?: unknown } } | undefined;
  return unwrapped?.def?.type === 'array' ? unwrapped.def.element : undefined;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = levenshtein(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Reading an experiment file: YAML, then the schema; every problem reported with file, line, field and a fix. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { buildGraph, formatPath, GraphError } from '../progressive/graph.js';
import { experimentSchema, type Experiment } from './schema.js';

export interface ExperimentProblem {
  path: string;
  line: number | undefined;
  column: number | undefined;
  message: string;
}

export class ExperimentError extends Error {
  override readonly name = 'ExperimentError';
  constructor(
    readonly file: string,
    readonly problems: ExperimentProblem[],
  ) {
    super(
      `${file}: ${problems.length === 1 ? 'invalid experiment' : `${problems.length} problems`}\n` +
        problems.map((p) => `  ${file}:${p.line ?? '?'}:${p.column ?? '?'} ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'),
    );
  }
}

export function loadExperiment(file: string): Experiment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ExperimentError(file, [{ path: '', line: undefined, column: undefined, message: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})` }]);
  }
  return parseExperiment(text, file);
}

export function parseExperiment(text: string, file = '<experiment>'): Experiment {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ExperimentError(
      file,
      doc.errors.map((error) => {
        const at = lines.linePos(error.pos[0]);
        return { path: '', line: at.line, column: at.col, message: `YAML: ${error.message.split('\n')[0]}` };
      }),
    );
  }
  const parsed = experimentSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new ExperimentError(file, parsed.error.issues.map((issue) => describeIssue(issue, doc, lines)));
  const problems = checkProgressive(parsed.data, file).map(({ path: at, message }) => {
    const offset = nodeOffset(doc, at.map(String));
    const pos = offset === undefined ? undefined : lines.linePos(offset);
    return { path: formatPath(at), line: pos?.line, column: pos?.col, message };
  });
  if (problems.length) throw new ExperimentError(file, problems);
  return withAbsolutePaths(parsed.data, file);
}

/** Paths inside an experiment are relative to its file; the resolved experiment carries them absolute. */
function withAbsolutePaths(experiment: Experiment, file: string): Experiment {
  const { model } = experiment;
  if (model.architecture !== 'progressive') return experiment;
  const absolute = (p: string) => path.resolve(path.dirname(file), p);
  const columns = model.columns.map((column) => {
    const { weights } = column;
    if (weights.from === 'source') return { ...column, weights: { ...weights, experiment: absolute(weights.experiment) } };
    if (weights.from === 'file') return { ...column, weights: { ...weights, path: absolute(weights.path) } };
    return column;
  });
  return { ...experiment, model: { ...model, columns } };
}

/** A progressive model's wiring, and the source experiments its columns come from, checked before anything runs. */
function checkProgressive(experiment: Experiment, file: string): { path: (string | number)[]; message: string }[] {
  const { model } = experiment;
  if (model.architecture !== 'progressive') return [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  try {
    buildGraph(model);
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    problems.push(...error.problems);
  }
  model.columns.forEach((column, i) => {
    const at = ['model', 'columns', i, 'weights'];
    if (column.weights.from === 'source') {
      const source = path.resolve(path.dirname(file), column.weights.experiment);
      if (!existsSync(source)) problems.push({ path: [...at, 'experiment'], message: `the source experiment ${source} does not exist (paths are relative to ${path.dirname(path.resolve(file))})` });
    } else if (column.weights.from === 'file' && !existsSync(path.resolve(path.dirname(file), column.weights.path))) {
      problems.push({ path: [...at, 'path'], message: `the column file ${path.resolve(path.dirname(file), column.weights.path)} does not exist` });
    }
  });
  return problems;
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ExperimentProblem {
  const path = issue.path.map(String);
  let message = issue.message;
  let offset = nodeOffset(doc, path);
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(path);
    message = issue.keys
      .map((key) => {
        const guess = closest(key, allowed);
        return `unknown key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}`;
      })
      .join('; ');
    if (allowed.length) message += `; allowed here: ${allowed.join(', ')}`;
    offset = keyOffset(doc, path, issue.keys[0] ?? '') ?? offset;
  } else if (issue.code === 'invalid_type' && doc.getIn(path) === undefined) {
    message = `missing: this field is required (${issue.expected})`;
    offset = nodeOffset(doc, path.slice(0, -1));
  } else if (issue.code !== 'custom') {
    const received = doc.getIn(path);
    if (received !== undefined && (typeof received !== 'object' || received === null)) message += `; got ${JSON.stringify(received)}`;
  }
  const at = offset === undefined ? undefined : lines.linePos(offset);
  return { path: path.join('.'), line: at?.line, column: at?.col, message };
}

function nodeOffset(doc: Document, path: string[]): number | undefined {
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

/** The keys the schema accepts at `path` (for "did you mean"). */
function allowedKeys(path: string[]): string[] {
  let schema: unknown = experimentSchema;
  for (const key of path) schema = childSchema(schema, key);
  const shape = objectShape(schema);
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { def?: { innerType?: unknown; in?: unknown; type?: string; schema?: unknown } } | undefined;
  while (current?.def && (current.def.innerType || current.def.type === 'pipe')) {
    current = (current.def.innerType ?? current.def.in) as typeof current;
  }
  return current;
}

function objectShape(schema: unknown): Record<string, unknown> | undefined {
  const unwrapped = unwrap(schema) as { def?: { type?: string; shape?: Record<string, unknown>; options?: unknown[] } } | undefined;
  if (unwrapped?.def?.type === 'object') return unwrapped.def.shape;
  if (unwrapped?.def?.type === 'union' && unwrapped.def.options) {
    return Object.assign({}, ...unwrapped.def.options.map((option) => objectShape(option) ?? {}));
  }
  return undefined;
}

function childSchema(schema: unknown, key: string): unknown {
  const shape = objectShape(schema);
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

/** Reading an experiment file: YAML, then the schema; every problem reported with file, line, field and a fix. */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildGraph, GraphError } from '../progressive/graph.js';
import { experimentSchema, type DataConfig, type Experiment, type Pool } from '../spec/experiment.js';
import { SAME_DIGITS } from '../spec/names.js';
import { formatPath } from '../util/field-path.js';
import { hasKeys, InputFileError, parseYamlFile, readInputFile } from './yaml-file.js';

/** An experiment file with problems (the name experiments and their tests use). */
export { InputFileError as ExperimentError, type FileProblem as ExperimentProblem } from './yaml-file.js';

/** The files being read, outermost first: a source experiment is read to check it, and one that comes back to a file
 * on this chain (itself, or a source of its own source) would be read forever. */
const reading: string[] = [];

export function loadExperiment(file: string): Experiment {
  reading.push(path.resolve(file));
  try {
    return parseExperiment(readInputFile(file, 'experiment'), file);
  } finally {
    reading.pop();
  }
}

export function parseExperiment(text: string, file = '<experiment>'): Experiment {
  const figure = (value: unknown) =>
    hasKeys(value, ['kind', 'experiments']) ? `this is a figure, not an experiment: draw it with 'bin/pladder figure ${file}'` : undefined;
  const parsed = parseYamlFile(text, file, experimentSchema, 'experiment', figure);
  const problems = checkProgressive(parsed.data, file).map(({ path: at, message }) => {
    const pos = parsed.position(at);
    return { path: formatPath(at), line: pos?.line, column: pos?.column, message };
  });
  if (problems.length) throw new InputFileError(file, problems, 'experiment');
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

const range = (pool: Pool | null) => (pool ? `[${pool.start}, ${pool.stop})` : 'every image');

/** Why a source trained on `source` would have seen digits of a target trained on `target`, if it would. */
function sharedDigits(source: DataConfig, target: DataConfig): string | undefined {
  const related = SAME_DIGITS.some(([a, b]) => (source.dataset === a && target.dataset === b) || (source.dataset === b && target.dataset === a));
  if (!related && source.dataset !== target.dataset) return undefined;
  const s = source.pool ?? { start: 0, stop: Infinity };
  const t = target.pool ?? { start: 0, stop: Infinity };
  if (s.stop <= t.start || t.stop <= s.start) return undefined;
  return (
    `trains on ${source.dataset} training images ${range(source.pool)} and this experiment on ${target.dataset} images ${range(target.pool)}: ` +
    `${source.dataset === target.dataset ? 'the same images' : `${target.dataset} image i is ${source.dataset} digit i`}, so the source column would have seen target digits with their labels; give them disjoint pools (data.pool, e.g. {start: 0, stop: 29500} and {start: 29500, stop: 59001})`
  );
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
      else if (reading.includes(source) || source === path.resolve(file)) {
        const through = reading.slice(reading.indexOf(source) + 1).map((f) => path.basename(f));
        problems.push({ path: [...at, 'experiment'], message: `${path.basename(source)} is ${through.length ? `a source of its own source (through ${through.join(' -> ')})` : 'this experiment itself'}: a column cannot be trained from itself; name an experiment that trains the source column` });
      } else {
        const shared = sharedDigits(loadExperiment(source).data, experiment.data);
        if (shared) problems.push({ path: [...at, 'experiment'], message: `${path.basename(source)} ${shared}` });
      }
    } else if (column.weights.from === 'file') {
      const columnFile = path.resolve(path.dirname(file), column.weights.path);
      if (!existsSync(columnFile)) problems.push({ path: [...at, 'path'], message: `the column file ${columnFile} does not exist` });
      // Hashed whole by --continue: a FIFO blocked it forever, /dev/zero filled the memory.
      else if (!statSync(columnFile).isFile()) problems.push({ path: [...at, 'path'], message: `the column file ${columnFile} is not a regular file (a folder, device or FIFO); give a column.pt written by a run` });
    }
  });
  return problems;
}

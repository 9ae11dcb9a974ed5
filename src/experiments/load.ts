/** Reading an experiment file: YAML, then the schema; every problem reported with file, line, field and a fix. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildGraph, formatPath, GraphError } from '../progressive/graph.js';
import { experimentSchema, type Experiment } from '../spec/experiment.js';
import { InputFileError, parseYamlFile, readInputFile } from './yaml-file.js';

/** An experiment file with problems (the name experiments and their tests use). */
export { InputFileError as ExperimentError, type FileProblem as ExperimentProblem } from './yaml-file.js';

export function loadExperiment(file: string): Experiment {
  return parseExperiment(readInputFile(file, 'experiment'), file);
}

export function parseExperiment(text: string, file = '<experiment>'): Experiment {
  const parsed = parseYamlFile(text, file, experimentSchema, 'experiment');
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

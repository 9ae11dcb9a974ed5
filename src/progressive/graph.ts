/** The progressive wiring graph: the laterals spelt out, checked, and turned into the one spec the kernel builds.
 *
 * Layers are numbered per column: 0 is the input, 1..L-1 the hidden layers (post-activation), L the output. A lateral
 * from layer l of an earlier column feeds the pre-activation of layer l+1 of a later, trainable column. */
import type { KernelColumn, KernelModel } from '../spec/kernel.js';
import type { Adapter, Column, ProgressiveModel } from '../spec/progressive.js';
import { outputProblem } from '../spec/names.js';
import { formatPath } from '../util/field-path.js';
import { closedLayers, depth, formatShape, layerShapes, units } from './shapes.js';

export interface GraphProblem {
  /** Where, as a path into the experiment: ['model', 'laterals', 2, 'to', 'column']. */
  path: (string | number)[];
  message: string;
}

export class GraphError extends Error {
  override readonly name = 'GraphError';
  constructor(readonly problems: GraphProblem[]) {
    super(`invalid progressive network:\n${problems.map((p) => `  ${formatPath(p.path)}: ${p.message}`).join('\n')}`);
  }
}

export interface ResolvedLateral {
  from: { column: number; layer: number };
  to: { column: number; layer: number };
  adapter: Adapter;
}

export interface ProgressiveGraph {
  columns: Column[];
  laterals: ResolvedLateral[];
}

/** The paper's wiring: every hidden layer of each frozen column into the next layer of the last column. */
type DeclaredLateral = { from: { column: string; layer: number }; to: { column: string; layer: number }; adapter?: Adapter | undefined };

function allLaterals(model: ProgressiveModel): DeclaredLateral[] {
  const target = model.columns.at(-1);
  if (!target) return [];
  return model.columns
    .filter((column) => column !== target && column.frozen)
    .flatMap((column) =>
      Array.from({ length: Math.min(depth(column), depth(target)) - 1 }, (_, i) => ({
        from: { column: column.name, layer: i + 1 },
        to: { column: target.name, layer: i + 2 },
      })),
    );
}

export function buildGraph(model: ProgressiveModel, path: (string | number)[] = ['model']): ProgressiveGraph {
  const problems: GraphProblem[] = [];
  const index = new Map<string, number>();
  model.columns.forEach((column, i) => {
    if (index.has(column.name)) problems.push({ path: [...path, 'columns', i, 'name'], message: `'${column.name}' names two columns; names must be unique` });
    index.set(column.name, i);
    if (!column.batch_norm && column.weights.from !== 'init') {
      problems.push({ path: [...path, 'columns', i, 'batch_norm'], message: `column '${column.name}' has trained weights, which carry their batch-norm statistics; batch_norm: false is for a column with fresh weights` });
    }
    if (column.frozen && column.weights.from === 'init') {
      problems.push({ path: [...path, 'columns', i, 'frozen'], message: `column '${column.name}' is frozen with fresh random weights, so it could never learn; give it trained weights (weights: {from: source, ...}) or unfreeze it` });
    }
  });
  const last = model.columns.at(-1);
  if (last?.frozen) problems.push({ path: [...path, 'columns', model.columns.length - 1, 'frozen'], message: `the last column ('${last.name}') is the one trained on the target and cannot be frozen` });
  const outputs = last && outputProblem(units(layerShapes(last).at(-1)!));
  if (last && outputs) {
    const field = { fc: 'widths', conv: 'channels', alexnet: 'head' }[last.architecture];
    problems.push({ path: [...path, 'columns', model.columns.length - 1, field], message: `the last layer of '${last.name}' is the network's output and ${outputs}` });
  }

  const declared: DeclaredLateral[] = model.laterals === 'all' ? allLaterals(model) : model.laterals === 'none' ? [] : model.laterals;
  const laterals: ResolvedLateral[] = [];
  const edges = new Map<number, Set<number>>();
  const seen = new Map<string, number>();
  declared.forEach((lateral, i) => {
    const expanded = model.laterals === 'all';
    const at = expanded ? [...path, 'laterals'] : [...path, 'laterals', i];
    const within = (...rest: string[]) => (expanded ? at : [...at, ...rest]);
    const which = expanded ? `(all: ${lateral.from.column} layer ${lateral.from.layer} -> ${lateral.to.column} layer ${lateral.to.layer}) ` : '';
    const from = index.get(lateral.from.column);
    const to = index.get(lateral.to.column);
    const known = [...index.keys()].join(', ');
    if (from === undefined) problems.push({ path: within('from', 'column'), message: `${which}no column named '${lateral.from.column}' (columns: ${known})` });
    if (to === undefined) problems.push({ path: within('to', 'column'), message: `${which}no column named '${lateral.to.column}' (columns: ${known})` });
    if (from === undefined || to === undefined) return;
    edges.set(from, (edges.get(from) ?? new Set()).add(to));
    const key = `${from}:${lateral.from.layer}->${to}:${lateral.to.layer}`;
    const first = seen.get(key);
    if (first !== undefined) problems.push({ path: at, message: `${which}repeats laterals[${first}] (${lateral.from.column} layer ${lateral.from.layer} -> ${lateral.to.column} layer ${lateral.to.layer}); two adapters on one connection are one adapter: remove one` });
    seen.set(key, i);
    const source = model.columns[from]!;
    const target = model.columns[to]!;
    if (from === to) problems.push({ path: at, message: `${which}column '${source.name}' cannot feed itself` });
    else if (from > to) problems.push({ path: at, message: `${which}runs from column '${source.name}' (#${from}) back to the earlier column '${target.name}' (#${to}); laterals go from earlier columns to later ones` });
    if (target.frozen) problems.push({ path: within('to', 'column'), message: `${which}column '${target.name}' is frozen: a lateral into it would change a column that must stay untouched` });
    if (lateral.from.layer > depth(source)) problems.push({ path: within('from', 'layer'), message: `${which}column '${source.name}' has layers 0..${depth(source)}; there is no layer ${lateral.from.layer}` });
    if (lateral.to.layer < 1 || lateral.to.layer > depth(target)) problems.push({ path: within('to', 'layer'), message: `${which}column '${target.name}' takes laterals into layers 1..${depth(target)}; there is no layer ${lateral.to.layer}` });
    if (closedLayers(target).includes(lateral.to.layer)) problems.push({ path: within('to', 'layer'), message: `${which}layer ${lateral.to.layer} of '${target.name}' is AlexNet's frozen trunk (its pool5), which takes no lateral; laterals enter its head, layers 2..${depth(target)}` });
    if (lateral.to.layer !== lateral.from.layer + 1) problems.push({ path: within('to', 'layer'), message: `${which}a lateral from layer ${lateral.from.layer} goes into layer ${lateral.from.layer + 1}, not ${lateral.to.layer}` });
    const adapter = lateral.adapter ?? model.adapter;
    const fromShape = layerShapes(source)[lateral.from.layer];
    const toShape = layerShapes(target)[lateral.to.layer];
    if (fromShape && toShape && fromShape.length === 1 && toShape.length === 3) {
      problems.push({ path: within('to', 'layer'), message: `${which}joins layer ${lateral.from.layer} of '${source.name}' (${formatShape(fromShape)}) to layer ${lateral.to.layer} of '${target.name}' (${formatShape(toShape)}): no adapter turns a vector into a map; take laterals into '${target.name}' from a layer with a map, or into its vector layers` });
    }
    // A map into a map goes per position (1x1 convolutions): V reduces its channels; anything into a vector, its units.
    const width = fromShape && (fromShape.length === 3 && toShape?.length === 3 ? fromShape[0]! : units(fromShape));
    const what = fromShape?.length === 3 && toShape?.length === 3 ? 'channels' : 'units';
    if (adapter.kind === 'rusu' && width !== undefined && adapter.reduced > width) {
      problems.push({ path: within('adapter', 'reduced'), message: `${which}reduces layer ${lateral.from.layer} of '${source.name}' (${width} ${what}) to ${adapter.reduced} ${what}: more than it has; use reduced <= ${width}` });
    }
    laterals.push({ from: { column: from, layer: lateral.from.layer }, to: { column: to, layer: lateral.to.layer }, adapter });
  });
  const cycle = findCycle(edges);
  if (cycle) problems.push({ path: [...path, 'laterals'], message: `the laterals form a cycle: ${cycle.map((i) => model.columns[i]?.name).join(' -> ')}` });
  if (problems.length) throw new GraphError(problems);
  return { columns: model.columns, laterals };
}

function findCycle(edges: Map<number, Set<number>>): number[] | undefined {
  const state = new Map<number, 'open' | 'done'>();
  const stack: number[] = [];
  const visit = (node: number): number[] | undefined => {
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    if (state.get(node) === 'done') return undefined;
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (next === node) continue; // reported as "cannot feed itself"
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

/** The model py_kernels/models/progressive.py builds, with every column's weights resolved (`columnFiles` gives a
 * column's file, or undefined for fresh weights). Python checks its shape against the exported JSON Schema and the
 * column files against their declared widths; every rule of the graph is checked here, in buildGraph. */
export function kernelModel(graph: ProgressiveGraph, columnFiles: (column: Column, index: number) => string | undefined): KernelModel {
  const columns = graph.columns.map((column, i): KernelColumn => {
    const file = columnFiles(column, i);
    const weights = file ? { from: 'file' as const, path: file } : { from: 'init' as const };
    return { ...column, weights }; // the architecture's own keys pass through; Python checks them against its config
  });
  return { architecture: 'progressive', spec: { columns, laterals: graph.laterals } };
}

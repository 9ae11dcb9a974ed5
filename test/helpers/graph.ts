import { expect } from 'vitest';
import { buildGraph, GraphError } from '../../src/progressive/graph.js';
import { progressiveModelSchema, type ProgressiveModel } from '../../src/spec/progressive.js';

/** A progressive model from its YAML-shaped fields, defaults filled in as the experiment file's would be. */
export function model(input: object): ProgressiveModel {
  return progressiveModelSchema.parse({ architecture: 'progressive', ...input });
}

/** The problems the graph check finds, as "path: message" (it must refuse the model). */
export function problems(input: object): string[] {
  try {
    buildGraph(model(input));
  } catch (error) {
    expect(error).toBeInstanceOf(GraphError);
    return (error as GraphError).problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  throw new Error('expected the graph to be refused');
}

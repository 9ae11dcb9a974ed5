/** Test error against epoch for each seed of an experiment, with the mean over seeds. */
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentOutcome } from '../runs/experiment.js';
import { RunDirectory, type EpochRecord } from '../runs/run-dir.js';
import { renderFigure, VEGA_LITE_SCHEMA, type RenderedFigure } from './render.js';

/** The learning curves of an experiment's runs (diverged ones left out), next to its summary.json. */
export function drawLearningCurve(outcome: ExperimentOutcome): Promise<RenderedFigure> {
  const curves = outcome.runs.map((r) => ({ seed: r.seed, records: new RunDirectory(r.dir).readMetrics() }));
  return renderFigure(learningCurveSpec(outcome.experiment.name, curves), path.join(path.dirname(outcome.summaryFile), 'learning-curve'));
}

export function learningCurveSpec(title: string, seeds: { seed: number; records: EpochRecord[] }[]): TopLevelSpec {
  const values = seeds.flatMap(({ seed, records }) => records.map((r) => ({ seed: `seed ${seed}`, epoch: r.epoch, error: 100 * r.test_error })));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: title, subtitle: 'test error of the clean path after each epoch' },
    width: 520,
    height: 300,
    data: { values },
    layer: [
      {
        mark: { type: 'line', opacity: 0.5, point: seeds.length === 1 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
          y: { field: 'error', type: 'quantitative', title: 'test error (%)', scale: { type: 'log' } },
          color: { field: 'seed', type: 'nominal', title: null },
        },
      },
      ...(seeds.length > 1
        ? [
            {
              mark: { type: 'line' as const, color: 'black', strokeWidth: 2 },
              encoding: {
                x: { field: 'epoch', type: 'quantitative' as const },
                y: { aggregate: 'mean' as const, field: 'error', type: 'quantitative' as const },
              },
            },
          ]
        : []),
    ],
  };
}

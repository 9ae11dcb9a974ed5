/** Making one of the paper's figures: run (or reuse) every experiment it compares, then draw and tabulate. */
import path from 'node:path';
import { bestAccuracy, epochsToAccuracy, meanCurve } from '../analysis/curves.js';
import { machineStamp } from '../bench/machine.js';
import { table, writeSection } from '../bench/results-doc.js';
import type { Kernel } from '../bridge/index.js';
import type { DataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import { PROJECT_ROOT } from '../paths.js';
import { runExperiments, type ExperimentOptions, type ExperimentOutcome } from '../runs/experiment.js';
import { RunDirectory } from '../runs/run-dir.js';
import { variantSuffix, type RunEvents } from '../runs/runner.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { bestSpec, curvesSpec } from './paper.js';
import { renderFigure, type RenderedFigure } from './render.js';
import type { Figure } from './schema.js';

export interface MadeFigure {
  figure: Figure;
  files: RenderedFigure;
  table: string;
  json: string;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** Runs (or reuses) every experiment of the figures in one pool (`options.parallel` at a time), then draws each. */
export async function makeFigures(kernel: Kernel, figures: Figure[], where: DataLocation, options: ExperimentOptions, events: RunEvents): Promise<MadeFigure[]> {
  const files = [...new Set(figures.flatMap((figure) => figure.experiments.map((entry) => entry.file)))];
  const outcomes = await runExperiments(kernel, files.map((file) => loadExperiment(file)), where, options, events);
  const byFile = new Map(files.map((file, i) => [file, outcomes[i]!]));
  const made: MadeFigure[] = [];
  for (const figure of figures) made.push(await drawFigure(figure, byFile, options));
  return made;
}

async function drawFigure(figure: Figure, outcomes: Map<string, ExperimentOutcome>, options: ExperimentOptions): Promise<MadeFigure> {
  const approaches = figure.experiments.map((entry) => {
    const outcome = outcomes.get(entry.file)!;
    return { label: entry.label, experiment: outcome.experiment.name, runs: outcome.runs.map((r) => new RunDirectory(r.dir).readMetrics()) };
  });
  const dir = path.join(PROJECT_ROOT, 'figures', options.quick ? 'quick' : '');
  const name = `${figure.name}${variantSuffix({ ...options, quick: false })}`; // e.g. figure5-epochs10-labels1000
  const base = path.join(dir, name);
  const rows = approaches.map((a) => {
    const curve = meanCurve(a.runs);
    const best = bestAccuracy(a.runs);
    const final = curve.at(-1);
    return { ...a, curve, best, final, reach: figure.accuracies.map((acc) => epochsToAccuracy(curve, acc)) };
  });
  const title = `${figure.title}${options.labels !== undefined ? `, ${options.labels ?? 'all'} target labels` : ''}`;
  const files = await renderFigure(
    figure.kind === 'curves' ? curvesSpec(title, rows) : bestSpec(title, rows),
    base,
  );
  const markdown = table(
    ['approach', 'seeds', 'epochs', 'final test accuracy', 'best test accuracy', ...figure.accuracies.map((acc) => `epochs to ${pct(acc)}`)],
    rows.map((r) => [
      r.label,
      r.runs.length,
      r.final?.epoch ?? 0,
      `${pct(r.final?.mean ?? NaN)} (95% CI ${pct(r.final?.low ?? NaN)}-${pct(r.final?.high ?? NaN)})`,
      `${pct(r.best.mean)} +- ${pct(r.best.ci95)}`,
      ...r.reach.map((epochs) => (epochs === null ? 'not reached' : String(epochs))),
    ]),
  );
  writeFileAtomic(`${base}.md`, `# ${figure.title}\n\n${markdown}\n\nPaper: ${figure.paper}\n`);
  const json = `${base}.json`;
  writeJsonAtomic(json, rows.map(({ runs: _runs, ...row }) => row));
  if (!options.quick) {
    const stamp = await machineStamp(options.device);
    const flags = `${options.epochs ? ` --epochs ${options.epochs}` : ''}${options.labels !== undefined ? ` --labels ${options.labels ?? 'all'}` : ''}`;
    writeSection(
      name,
      [
        `## ${figure.title} (${name})`,
        '',
        `- command: \`bin/pladder figure experiments/${figure.name}.yaml${flags}\` (full length: \`make ${figure.name}\`)`,
        `- epochs: ${options.epochs ? `${options.epochs} (shortened with --epochs from the experiment files' own length)` : 'as in the experiment files'}`,
        ...(options.labels !== undefined ? [`- target labels: ${options.labels ?? 'all'} (--labels; the source columns keep theirs)`] : []),
        `- machine: ${stamp.machine}`,
        `- date: ${stamp.date}`,
        `- commit: ${stamp.commit}`,
        `- figure: [${path.basename(files.svg)}](../figures/${path.basename(files.svg)}), numbers: figures/${name}.json`,
        '',
        markdown,
        '',
        `Paper: ${figure.paper}`,
      ].join('\n'),
    );
  }
  return { figure, files, table: markdown, json };
}

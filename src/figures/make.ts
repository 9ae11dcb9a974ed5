/** Making one of the paper's figures: run (or reuse) every experiment it compares, then draw and tabulate. */
import path from 'node:path';
import { bestAccuracy, epochsToAccuracy, meanCurve } from '../analysis/curves.js';
import { machineStamp } from '../bench/machine.js';
import { table, writeSection } from '../bench/results-doc.js';
import type { Kernel } from '../bridge/index.js';
import type { DataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import { PROJECT_ROOT } from '../paths.js';
import { existingRuns, runExperiments, type ExperimentOptions } from '../runs/experiment.js';
import { RunDirectory, type EpochRecord } from '../runs/run-dir.js';
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

/** The runs of one experiment that a figure compares: each seed's epoch records. */
interface ExperimentRuns {
  experiment: string;
  runs: { seed: number; records: EpochRecord[] }[];
}

export interface FigureOptions extends ExperimentOptions {
  /** Draw from the run directories as they stand (complete or not) and train nothing. */
  noTrain?: boolean;
}

/** Runs (or reuses) every experiment of the figures in one pool (`options.parallel` at a time), then draws each. */
export async function makeFigures(kernel: Kernel, figures: Figure[], where: DataLocation, options: FigureOptions, events: RunEvents): Promise<MadeFigure[]> {
  const files = [...new Set(figures.flatMap((figure) => figure.experiments.map((entry) => entry.file)))];
  const experiments = files.map((file) => loadExperiment(file));
  const runs: ExperimentRuns[] = options.noTrain
    ? experiments.map((experiment) => ({ experiment: experiment.name, runs: existingRuns(experiment, options) }))
    : (await runExperiments(kernel, experiments, where, options, events)).map((outcome) => ({
        experiment: outcome.experiment.name,
        runs: outcome.runs.map((r) => ({ seed: r.seed, records: new RunDirectory(r.dir).readMetrics() })),
      }));
  const byFile = new Map(files.map((file, i) => [file, runs[i]!]));
  const made: MadeFigure[] = [];
  for (const figure of figures) made.push(await drawFigure(figure, byFile, options));
  return made;
}

/** "100" when every seed ran as long, else each seed's epochs: "100, 100, 31". */
function epochsRun(runs: ExperimentRuns['runs']): string {
  const lengths = runs.map((r) => r.records.length);
  return new Set(lengths).size === 1 ? String(lengths[0]) : lengths.join(', ');
}

async function drawFigure(figure: Figure, byFile: Map<string, ExperimentRuns>, options: FigureOptions): Promise<MadeFigure> {
  const approaches = figure.experiments.map((entry) => ({ label: entry.label, ...byFile.get(entry.file)! }));
  const dir = path.join(PROJECT_ROOT, 'figures', options.quick ? 'quick' : '');
  const name = `${figure.name}${variantSuffix({ ...options, quick: false })}`; // e.g. figure5-epochs10-labels1000
  const base = path.join(dir, name);
  const rows = approaches.map((a) => {
    const records = a.runs.map((r) => r.records);
    const curve = meanCurve(records);
    // Final and best accuracy come from the seeds that ran furthest, so that a stopped seed does not pull them down.
    const furthest = Math.max(...records.map((r) => r.length));
    const leaders = records.filter((r) => r.length === furthest);
    return { ...a, curve, best: bestAccuracy(leaders), final: curve.at(-1), reach: figure.accuracies.map((acc) => epochsToAccuracy(curve, acc)) };
  });
  const complete = rows.every((r) => new Set(r.runs.map((run) => run.records.length)).size === 1);
  const title = `${figure.title}${options.labels !== undefined ? `, ${options.labels ?? 'all'} target labels` : ''}`;
  const note = complete ? undefined : 'runs still in progress: each epoch averages the seeds that reached it';
  const files = await renderFigure(figure.kind === 'curves' ? curvesSpec(title, rows, note) : bestSpec(title, rows, note), base);
  const markdown = table(
    ['approach', 'seeds', 'epochs', 'final test accuracy', 'best test accuracy', ...figure.accuracies.map((acc) => `epochs to ${pct(acc)}`)],
    rows.map((r) => [
      r.label,
      r.runs.length,
      epochsRun(r.runs),
      `${pct(r.final?.mean ?? NaN)} (95% CI ${pct(r.final?.low ?? NaN)}-${pct(r.final?.high ?? NaN)})${complete ? '' : `, ${r.final?.seeds ?? 0} seed(s) at epoch ${r.final?.epoch ?? 0}`}`,
      `${pct(r.best.mean)} +- ${pct(r.best.ci95)}${complete ? '' : ` (${r.best.n} seed(s))`}`,
      ...r.reach.map((epochs) => (epochs === null ? 'not reached' : String(epochs))),
    ]),
  );
  writeFileAtomic(`${base}.md`, `# ${figure.title}\n\n${markdown}\n\nPaper: ${figure.paper}\n`);
  const json = `${base}.json`;
  writeJsonAtomic(json, rows.map(({ runs: _runs, ...row }) => row));
  if (!options.quick) {
    const stamp = await machineStamp(options.device);
    const flags = `${options.epochs ? ` --epochs ${options.epochs}` : ''}${options.labels !== undefined ? ` --labels ${options.labels ?? 'all'}` : ''}${options.noTrain ? ' --no-train' : ''}`;
    writeSection(
      name,
      [
        `## ${figure.title} (${name})`,
        '',
        `- command: \`bin/pladder figure experiments/${figure.name}.yaml${flags}\` (full length: \`make ${figure.name}\`)`,
        `- epochs: ${options.epochs ? `${options.epochs} (shortened with --epochs from the experiment files' own length)` : 'as in the experiment files'}`,
        ...(options.labels !== undefined ? [`- target labels: ${options.labels ?? 'all'} (--labels; the source columns keep theirs)`] : []),
        ...(complete ? [] : ['- runs: not every seed has finished (epochs per seed in the table); the curve averages the seeds that reached each epoch, final and best accuracy come from the seeds that ran furthest. `make ' + figure.name + '` continues them.']),
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

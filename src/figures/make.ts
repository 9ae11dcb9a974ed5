/** Making one of the paper's figures: run (or reuse) every experiment it compares, then draw and tabulate. */
import path from 'node:path';
import type { z } from 'zod';
import { bestAccuracy, epochsToAccuracy, meanCurve } from '../analysis/curves.js';
import { machineStamp } from '../provenance/machine.js';
import { writeSection } from '../results/document.js';
import type { Kernel } from '../bridge/index.js';
import type { DataLocation } from '../data/index.js';
import { loadExperiment } from '../experiments/load.js';
import type { Experiment } from '../spec/experiment.js';
import { PROJECT_ROOT } from '../paths.js';
import { describeDivergence, existingRuns, MissingRunsError, runExperiments, type ExistingRun, type ExperimentOptions, type ExperimentOutcome } from '../runs/experiment.js';
import { commandLine, provenanceLines, readRunEnvironment, runEnvironmentIfAny } from '../results/record.js';
import { RunDirectory } from '../runs/run-dir.js';
import { applyVariant, variantSuffix, type RunEvents } from '../runs/runner.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { figureDataSchema, readFigureData, sourcesOf, type ApproachData } from './figure-data.js';
import { apsFigureData, apsSpec, apsTable } from './aps-figure.js';
import { drawLearningCurve } from './learning-curve.js';
import { curvesSpec, finalSpec } from './paper.js';
import { renderFigure, type RenderedFigure } from './render.js';
import { PAPER_FIGURES, type Figure } from './schema.js';
import { seedsTable, summaryTable } from './tables.js';

export interface MadeFigure {
  figure: Figure;
  files: RenderedFigure;
  table: string;
  json: string;
  /** One line per diverged run the figure leaves out. */
  diverged: string[];
}

/** The runs of one experiment that a figure compares (each seed's epoch records), and what the experiment asks for. */
interface ExperimentRuns {
  seeds: number;
  epochs: number;
  /** The experiment file's own length (differs from `epochs` under --epochs). */
  plannedEpochs: number;
  runs: ExistingRun[];
}

export interface FigureOptions extends ExperimentOptions {
  /** Draw from the run directories as they stand (complete or not) and train nothing. */
  noTrain?: boolean;
}

/** Runs (or reuses) every experiment of the figures in one pool (`options.parallel` at a time), then draws each. */
export async function makeFigures(kernel: Kernel, figures: Figure[], where: DataLocation, options: FigureOptions, events: RunEvents): Promise<MadeFigure[]> {
  const files = [...new Set(figures.flatMap((figure) => figure.experiments.map((entry) => entry.file)))];
  const experiments = files.map((file) => loadExperiment(file));
  const runs = options.noTrain
    ? experiments.map((experiment) => runsSoFar(experiment, options))
    : (await drawnOutcomes(await runExperiments(kernel, experiments, where, options, events))).map((outcome) =>
        [...outcome.runs, ...outcome.diverged]
          .sort((a, b) => a.seed - b.seed)
          .map((r): ExistingRun => ({ seed: r.seed, dir: r.dir, records: new RunDirectory(r.dir).readMetrics(), complete: true, diverged: r.result.stop_reason === 'diverged' ? r.result.diverged : undefined })),
      );
  const byFile = new Map(
    files.map((file, i): [string, ExperimentRuns] => {
      const { training } = applyVariant(experiments[i]!, options);
      const planned = applyVariant(experiments[i]!, { ...options, epochs: undefined }).training.epochs;
      return [file, { seeds: (options.seeds ?? experiments[i]!.seeds).length, epochs: training.epochs, plannedEpochs: planned, runs: runs[i]! }];
    }),
  );
  for (const figure of figures) {
    const missing = figure.experiments.filter((entry) => !byFile.get(entry.file)!.runs.length);
    if (missing.length === figure.experiments.length) {
      throw new MissingRunsError(`${figure.name}: none of its experiments has a run that finished an epoch in ${options.runsDir}; train them first (the same command without --no-train)`);
    }
  }
  const made: MadeFigure[] = [];
  for (const figure of figures) made.push(figure.kind === 'aps' ? await drawApsFigure(kernel, figure, byFile, where, options, events) : await drawFigure(figure, byFile, options));
  return made;
}

/** An experiment's runs as they stand; none yet is an empty list (the figure says "0 of N" seeds for it). */
function runsSoFar(experiment: Experiment, options: FigureOptions): ExistingRun[] {
  try {
    return existingRuns(experiment, options);
  } catch (error) {
    if (error instanceof MissingRunsError) return [];
    throw error;
  }
}

/** Each experiment's own learning curves too, next to its summary (as `pladder run` draws them). */
async function drawnOutcomes(outcomes: ExperimentOutcome[]): Promise<ExperimentOutcome[]> {
  for (const outcome of outcomes) await drawLearningCurve(outcome);
  return outcomes;
}

const isFinished = ({ seeds, runs }: ExperimentRuns) => runs.length === seeds && runs.every((r) => r.complete);

/** An approach's numbers: the summary over its seeds (diverged ones left out) and every seed's own record. */
function approachData(label: string, file: string, a: ExperimentRuns, accuracies: number[]): ApproachData {
  // A diverged run's accuracies are those of a broken network: shown as diverged in the tables, never averaged.
  const records = a.runs.filter((r) => !r.diverged).map((r) => r.records);
  const curve = meanCurve(records);
  // Final and best accuracy come from the seeds that ran furthest, so that a stopped seed does not pull them down.
  const furthest = Math.max(...records.map((r) => r.length));
  const leaders = records.filter((r) => r.length === furthest);
  return {
    label,
    experiment: path.basename(file, '.yaml'),
    seeds: a.seeds,
    epochs: a.epochs,
    planned_epochs: a.plannedEpochs,
    curve,
    best: bestAccuracy(leaders),
    final: curve.at(-1) ?? null,
    reach: accuracies.map((acc) => epochsToAccuracy(curve, acc)),
    runs: a.runs.map((r) => {
      const dir = new RunDirectory(r.dir);
      const environment = runEnvironmentIfAny(dir);
      return {
        seed: r.seed,
        dir: r.dir,
        complete: r.complete,
        diverged: r.diverged ?? null,
        command: environment ? commandLine(environment.argv) : null,
        resumes: (environment?.resumes ?? []).map(({ after_epoch, argv }) => ({ after_epoch, command: commandLine(argv) })),
        test_accuracy: r.records.map((record) => record.test_accuracy),
        validation_accuracy: r.records.map((record) => record.validation_accuracy),
        epoch_seconds: r.records.map((record) => record.seconds),
        sources: sourcesOf(dir),
      };
    }),
  };
}

async function drawFigure(figure: Figure, byFile: Map<string, ExperimentRuns>, options: FigureOptions): Promise<MadeFigure> {
  const dir = path.join(PROJECT_ROOT, 'figures', options.quick ? 'quick' : '');
  const name = `${figure.name}${variantSuffix({ ...options, quick: false })}`; // e.g. figure5-epochs10-labels1000
  const base = path.join(dir, name);
  const approaches = figure.experiments.map((entry) => byFile.get(entry.file)!);
  const complete = approaches.every(isFinished);
  const json = `${base}.json`;
  writeJsonAtomic(json, {
    figure: name,
    title: figure.title,
    kind: figure.kind,
    paper: figure.paper,
    accuracies: figure.accuracies,
    complete,
    approaches: figure.experiments.map((entry) => approachData(entry.label, entry.file, byFile.get(entry.file)!, figure.accuracies)),
  } satisfies z.input<typeof figureDataSchema>);
  // Everything shown from here on is read back from the file just written.
  const data = readFigureData(json);
  const title = `${figure.title}${options.labels !== undefined ? `, ${options.labels ?? 'all'} target labels` : ''}`;
  const diverged = data.approaches.flatMap((a) => a.runs.flatMap((r) => (r.diverged ? [`${a.label}: ${describeDivergence(r.seed, r.diverged)}`] : [])));
  const notes = [
    ...(complete ? [] : [`runs still in progress: ${figure.kind === 'curves' ? 'each epoch averages the seeds that reached it' : 'the seeds that ran furthest'} (epochs in the table)`]),
    ...(diverged.length ? [`left out, diverged: ${diverged.join('; ')}`] : []),
  ];
  const note = notes.length ? notes.join('; ') : undefined;
  const files = await renderFigure(figure.kind === 'curves' ? curvesSpec(title, data.approaches, note) : finalSpec(title, data.approaches, note), base);
  const markdown = summaryTable(data);
  const seeds = seedsTable(data);
  writeFileAtomic(`${base}.md`, `# ${figure.title}\n\n${markdown}\n\n## Every seed\n\n${seeds}\n\nPaper: ${figure.paper}\n`);
  if (!options.quick) await writeFigureSection(figure, name, files, [markdown, '', `Every seed (from figures/${name}.json):`, '', seeds].join('\n'), options, approaches, complete);
  return { figure, files, table: markdown, json, diverged };
}

/** Figure 6: APS measured on every finished run of the figure's approaches (kept in their aps.json). */
async function drawApsFigure(kernel: Kernel, figure: Figure, byFile: Map<string, ExperimentRuns>, where: DataLocation, options: FigureOptions, events: RunEvents): Promise<MadeFigure> {
  const name = `${figure.name}${variantSuffix({ ...options, quick: false })}`;
  const base = path.join(PROJECT_ROOT, 'figures', options.quick ? 'quick' : '', name);
  const approaches = figure.experiments.map((entry) => ({ label: entry.label, experiment: path.basename(entry.file, '.yaml'), runs: byFile.get(entry.file)!.runs }));
  const data = await apsFigureData(kernel, approaches, where, options.quick, events);
  const json = `${base}.json`;
  writeJsonAtomic(json, { figure: name, title: figure.title, kind: figure.kind, paper: figure.paper, ...data });
  const measured = data.approaches.map((a) => `${a.label}: ${a.runs.length} seed(s)`).join(', ');
  const files = await renderFigure(apsSpec(figure.title, data.bars, `measured on the finished runs: ${measured}`), base);
  const markdown = apsTable(data.bars);
  writeFileAtomic(`${base}.md`, `# ${figure.title}\n\n${markdown}\n\nPaper: ${figure.paper}\n`);
  if (!options.quick) await writeFigureSection(figure, name, files, markdown, options, figure.experiments.map((entry) => byFile.get(entry.file)!), true);
  return { figure, files, table: markdown, json, diverged: [] };
}

/** The figure's section of docs/results.md. */
async function writeFigureSection(figure: Figure, name: string, files: RenderedFigure, markdown: string, options: FigureOptions, approaches: ExperimentRuns[], complete: boolean): Promise<void> {
  const stamp = await machineStamp(options.device);
  const flags = `${options.epochs ? ` --epochs ${options.epochs}` : ''}${options.labels !== undefined ? ` --labels ${options.labels ?? 'all'}` : ''}${options.seeds ? ` --seeds ${options.seeds.join(',')}` : ''}${options.noTrain ? ' --no-train' : ''}`;
  // Who trained the runs (commands, resumes, machines, commits): this command, or others days before (a run reused,
  // continued or drawn with --no-train); then where and when the figure was drawn.
  const trainedBy = approaches.flatMap((a) =>
    a.runs.map((r) => {
      const dir = new RunDirectory(r.dir);
      return { seed: r.seed, experiment: dir.readConfig().experiment.name, environment: readRunEnvironment(dir) };
    }),
  );
  const made = [...provenanceLines(trainedBy), `- drawn: ${stamp.date} at commit ${stamp.commit} (${stamp.machine})`];
  writeSection(
    name,
    [
      `## ${figure.title} (${name})`,
      '',
      `- ${options.noTrain ? 'drawn by' : 'command'}: \`bin/pladder figure ${figure.file}${flags}\`${figure.file === `experiments/${figure.name}.yaml` && (PAPER_FIGURES as readonly string[]).includes(figure.name) ? ` (full length: \`make ${figure.name}\`)` : ''}`,
      `- epochs: ${options.epochs ? `${options.epochs} (shortened with --epochs from the experiment files' own length)` : 'as in the experiment files'}`,
      ...(options.labels !== undefined ? [`- target labels: ${options.labels ?? 'all'} (--labels; the source columns keep theirs)`] : []),
      ...(complete ? [] : [`- runs: not all finished (seeds and epochs per seed in the table); the curve averages the seeds that reached each epoch, final and best accuracy come from the seeds that ran furthest. \`make ${figure.name}\` continues them.`]),
      ...made,
      `- figure: [${path.basename(files.svg)}](../figures/${path.basename(files.svg)}), numbers: figures/${name}.json`,
      '',
      markdown,
      '',
      `Paper: ${figure.paper}`,
    ].join('\n'),
  );
}

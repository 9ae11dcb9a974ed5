/** A figure's numbers as its JSON file (figures/NAME.json) holds them: per approach the summary over seeds and, per
 * seed, every epoch's test and validation accuracy, the source columns it was built on (with their own validation and
 * test accuracy) and the command that trained it. The tables of figures/NAME.md and of docs/results.md are made from
 * this file as read back from disk, so every number shown there is one in a committed JSON file. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RunDirectory } from '../runs/run-dir.js';
import { cachedSourceRun } from '../runs/source-cache.js';
import { formatPath } from '../util/field-path.js';

/** JSON has no NaN: a missing statistic (the CI of one seed) is written as null and read back as NaN. */
const statistic = z.number().nullable().transform((value) => value ?? Number.NaN);

const pointSchema = z.object({ epoch: z.number(), mean: statistic, low: statistic, high: statistic, seeds: z.number() });
const summarySchema = z.object({ n: z.number(), mean: statistic, std: statistic, ci95: statistic, min: statistic, max: statistic });
const divergenceSchema = z.object({ epoch: z.number(), last_finite_loss: z.number().nullable() });

const sourceSchema = z.object({
  column: z.string(),
  experiment: z.string().nullable(),
  seed: z.number().nullable(),
  run: z.string().nullable(),
  epochs: z.number(),
  stop_reason: z.string().nullable(),
  /** At the source's last epoch: the accuracies it was matched (validation) and is reported (test) by. */
  validation_accuracy: z.number().nullable(),
  test_accuracy: z.number().nullable(),
});
export type SourceInfo = z.infer<typeof sourceSchema>;

const seedRunSchema = z.object({
  seed: z.number(),
  dir: z.string(),
  complete: z.boolean(),
  diverged: divergenceSchema.nullable(),
  command: z.string().nullable(),
  /** Each time the run was continued (--continue, --resume): after which epoch, and the command. */
  resumes: z.array(z.object({ after_epoch: z.number(), command: z.string() })).default([]),
  test_accuracy: z.array(z.number()),
  validation_accuracy: z.array(z.number().nullable()),
  /** Wall time of each epoch (training, evaluation, checkpoint), as the run recorded it. */
  epoch_seconds: z.array(z.number()).default([]),
  sources: z.array(sourceSchema),
});
export type SeedRun = z.infer<typeof seedRunSchema>;

const approachSchema = z.object({
  label: z.string(),
  experiment: z.string(),
  /** Seeds and epochs the experiment asks for (the runs may not all have finished). */
  seeds: z.number(),
  epochs: z.number(),
  /** The experiment file's own length: the runs are a shortened variant (--epochs) when `epochs` is less. */
  planned_epochs: z.number().optional(),
  curve: z.array(pointSchema),
  best: summarySchema,
  final: pointSchema.nullable(),
  /** Epochs to each of the figure's accuracies (null: not reached). */
  reach: z.array(z.number().nullable()),
  runs: z.array(seedRunSchema),
});
export type ApproachData = z.infer<typeof approachSchema>;

export const figureDataSchema = z.object({
  figure: z.string(),
  title: z.string(),
  kind: z.enum(['curves', 'final', 'aps']),
  paper: z.string(),
  accuracies: z.array(z.number()),
  complete: z.boolean(),
  approaches: z.array(approachSchema),
});
export type FigureData = z.infer<typeof figureDataSchema>;

/** A figure's JSON file (figures/NAME.json) that cannot be used: named, with the command that draws it again. */
export class FigureFileError extends Error {
  override readonly name = 'FigureFileError';
}

/** The command that draws figures/NAME.json again from the runs as they stand (NAME may carry a variant suffix,
 * e.g. figure5-epochs10-labels1000 is `figure experiments/figure5.yaml --epochs 10 --labels 1000`). */
export function redrawCommand(file: string): string {
  const name = path.basename(file, '.json');
  const [, base, epochs, labels, quick] = /^(.*?)(?:-epochs(\d+))?(?:-labels(\d+|all))?(-quick)?$/.exec(name)!;
  const flags = [epochs ? `--epochs ${epochs}` : '', labels ? `--labels ${labels}` : '', quick ? '--quick' : ''].filter(Boolean).join(' ');
  return `bin/pladder figure experiments/${base}.yaml --no-train${flags ? ` ${flags}` : ''}`;
}

/** A figure's JSON file checked against `schema`, or a FigureFileError naming it and saying how to redraw it. */
export function readFigureFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  const fix = `redraw it (${redrawCommand(file)}) or remove it`;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FigureFileError(`${file} cannot be read as JSON (${code ?? (error as Error).message}); ${fix}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const [first, ...more] = parsed.error.issues;
    const where = first?.path.length ? `${formatPath(first.path)}: ` : '';
    throw new FigureFileError(`${file} is not a figure's data (${where}${first?.message ?? 'invalid'}${more.length ? `, and ${more.length} more problem(s)` : ''}); ${fix}`);
  }
  return parsed.data;
}

export function readFigureData(file: string): FigureData {
  return readFigureFile(file, figureDataSchema);
}

/** The columns a run was built from files (its sources, resolved), each with the run that trained it. */
export function sourcesOf(dir: RunDirectory): SourceInfo[] {
  const { model } = dir.readConfig().experiment;
  if (model.architecture !== 'progressive') return [];
  return model.columns.flatMap((column) => {
    if (column.weights.from !== 'file') return [];
    const run = trainingRunOf(column.weights.path);
    const source = run ? new RunDirectory(run) : undefined;
    const records = source?.readMetrics() ?? [];
    const last = records.at(-1);
    const config = source?.exists() ? source.readConfig() : undefined;
    return [
      {
        column: column.name,
        experiment: config?.experiment.name ?? null,
        seed: config?.seed ?? null,
        run: run ?? null,
        epochs: records.length,
        stop_reason: source?.isComplete() ? source.readResult().stop_reason : null,
        validation_accuracy: last?.validation_accuracy ?? null,
        test_accuracy: last?.test_accuracy ?? null,
      },
    ];
  });
}

/** The run directory that wrote a column file: its own folder, or (for the source cache) the run its source.json names. */
function trainingRunOf(columnFile: string): string | undefined {
  const folder = path.dirname(columnFile);
  if (existsSync(path.join(folder, 'source.json'))) {
    const run = cachedSourceRun(columnFile);
    return run !== undefined && existsSync(path.join(run, 'config.json')) ? run : undefined;
  }
  return existsSync(path.join(folder, 'config.json')) ? folder : undefined;
}


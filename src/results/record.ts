/** An experiment's runs as a section of the results document: who ran what, where, when, at which commit, the test
 * error of each seed at milestone epochs, the summary over seeds, and the learning curves as SVG + PNG. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { summarize, type Summary } from '../analysis/stats.js';
import { table } from './document.js';
import { learningCurveSpec } from '../figures/learning-curve.js';
import { renderFigure, type RenderedFigure } from '../figures/render.js';
import { RunDirectory, type EpochRecord, type RunConfig } from '../runs/run-dir.js';

/** What record reads of environment.json (written by the runner; older files may lack `resumes`). */
const environmentSchema = z.object({
  started_at: z.string(),
  git_commit: z.string(),
  platform: z.string(),
  cpus: z.string(),
  argv: z.array(z.string()),
  kernel: z.object({
    python_version: z.string(),
    torch: z.string(),
    device: z.string(),
    threads: z.number(),
    cuda_name: z.string().nullable(),
  }),
  resumes: z.array(z.object({ after_epoch: z.number(), started_at: z.string(), git_commit: z.string(), argv: z.array(z.string()) })).default([]),
});
export type Environment = z.infer<typeof environmentSchema>;

interface SeedRuns {
  seed: number;
  dir: string;
  config: RunConfig;
  environment: Environment;
  records: EpochRecord[];
  complete: boolean;
}

export interface RecordedSection {
  id: string;
  markdown: string;
  figure: RenderedFigure;
  /** Final test error over the complete seeds (n = 0 when none is complete). */
  finalTestError: Summary;
}

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

/** The seed-N run directories under an experiment's directory (e.g. runs/ladder-mnist100), by seed. */
export function readSeedRuns(experimentDir: string): SeedRuns[] {
  if (!existsSync(experimentDir)) throw new RecordError(`${experimentDir} does not exist; give an experiment's run directory such as runs/ladder-mnist100`);
  const seeds = readdirSync(experimentDir)
    .filter((name) => /^seed-\d+$/.test(name))
    .map((name) => new RunDirectory(path.join(experimentDir, name)))
    .filter((dir) => dir.exists())
    .map((dir) => ({ dir, records: dir.readMetrics() }))
    .filter(({ records }) => records.length > 0);
  if (seeds.length === 0) throw new RecordError(`${experimentDir} holds no seed-N run directory with a completed epoch`);
  return seeds
    .map(({ dir, records }) => {
      const config = dir.readConfig();
      return { seed: config.seed, dir: dir.dir, config, environment: readRunEnvironment(dir), records, complete: dir.isComplete() };
    })
    .sort((a, b) => a.seed - b.seed);
}

const parseEnvironment = (dir: RunDirectory) => environmentSchema.safeParse(dir.readEnvironment());

export function readRunEnvironment(dir: RunDirectory): Environment {
  const environment = parseEnvironment(dir);
  if (!environment.success) throw new RecordError(`${dir.file('environment.json')}: not a run environment (${environment.error.issues[0]?.message ?? 'invalid'})`);
  return environment.data;
}

/** The run's environment, or undefined where its environment.json is missing or is not a run environment. */
export function runEnvironmentIfAny(dir: RunDirectory): Environment | undefined {
  return existsSync(dir.file('environment.json')) ? parseEnvironment(dir).data : undefined;
}

/** A command of the run as a person would type it. */
export const commandLine = (argv: string[]) => `bin/pladder ${argv.join(' ')}`;

/** Who trained these runs: the commands (resumes included), where they were resumed (named by experiment where the
 * runs are of several), machine and versions, start dates and commits. */
export function provenanceLines(runs: { seed: number; environment: Environment; experiment?: string }[]): string[] {
  const commands = unique(runs.flatMap((r) => [r.environment.argv, ...r.environment.resumes.map((x) => x.argv)].map((argv) => `\`${commandLine(argv)}\``)));
  const resumes = runs.flatMap((r) => r.environment.resumes.map((x) => `${r.experiment ? `${r.experiment} ` : ''}seed ${r.seed} after epoch ${x.after_epoch} (${x.started_at.slice(0, 10)})`));
  const starts = runs.map((r) => r.environment.started_at).sort();
  return [
    `- commands: ${commands.join('; ')}`,
    ...(resumes.length ? [`- resumed: ${resumes.join('; ')}`] : []),
    `- machine: ${unique(runs.map((r) => `${r.environment.cpus}, ${r.environment.platform}; Python ${r.environment.kernel.python_version}, torch ${r.environment.kernel.torch}`)).join(' | ')}`,
    `- started: ${unique(starts.map((s) => s.slice(0, 10))).join(', ')}; commit ${unique(runs.map((r) => r.environment.git_commit)).join(', ')}`,
  ];
}

const percent = (error: number) => `${(100 * error).toFixed(2)} %`;
const unique = (values: string[]) => [...new Set(values)];
/** The middle value; for an even count the mean of the two middle ones. */
const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (!sorted.length) return NaN;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function summaryLine(label: string, summary: Summary): string {
  if (summary.n < 2) return `${label}: ${percent(summary.mean)} (one seed)`;
  return `${label}: mean ${percent(summary.mean)}, std ${percent(summary.std)}, 95 % CI ${percent(summary.mean - summary.ci95)} to ${percent(summary.mean + summary.ci95)}, worst seed ${percent(summary.max)} (n = ${summary.n})`;
}

/** Builds the section for the runs under `experimentDir`; the figure goes to `figuresDir/<id>.svg|png`. */
export async function recordSection(experimentDir: string, options: { id?: string; figuresDir: string; note?: string }): Promise<RecordedSection> {
  const runs = readSeedRuns(experimentDir);
  const experiment = runs[0]!.config.experiment;
  const planned = experiment.training.epochs;
  const id = options.id ?? `run-${path.basename(experimentDir)}`;
  const complete = runs.filter((r) => r.complete);
  const devices = unique(runs.map((r) => (r.environment.kernel.cuda_name ? `${r.environment.kernel.device} (${r.environment.kernel.cuda_name})` : r.environment.kernel.device)));

  const milestones = [1, 10, 30, 100, planned].filter((e, i, all) => e <= planned && all.indexOf(e) === i);
  const at = (r: SeedRuns, epoch: number) => r.records.find((record) => record.epoch === epoch);
  const rows = runs.map((r) => {
    const last = r.records.at(-1)!;
    const best = r.records.reduce((a, b) => (b.test_error < a.test_error ? b : a));
    return [
      r.seed,
      r.complete ? `${last.epoch}` : `${last.epoch} of ${planned} (stopped)`,
      ...milestones.map((e) => (at(r, e) ? percent(at(r, e)!.test_error) : '-')),
      `${percent(best.test_error)} (${best.epoch})`,
      `${median(r.records.map((x) => x.seconds)).toFixed(1)} s`,
      `${r.environment.kernel.threads}`,
    ];
  });

  const finalTestError = summarize(complete.map((r) => r.records.at(-1)!.test_error));
  const commonEpoch = Math.min(...runs.map((r) => r.records.at(-1)!.epoch));
  const summaries = [
    complete.length ? summaryLine(`Final test error over the ${complete.length} complete seed(s), epoch ${planned}`, finalTestError) : `No seed is complete (${planned} epochs planned).`,
    ...(complete.length === runs.length ? [] : [summaryLine(`At epoch ${commonEpoch}, the last that every seed reached`, summarize(runs.map((r) => at(r, commonEpoch)!.test_error)))]),
  ];

  const name = path.basename(experimentDir);
  const figure = await renderFigure(
    learningCurveSpec(`${name}: ${runs.length} seed(s) on ${devices.join(', ')}`, runs.map((r) => ({ seed: r.seed, records: r.records }))),
    path.join(options.figuresDir, id),
  );
  const markdown = [
    `## ${name}: ${runs.length} seed(s), ${complete.length === runs.length ? `${planned} epochs` : `${complete.length} of ${runs.length} complete`}, on ${devices.join(', ')}`,
    '',
    experiment.description ? `${experiment.description}.` : '',
    '',
    ...provenanceLines(runs),
    `- figure: [${id}.svg](figures/${id}.svg)`,
    '',
    table(['seed', 'epochs', ...milestones.map((e) => `test error @${e}`), 'best (epoch)', 'median epoch time', 'threads'], rows),
    '',
    ...summaries,
    ...(options.note ? ['', options.note] : []),
  ].join('\n');
  return { id, markdown: markdown.replace(/\n{3,}/g, '\n\n'), figure, finalTestError };
}

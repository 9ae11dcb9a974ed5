/** `--plan` on run, figure and reproduce: the job's runs and how long they take here, from the epochs this machine has
 * measured; trains nothing. `reproduce --plan` at full length, once every run's epoch time is measured here, also
 * records it (figures/reproduce-plan.json and its section of docs/results.md), as the time of a full reproduction on
 * this machine; a plan with runs not measured leaves the record as it was (a fresh clone would replace it by zeros). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { z } from 'zod';
import { renderFigure, VEGA_LITE_SCHEMA } from '../figures/render.js';
import { machineStamp } from '../provenance/machine.js';
import { figureLinks, table, writeSection } from '../results/document.js';
import { PROJECT_ROOT } from '../paths.js';
import { defaultParallel } from '../runs/experiment.js';
import { jobRuns } from '../runs/job.js';
import { timePlan, timePlanSchema, type TimePlan } from '../runs/time-plan.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { formatDuration } from './progress.js';
import type { parseTrainingArgs } from './training-options.js';

type Parsed = ReturnType<typeof parseTrainingArgs>;

const PLAN_BASE = path.join(PROJECT_ROOT, 'figures', 'reproduce-plan');
const PLAN_FILE = `${PLAN_BASE}.json`;
const recordedPlanSchema = timePlanSchema.extend({ side_by_side: z.number().int().positive() });
const hours = (seconds: number) => formatDuration(seconds * 1000);

/** Runs side by side, as the runner counts them. 'auto' counts as the CPU: the plan asks no kernel what it sees. */
function sideBySide(parsed: Parsed): number {
  const { parallel, devices, device } = parsed.experiment;
  const where = devices ?? [device === 'auto' ? 'cpu' : device];
  return (parallel ?? defaultParallel(where)) * where.length;
}

function planTable(plan: TimePlan): string {
  const rows = plan.runs.map((run) => [
    run.run,
    run.role,
    `${run.epochs_done}/${run.epochs}`,
    run.measured ? `${run.measured.seconds_per_epoch.toFixed(1)} s (${run.measured.kind === 'own' ? 'its own' : 'its siblings\''} ${run.measured.epochs_measured} epochs)` : 'not measured',
    run.run_seconds === null ? '?' : hours(run.run_seconds),
    run.left_seconds === null ? '?' : hours(run.left_seconds),
  ]);
  return table(['run', 'role', 'epochs done', 'seconds per epoch (measured on)', 'whole run', 'left'], rows);
}

function totals(plan: TimePlan, workers: number): string {
  if (plan.unmeasured.length === plan.runs.length) {
    // Nothing to add up: a sum of 0 s would read as a plan that takes no time.
    return `${plan.runs.length} runs, none with an epoch measured on this machine, so their time here is unknown. ` +
      `docs/results.md, section reproduce-time, gives the time a full make reproduce took where it was measured; train ` +
      `one epoch of a run here (--epochs 1) and this plan counts the rest from it.`;
  }
  const missing = plan.unmeasured.length ? `\nNot measured here, so not in these times: ${plan.unmeasured.join(', ')}.` : '';
  const measured = plan.unmeasured.length ? ` (the ${plan.runs.length - plan.unmeasured.length} measured runs only)` : '';
  return (
    `${plan.runs.length} runs. From scratch${measured}: ${hours(plan.total_run_seconds)} of run time one after another, about ` +
    `${hours(plan.total_run_seconds / workers)} with ${workers} side by side. Left to train: ${hours(plan.left_run_seconds)}, ` +
    `about ${hours(plan.left_run_seconds / workers)} with ${workers} side by side.${missing}\n` +
    `Each epoch counts as long as it took where it was measured, under whatever else ran beside it; the ` +
    `side-by-side time divides by the runs at once, which holds when the measured epochs also ran that many at once.`
  );
}

export async function planCommand(command: string, files: string[], parsed: Parsed): Promise<void> {
  const { experiment: options, where } = parsed;
  const plan = timePlan(jobRuns(files, options, where.dataDir), options.runsDir);
  const workers = sideBySide(parsed);
  console.log(`${planTable(plan)}\n\n${totals(plan, workers)}`);
  const full = command === 'reproduce' && !options.quick && !options.seeds && !options.epochs && options.labels === undefined;
  if (!full) return;
  if (plan.unmeasured.length) {
    console.log(`\nnot recorded: ${plan.unmeasured.length} of ${plan.runs.length} runs have no epoch measured here, so ` +
      `${path.relative(process.cwd(), PLAN_FILE)} and section 'reproduce-time' of docs/results.md keep the last complete plan`);
    return;
  }
  await recordPlan(plan, workers, options.device);
}

/** The plan as a picture: each experiment's hours of run time (all its seeds, one after another), trained and left. */
function planSpec(plan: z.output<typeof recordedPlanSchema>, subtitle: string): TopLevelSpec {
  const byExperiment = new Map<string, { trained: number; left: number }>(); // by "name (role)"
  for (const run of plan.runs) {
    if (run.run_seconds === null || run.left_seconds === null) continue; // unmeasured: said in the section's text
    const label = `${run.run.replace(/\/seed-\d+$/, '')} (${run.role})`;
    const entry = byExperiment.get(label) ?? { trained: 0, left: 0 };
    entry.trained += (run.run_seconds - run.left_seconds) / 3600;
    entry.left += run.left_seconds / 3600;
    byExperiment.set(label, entry);
  }
  const longestFirst = [...byExperiment].sort(([, a], [, b]) => b.trained + b.left - (a.trained + a.left)).map(([label]) => label);
  const values = [...byExperiment].flatMap(([experiment, e]) => [
    { experiment, part: 'trained', hours: e.trained },
    { experiment, part: 'left to train', hours: e.left },
  ]);
  const total = `${hours(plan.total_run_seconds)} one after another, about ${hours(plan.total_run_seconds / plan.side_by_side)} with ${plan.side_by_side} side by side`;
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: `A full make reproduce on this machine: ${total}`, subtitle: [subtitle, 'hours of run time per experiment, all its seeds one after another, from the epochs measured here'] },
    data: { values },
    width: 560,
    height: 18 * byExperiment.size,
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'experiment', type: 'nominal', sort: longestFirst, title: null, axis: { labelLimit: 0 } },
      x: { field: 'hours', type: 'quantitative', stack: 'zero', title: 'hours of run time' },
      color: { field: 'part', type: 'nominal', title: null, scale: { domain: ['trained', 'left to train'] }, legend: { orient: 'bottom' } },
    },
  };
}

/** figures/reproduce-plan.json, its picture and the section made from it as read back. */
async function recordPlan(plan: TimePlan, workers: number, device: string): Promise<void> {
  writeJsonAtomic(PLAN_FILE, recordedPlanSchema.parse({ ...plan, side_by_side: workers }));
  const stored = recordedPlanSchema.parse(JSON.parse(readFileSync(PLAN_FILE, 'utf8')));
  const stamp = await machineStamp(device);
  const figure = await renderFigure(planSpec(stored, `${stamp.date}, commit ${stamp.commit}`), PLAN_BASE);
  writeSection(
    'reproduce-time',
    [
      '## The time of a full `make reproduce` on this machine',
      '',
      '- command: `bin/pladder reproduce --plan` (trains nothing: it reads the epochs measured in the runs directory)',
      `- runs directory: ${stored.runs_dir}`,
      `- machine: ${stamp.machine}`,
      `- date: ${stamp.date}`,
      `- commit: ${stamp.commit}`,
      `- numbers: figures/reproduce-plan.json; figure: ${figureLinks(figure)}`,
      '',
      totals(stored, stored.side_by_side),
      'Not in these times: what is not a training epoch (the APS measurement of Figure 6, the AlexNet features computed once, drawing the figures and the report).',
      '',
      planTable(stored),
    ].join('\n'),
  );
  console.log(`\nwritten: ${path.relative(process.cwd(), PLAN_FILE)} (and its figure, .svg and .png) and section 'reproduce-time' of docs/results.md`);
}

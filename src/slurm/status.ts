/** Where a submitted job stands: each task from its run directory, its own start/end marker and Slurm's queue. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RunDirectory } from '../runs/run-dir.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { planSchema, type SlurmPlan, type SlurmStage } from './plan.js';
import { logFile, planFile, SLURM_FOLDER, SlurmError } from './submit.js';

const markerSchema = z.strictObject({
  host: z.string(),
  started: z.string(),
  ended: z.string().nullable(),
  exit_code: z.number().int().nullable(),
});
export type TaskMarker = z.output<typeof markerSchema>;

export const markerFile = (dir: string, stage: string, index: number) => path.join(dir, 'tasks', `${stage}-${index}.json`);

export function writeMarker(dir: string, stage: string, index: number, marker: TaskMarker): void {
  writeJsonAtomic(markerFile(dir, stage, index), marker);
}

function readMarker(dir: string, stage: string, index: number): TaskMarker | undefined {
  const file = markerFile(dir, stage, index);
  if (!existsSync(file)) return undefined;
  const parsed = markerSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

export function readPlan(file: string): SlurmPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SlurmError(`${file}: not a readable plan (${(error as Error).message}); submit the job again with --slurm`);
  }
  const parsed = planSchema.safeParse(raw);
  if (!parsed.success) throw new SlurmError(`${file}: not a pladder plan (${parsed.error.issues[0]?.message ?? 'invalid'}); submit the job again with --slurm`);
  return parsed.data;
}

/** The folders of the jobs submitted into a runs directory, oldest first (their names are their UTC times). */
function submissions(runsDir: string): string[] {
  const root = path.join(runsDir, SLURM_FOLDER);
  if (!existsSync(root)) return [];
  return readdirSync(root).sort().map((name) => path.join(root, name)).filter((dir) => existsSync(planFile(dir)));
}

/** The latest submission under a runs directory (or the submission folder itself). */
export function latestSubmission(dir: string): string {
  if (existsSync(planFile(dir))) return dir;
  if (!existsSync(dir)) throw new SlurmError(`${dir}: no such runs directory; give the --runs-dir the job was submitted with (default runs)`);
  const latest = submissions(dir).at(-1);
  if (!latest) {
    throw new SlurmError(`${dir}: no job was submitted with --slurm into this runs directory (no ${SLURM_FOLDER}/*/plan.json); for runs trained here, 'bin/pladder run FILE... --plan' (or figure/reproduce --plan) lists each run's epochs done and time left`);
  }
  return latest;
}

export type TaskState = 'complete' | 'running' | 'failed' | 'pending' | 'cancelled';

export interface TaskStatus {
  stage: string;
  index: number;
  label: string;
  /** The run directory the task trains (null: the finish stage's command). */
  run_dir: string | null;
  state: TaskState;
  detail: string;
}

/** Slurm's view of the tasks still queued or running: "<job>_<index>" -> [state, reason]; undefined where squeue cannot
 * say (not installed here, its controller out of reach): then the markers and run directories alone tell. */
function queued(stages: SlurmStage[]): Map<string, [string, string]> | undefined {
  const ids = stages.flatMap((s) => (s.job_id ? [s.job_id] : []));
  const found = new Map<string, [string, string]>();
  if (!ids.length) return found;
  let text = '';
  try {
    text = execFileSync('squeue', ['-h', '-r', '-j', ids.join(','), '-o', '%i|%T|%r'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // squeue refuses job ids that have all left the queue: then none of them is queued
    return /invalid job id/i.test(String((error as { stderr?: string }).stderr ?? '')) ? found : undefined;
  }
  for (const line of text.split('\n').filter(Boolean)) {
    const [id, state, reason] = line.split('|');
    found.set(id!, [state!, reason ?? '']);
  }
  return found;
}

/** Each task's state; `queue`, Slurm's view, may be asked once for several submissions' jobs (activeRuns). */
export function jobStatus(dir: string, plan = readPlan(planFile(dir)), queue = queued(plan.stages)): { plan: SlurmPlan; tasks: TaskStatus[] } {
  const tasks = plan.stages.flatMap((stage) =>
    stage.tasks.map((task, index): TaskStatus => {
      const marker = readMarker(dir, stage.name, index);
      const inQueue = stage.job_id ? queue?.get(`${stage.job_id}_${index}`) : undefined;
      const run = task.run_dir ? new RunDirectory(task.run_dir) : undefined;
      const base = { stage: stage.name, index, label: task.label, run_dir: task.run_dir };
      if (run?.isComplete() || (!run && marker?.exit_code === 0)) return { ...base, state: 'complete', detail: task.run_dir ?? 'done' };
      if (marker?.exit_code !== null && marker?.exit_code !== undefined) {
        const stopped = { 130: ' (stopped by SIGINT)', 143: ' (stopped by SIGTERM: scancel, or the --time limit)' }[marker.exit_code] ?? '';
        return { ...base, state: 'failed', detail: `exit code ${marker.exit_code}${stopped} on ${marker.host}; log ${logFile(dir, stage.name, index)}` };
      }
      if (marker && queue && stage.job_id && !inQueue) {
        // Started, never recorded its end, and Slurm no longer runs it: killed where no handler runs (SIGKILL).
        return { ...base, state: 'failed', detail: `killed on ${marker.host} without recording its end (out of memory, a node failure, or SIGKILL): Slurm no longer runs it; log ${logFile(dir, stage.name, index)}` };
      }
      if (marker) {
        const epochs = run?.readMetrics().length ?? 0;
        return { ...base, state: 'running', detail: `on ${marker.host} since ${marker.started}${run ? `, ${epochs} epoch(s) done` : ''}` };
      }
      if (inQueue?.[1] === 'DependencyNeverSatisfied') return { ...base, state: 'cancelled', detail: 'an earlier stage failed; fix it and submit again' };
      if (inQueue) return { ...base, state: 'pending', detail: `${inQueue[0].toLowerCase()}${inQueue[1] && inQueue[1] !== 'None' ? ` (${inQueue[1]})` : ''}` };
      if (!stage.job_id) return { ...base, state: 'pending', detail: 'not submitted' };
      return { ...base, state: 'cancelled', detail: 'left the queue without starting (cancelled, or an earlier stage failed); submit again' };
    }),
  );
  return { plan, tasks };
}

/** The runs a submission under `runsDir` still has queued or running, by run directory, with its folder and job ids:
 * a second submission of them would meet their locks, or train them twice. */
export function activeRuns(runsDir: string): Map<string, { submission: string; jobs: string[] }> {
  const found = submissions(runsDir).map((dir) => ({ dir, plan: readPlan(planFile(dir)) }));
  const queue = queued(found.flatMap(({ plan }) => plan.stages)); // one squeue for every submission's jobs
  const active = new Map<string, { submission: string; jobs: string[] }>();
  for (const { dir, plan } of found) {
    const jobs = plan.stages.flatMap((s) => (s.job_id ? [s.job_id] : []));
    for (const task of jobStatus(dir, plan, queue).tasks) {
      if (task.run_dir && (task.state === 'running' || (task.state === 'pending' && jobs.length))) active.set(task.run_dir, { submission: dir, jobs });
    }
  }
  return active;
}

export function formatStatus(dir: string, status: ReturnType<typeof jobStatus>): string {
  const { plan, tasks } = status;
  const lines = [`job submitted ${plan.created}: pladder ${plan.command.join(' ')}`, `  files: ${dir}`];
  for (const stage of plan.stages) {
    lines.push(`stage ${stage.name} (Slurm job ${stage.job_id ?? 'not submitted'}):`);
    for (const t of tasks.filter((t) => t.stage === stage.name)) lines.push(`  ${t.state.padEnd(9)} ${t.label}  ${t.detail}`);
  }
  const count = (state: TaskState) => tasks.filter((t) => t.state === state).length;
  lines.push(`${count('complete')} of ${tasks.length} tasks complete, ${count('running')} running, ${count('pending')} pending, ${count('failed')} failed, ${count('cancelled')} cancelled`);
  return lines.join('\n');
}

/** Submitting a plan to Slurm: one job array per stage, each depending on the one before (afterok), written to
 * <runs dir>/.slurm/<time>/ with its batch scripts, logs and the task markers `pladder status` reads. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { SlurmPlan, SlurmStage } from './plan.js';

export interface SlurmOptions {
  partition?: string | undefined;
  /** GPUs each task gets (its runs then use CUDA). */
  gpusPerTask: number;
  cpusPerTask: number;
  /** Slurm's time limit of each task, e.g. 2:00:00. */
  time?: string | undefined;
  /** Further sbatch arguments, e.g. ['--account=lab', '--qos=normal']. */
  extra: string[];
}

/** A failure to reach Slurm or a refusal by sbatch (its message is the user's to act on). */
export class SlurmError extends Error {
  override readonly name = 'SlurmError';
}

export const SLURM_FOLDER = '.slurm';

/** Where a submission's files go: <runs dir>/.slurm/<UTC time>. */
export function submissionDir(plan: SlurmPlan): string {
  return path.join(plan.runs_dir, SLURM_FOLDER, plan.created.replace(/[:.]/g, '-'));
}

export const planFile = (dir: string) => path.join(dir, 'plan.json');
export const logFile = (dir: string, stage: string, index: number | string) => path.join(dir, 'logs', `${stage}-${index}.out`);

function batchScript(dir: string, stage: SlurmStage, options: SlurmOptions): string {
  const directives = [
    `--job-name=pladder-${stage.name}`,
    `--array=0-${stage.tasks.length - 1}`,
    `--output=${logFile(dir, stage.name, '%a')}`,
    `--cpus-per-task=${options.cpusPerTask}`,
    ...(options.partition ? [`--partition=${options.partition}`] : []),
    ...(options.gpusPerTask > 0 ? [`--gres=gpu:${options.gpusPerTask}`] : []),
    ...(options.time ? [`--time=${options.time}`] : []),
  ];
  return [
    '#!/bin/bash',
    `# pladder, stage '${stage.name}': task i runs the command of ${planFile(dir)} stages[${stage.name}].tasks[i].`,
    ...directives.map((d) => `#SBATCH ${d}`),
    `cd ${JSON.stringify(PROJECT_ROOT)}`,
    `exec ${JSON.stringify(path.join(PROJECT_ROOT, 'bin', 'pladder'))} task ${JSON.stringify(planFile(dir))} ${stage.name} "$SLURM_ARRAY_TASK_ID"`,
    '',
  ].join('\n');
}

function sbatch(args: string[]): string {
  try {
    return execFileSync('sbatch', ['--parsable', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split(';')[0]!;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new SlurmError('--slurm: sbatch is not on PATH; run this on a Slurm login node (or install Slurm: Debian package slurm-wlm)');
    throw new SlurmError(`--slurm: sbatch refused the job: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Submits every stage in order (each after the one before has succeeded) and writes the plan with its job ids. When
 * sbatch refuses a stage, nothing is left behind: the stages already queued are cancelled (they would wait on a chain
 * that never completes) and the submission's folder is removed, so that `pladder status` never shows it. */
export function submitPlan(plan: SlurmPlan, options: SlurmOptions): { dir: string; plan: SlurmPlan } {
  const dir = submissionDir(plan);
  const slurmFolder = path.dirname(dir);
  const madeSlurmFolder = !existsSync(slurmFolder);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const stages: SlurmStage[] = [];
  try {
    // The plan is on disk before any task can start and read it.
    writeJsonAtomic(planFile(dir), plan);
    let previous: string | null = null;
    for (const stage of plan.stages) {
      const script = path.join(dir, `${stage.name}.sbatch`);
      writeFileSync(script, batchScript(dir, stage, options), { mode: 0o755 });
      const job = sbatch([...(previous ? [`--dependency=afterok:${previous}`, '--kill-on-invalid-dep=yes'] : []), ...options.extra, script]);
      stages.push({ ...stage, job_id: job });
      previous = job;
      writeJsonAtomic(planFile(dir), { ...plan, stages: [...stages, ...plan.stages.slice(stages.length)] });
    }
  } catch (error) {
    const cancelled = cancelJobs(stages.map((s) => s.job_id!));
    rmSync(dir, { recursive: true, force: true });
    if (madeSlurmFolder && existsSync(slurmFolder) && readdirSync(slurmFolder).length === 0) rmdirSync(slurmFolder);
    if (error instanceof SlurmError && stages.length) throw new SlurmError(`${error.message}\n${cancelled}`);
    throw error;
  }
  return { dir, plan: { ...plan, stages } };
}

/** Cancels the jobs of stages already queued when a later stage is refused; says what became of them. */
function cancelJobs(jobs: string[]): string {
  if (!jobs.length) return '';
  try {
    execFileSync('scancel', jobs, { stdio: ['ignore', 'pipe', 'pipe'] });
    return `the stages already queued were cancelled (Slurm job ${jobs.join(', ')}); nothing was submitted`;
  } catch (error) {
    const e = error as { stderr?: Buffer | string; message: string };
    return `the stages already queued could not be cancelled (${String(e.stderr ?? e.message).trim()}): cancel them with 'scancel ${jobs.join(' ')}'`;
  }
}

/** A job as Slurm runs it: stages of independent tasks (the sources, then the target runs, then what draws from
 * them), each task one `pladder` command on one run into the shared run directory, so the layout is the same however
 * the runs were executed. Runs already complete are left out, so submitting again picks up where a job stopped. */
import path from 'node:path';
import { z } from 'zod';
import type { ExperimentOptions } from '../runs/experiment.js';
import { jobRuns, type JobRun } from '../runs/job.js';

export const STAGES = ['sources', 'targets', 'finish'] as const;

const taskSchema = z.strictObject({
  /** experiment/seed-S, or the command that draws. */
  label: z.string(),
  /** The pladder command line the task runs. */
  argv: z.array(z.string()),
  /** The run directory the task completes (null for the finishing command). */
  run_dir: z.string().nullable(),
});
export type SlurmTask = z.output<typeof taskSchema>;

const stageSchema = z.strictObject({
  name: z.enum(STAGES),
  tasks: z.array(taskSchema).min(1),
  /** Slurm's job id of the stage's array, once submitted. */
  job_id: z.string().nullable(),
});
export type SlurmStage = z.output<typeof stageSchema>;

export const planSchema = z.strictObject({
  created: z.string(),
  /** The command as it was typed (without --slurm and its options). */
  command: z.array(z.string()),
  runs_dir: z.string(),
  stages: z.array(stageSchema),
});
export type SlurmPlan = z.output<typeof planSchema>;

/** The command submitted: its name, its positional arguments (experiment or figure files), the experiment files
 * they stand for, and the command line as typed. */
export interface SubmittedCommand {
  name: string;
  positionals: string[];
  files: string[];
  typed: string[];
}

/** What every task command repeats of the submitting command, so that each run is the one a local run would be. */
export interface TaskOptions {
  experiment: ExperimentOptions;
  dataDir: string | undefined;
  /** The device each task's runs use (cuda when tasks get GPUs). */
  device: string;
  threads: number;
}

function commonArgs(options: TaskOptions, variant: boolean): string[] {
  const { experiment: o } = options;
  return [
    '--runs-dir', o.runsDir,
    '--device', options.device,
    '--threads', String(options.threads),
    '--parallel', '1',
    '--continue',
    ...(o.quick ? ['--quick'] : []),
    ...(o.allowDivergence ? ['--allow-divergence'] : []),
    ...(options.dataDir ? ['--data-dir', path.resolve(options.dataDir)] : []),
    // the variant of the experiments named on the command line; their sources keep their own length and labels
    ...(variant && o.epochs ? ['--epochs', String(o.epochs)] : []),
    ...(variant && o.labels !== undefined ? ['--labels', String(o.labels ?? 'all')] : []),
  ];
}

/**
 * The stages of `files`' runs still to do: every source column a remaining target run needs and the source cache does
 * not hold, every target run not complete, and `finish` (the submitting command itself, which then trains nothing
 * and draws or aggregates), each stage depending on the one before.
 */
export function planJob(command: SubmittedCommand, options: TaskOptions, where: { dataDir: string }): SlurmPlan {
  const { experiment: o } = options;
  const runs = jobRuns(command.files, o, where.dataDir).filter((run) => run.toTrain);
  const task = (run: JobRun, variant: boolean): SlurmTask => ({
    label: `${run.experiment.name}/seed-${run.seed}`,
    // absolute: the batch scripts run in the project's folder, not the one the user typed the file's path in
    argv: ['run', path.resolve(run.file), '--seeds', String(run.seed), ...commonArgs(options, variant)],
    run_dir: run.dir,
  });
  const sources = runs.filter((run) => run.role === 'source').map((run) => task(run, false));
  const targets = runs.filter((run) => run.role === 'target').map((run) => task(run, true));
  const seeds = o.seeds ? ['--seeds', o.seeds.join(',')] : [];
  const finish = [command.name, ...command.positionals.map((p) => path.resolve(p)), ...seeds, ...commonArgs(options, true)];
  const stage = (name: SlurmStage['name'], tasks: SlurmTask[]): SlurmStage[] => (tasks.length ? [{ name, tasks, job_id: null }] : []);
  return {
    created: new Date().toISOString(),
    command: command.typed,
    runs_dir: o.runsDir,
    stages: [
      ...stage('sources', sources),
      ...stage('targets', targets),
      ...stage('finish', [{ label: `${command.name} ${command.positionals.join(' ')}`.trim(), argv: finish, run_dir: null }]),
    ],
  };
}


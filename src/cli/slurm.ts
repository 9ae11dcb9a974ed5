/** `--slurm` on run/figure/reproduce (submit the job's runs as Slurm job arrays), `pladder task` (what one array task
 * runs) and `pladder status DIR` (where a submitted job stands). */
import { hostname } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { planJob, STAGES } from '../slurm/plan.js';
import { activeRuns, formatStatus, jobStatus, latestSubmission, readPlan, writeMarker } from '../slurm/status.js';
import { SlurmError, submitPlan, type SlurmOptions } from '../slurm/submit.js';
import { reportAndExitCode, UsageError } from './exit.js';
import type { parseTrainingArgs } from './training-options.js';
import { shownPath } from '../util/shown-path.js';

type Parsed = ReturnType<typeof parseTrainingArgs> & { slurm: SlurmOptions };

/** Plans the runs of `files` (experiment files) and submits them; prints what was submitted and how to follow it. */
export function submitToSlurm(name: string, files: string[], parsed: Parsed, typed: string[]): void {
  const { slurm, experiment } = parsed;
  const plan = planJob(
    { name, positionals: parsed.positionals, files, typed: [name, ...typed.filter((a) => a !== '--slurm')] },
    { experiment, dataDir: parsed.dataDir, device: slurm.gpusPerTask > 0 ? 'cuda' : 'cpu', threads: slurm.cpusPerTask },
    parsed.where,
  );
  const active = activeRuns(experiment.runsDir);
  const again = plan.stages.flatMap((s) => s.tasks).filter((t) => t.run_dir && active.has(t.run_dir));
  if (again.length) {
    const { submission, jobs } = active.get(again[0]!.run_dir!)!;
    throw new SlurmError(`--slurm: ${again.map((t) => t.label).join(', ')} ${again.length > 1 ? 'are' : 'is'} still queued or running in the submission ${submission} (Slurm job ${jobs.join(', ')}); nothing was submitted: follow it with 'bin/pladder status ${shownPath(experiment.runsDir, process.cwd())}', or cancel it with 'scancel ${jobs.join(' ')}' and submit again`);
  }
  const { dir, plan: submitted } = submitPlan(plan, slurm);
  for (const stage of submitted.stages) {
    console.log(`stage ${stage.name}: Slurm job ${stage.job_id}, ${stage.tasks.length} task(s)${stage.tasks.length <= 8 ? `: ${stage.tasks.map((t) => t.label).join(', ')}` : ''}`);
  }
  const skipped = submitted.stages.find((s) => s.name === 'targets') ? '' : ' (every run was already complete)';
  console.log(`submitted${skipped}; plan, scripts and logs in ${dir}\nfollow it with: bin/pladder status ${shownPath(experiment.runsDir, process.cwd())}`);
}

/** `pladder task PLAN STAGE INDEX`: one array task: the command of the plan's task, with start and end recorded. */
export async function taskCommand(args: string[], dispatch: (argv: string[]) => Promise<void>): Promise<void> {
  const [file, stageName, indexText] = args;
  if (!file || !stageName || indexText === undefined) throw new UsageError('task: pladder task PLAN.json STAGE INDEX (written by --slurm; Slurm runs it)');
  const plan = readPlan(path.resolve(file));
  const stage = plan.stages.find((s) => s.name === stageName);
  if (!stage) throw new UsageError(`task: ${file} has no stage '${stageName}'; its stages: ${plan.stages.map((s) => s.name).join(', ')} (of ${STAGES.join(', ')})`);
  const index = Number(indexText);
  const task = Number.isInteger(index) ? stage.tasks[index] : undefined;
  if (!task) throw new UsageError(`task: stage ${stageName} of ${file} has tasks 0..${stage.tasks.length - 1}, not '${indexText}'`);
  const dir = path.dirname(path.resolve(file));
  const started = new Date().toISOString();
  const mark = (exitCode: number | null) => writeMarker(dir, stage.name, index, { host: hostname(), started, ended: exitCode === null ? null : new Date().toISOString(), exit_code: exitCode });
  mark(null);
  // Stopped by a signal (scancel, Slurm's time limit: SIGTERM) the process exits from its handler, past the finally
  // below: the marker records that end too, or `pladder status` would call the task running forever.
  const onExit = (exitCode: number) => mark(exitCode);
  process.once('exit', onExit);
  console.log(`pladder task ${stage.name}[${index}] ${task.label}: pladder ${task.argv.join(' ')}`);
  let code = 0;
  try {
    await dispatch(task.argv);
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    code = reportAndExitCode(error); // said here, so that the marker and Slurm get the code the command would exit with
    process.exitCode = code;
  } finally {
    process.removeListener('exit', onExit);
    mark(code);
  }
}

/** `pladder status DIR [--json]`: the latest submission into runs directory DIR, task by task. */
export function statusCommand(args: string[]): void {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  const dir = latestSubmission(path.resolve(positionals[0] ?? 'runs'));
  const status = jobStatus(dir);
  console.log(values.json ? JSON.stringify({ dir, ...status }, null, 2) : formatStatus(dir, status));
}

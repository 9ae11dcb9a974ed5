/** Who measured: the machine, the date and the commit, written next to every benchmark figure. */
import { execa } from 'execa';
import os from 'node:os';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths.js';

export const machineStampSchema = z.object({ date: z.string(), commit: z.string(), machine: z.string() });
export type MachineStamp = z.infer<typeof machineStampSchema>;

export async function machineStamp(device: string): Promise<MachineStamp> {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memory = `${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  return {
    date: new Date().toISOString().slice(0, 10),
    commit: await gitCommit(),
    machine: `${os.availableParallelism()} cores (${cpu}), ${memory}, ${os.platform()} ${os.arch()}, Node ${process.version}; kernel device ${device}`,
  };
}

let commitOfThisProcess: Promise<string> | undefined;

/** The commit of the code this process runs: read once, since commits made while a long job runs do not change the code
 * it has loaded. */
export function gitCommit(): Promise<string> {
  return (commitOfThisProcess ??= readGitCommit());
}

async function readGitCommit(): Promise<string> {
  try {
    const { stdout } = await execa('git', ['rev-parse', '--short=10', 'HEAD'], { cwd: PROJECT_ROOT });
    // Results and figures are what the commands write, so their own changes do not make the code "uncommitted".
    const { stdout: dirty } = await execa('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!docs', ':!figures'], { cwd: PROJECT_ROOT });
    return dirty.trim() ? `${stdout.trim()} (with uncommitted changes)` : stdout.trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

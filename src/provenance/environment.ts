/** What a run records of where it ran (environment.json): when, which commit, which machine, the kernel's versions
 * and device, and the command; and, for each time it was continued, the same for that continuation. */
import os from 'node:os';
import type { KernelInfo } from '../bridge/index.js';
import { gitCommit } from './machine.js';

export async function runEnvironment(info: KernelInfo, device: string): Promise<Record<string, unknown>> {
  return {
    started_at: new Date().toISOString(),
    git_commit: await gitCommit(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
    host: os.hostname(),
    cpus: `${os.availableParallelism()} x ${os.cpus()[0]?.model.trim() ?? 'unknown'}`,
    kernel: info,
    device,
    argv: process.argv.slice(2),
  };
}

/** One continuation of a run: after which epoch, when, at which commit, by which command. */
export async function resumeRecord(afterEpoch: number): Promise<Record<string, unknown>> {
  return { after_epoch: afterEpoch, started_at: new Date().toISOString(), git_commit: await gitCommit(), argv: process.argv.slice(2) };
}

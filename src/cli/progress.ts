/** Progress bars with time left, fed by the kernel's progress events (or by the epoch loop). */
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../bridge/index.js';

export interface Bar {
  update(done: number, total: number, label?: string): void;
  /** A handler for kernel progress events. */
  onKernelProgress: (event: ProgressEvent) => void;
  stop(): void;
}

export function progressBar(title: string, stream: NodeJS.WriteStream = process.stderr): Bar {
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% | {value}/{total} {label} | {duration_formatted} elapsed, {eta_formatted} left`,
      stream,
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
      noTTYOutput: !stream.isTTY,
      notTTYSchedule: 10_000,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const update = (done: number, total: number, label = '') => {
    if (!started) {
      bar.start(total, done, { label });
      started = true;
    } else {
      bar.setTotal(total);
      bar.update(done, { label });
    }
  };
  return {
    update,
    onKernelProgress: (event) => update(event.done, event.total, event.stage),
    stop: () => started && bar.stop(),
  };
}

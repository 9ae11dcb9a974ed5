/** Progress bars with time left, fed by the kernel's progress events (or by the epoch loop). */
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../bridge/index.js';

export interface Bar {
  /** Moves the bar of `lane` (one line per lane, e.g. per run; created on first use). */
  update(done: number, total: number, label?: string, lane?: string): void;
  /** A handler for kernel progress events. */
  onKernelProgress: (event: ProgressEvent) => void;
  /** Prints a line above the bar (or plainly when the stream is not a terminal). */
  log(line: string): void;
  stop(): void;
}

export function progressBar(title: string, stream: NodeJS.WriteStream = process.stderr): Bar {
  const bars = new cliProgress.MultiBar(
    {
      format: `${title} [{bar}] {percentage}% | {label} | {duration_formatted} elapsed, {eta_formatted} left`,
      stream,
      hideCursor: true,
      // Time left from the rate over the last ~2000 updates (kernels report every 0.2 s: about 7 minutes, several
      // epochs), not the last 10 s: an evaluation pause or a burst of load elsewhere must not swing it by hours.
      etaBuffer: 2000,
      fps: 5,
      noTTYOutput: !stream.isTTY,
      notTTYSchedule: 30_000,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const lanes = new Map<string, cliProgress.SingleBar>();
  let stopped = false;
  const update = (done: number, total: number, label = '', lane = '') => {
    const bar = lanes.get(lane) ?? lanes.set(lane, bars.create(total, done, { label })).get(lane)!;
    bar.setTotal(total);
    bar.update(done, { label });
    // A finished lane leaves the display (its result is logged), so a long pool shows only the runs still going.
    if (done >= total && lanes.size > 1) {
      bars.remove(bar);
      lanes.delete(lane);
    }
  };
  return {
    update,
    onKernelProgress: (event) => update(event.done, event.total, event.stage),
    log: (line) => (stream.isTTY ? bars.log(`${line}\n`) : stream.write(`${line}\n`)),
    stop: () => {
      if (!stopped) bars.stop();
      stopped = true;
    },
  };
}

/** Progress bars with time left, fed by the kernel's progress events (or by the epoch loop). */
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../bridge/index.js';
import { POOL_LANE } from '../runs/experiment.js';

export interface Bar {
  /** Moves the bar of `lane` (one line per lane, e.g. per run; created on first use). */
  update(done: number, total: number, label?: string, lane?: string): void;
  /** A handler for kernel progress events. */
  onKernelProgress: (event: ProgressEvent) => void;
  /** Prints a line above the bar (or plainly when the stream is not a terminal). */
  log(line: string): void;
  stop(): void;
}

/** Bars on a terminal; on anything else (a log file, a pipe) plain lines, one per lane, at most every `everyMs`. */
export function progressBar(title: string, stream: NodeJS.WriteStream = process.stderr): Bar {
  return stream.isTTY ? terminalBars(title, stream) : progressLines(title, (text) => stream.write(text));
}

function terminalBars(title: string, stream: NodeJS.WriteStream): Bar {
  const bars = new cliProgress.MultiBar(
    {
      format: `${title} [{bar}] {percentage}% | {label} | {duration_formatted} elapsed, {eta_formatted} left`,
      stream,
      hideCursor: true,
      // Time left from the rate over the last ~2000 updates (kernels report every 0.2 s: about 7 minutes, several
      // epochs), not the last 10 s: an evaluation pause or a burst of load elsewhere must not swing it by hours.
      etaBuffer: 2000,
      // Durations as the log lines write them ("1m 08s"); before any rate is known cli-progress's time left is a word
      // ('NULL', 'INF'), which its own formatter cut into "NFs left".
      formatTime: (seconds: number | string) => formatDuration(typeof seconds === 'number' ? seconds * 1000 : Number.NaN),
      fps: 5,
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
    log: (line) => bars.log(`${line}\n`),
    stop: () => {
      if (!stopped) bars.stop();
      stopped = true;
    },
  };
}

interface Lane {
  done: number;
  total: number;
  label: string;
  /** The first update (time, done): the rate since then gives the time left. */
  since: { at: number; done: number };
}

/** Progress for a log: `title 42% | label | 3m 10s elapsed, 4m 20s left`, one line per lane that moved, every
 * `everyMs`, and once when a lane finishes. In a pool (a POOL_LANE beside the runs' lanes) the title's percentage and
 * time left are the whole job's: a run's own line reads `title | label | 42% of the run, 1m 05s left`, and a run that
 * ends is followed by the job's line. */
export function progressLines(title: string, write: (text: string) => void, everyMs = 30_000, now: () => number = Date.now): Bar {
  const lanes = new Map<string, Lane>();
  const started = now();
  let lastPrint = started;
  const line = (lane: Lane, key: string) => {
    const t = now();
    const rate = (lane.done - lane.since.done) / Math.max(1, t - lane.since.at);
    const left = lane.done >= lane.total ? 0 : rate > 0 ? (lane.total - lane.done) / rate : Number.NaN;
    const percent = lane.total > 0 ? Math.floor((100 * lane.done) / lane.total) : 0;
    if (key !== POOL_LANE && lanes.has(POOL_LANE)) {
      return `${title} | ${lane.label}${lane.done >= lane.total ? '' : ` | ${percent}% of the run, ${formatDuration(left)} left`}\n`;
    }
    return `${title} ${percent}% | ${lane.label} | ${formatDuration(t - started)} elapsed, ${formatDuration(left)} left\n`;
  };
  // Lanes whose end was printed: a run reports its end more than once (its last iteration, then its result), and a
  // lane made again by the later reports would be printed as done every `everyMs` to the end of the job.
  const ended = new Set<string>();
  let poolDue = false; // a run ended: the job's next line is printed at once
  const update = (done: number, total: number, label = '', key = '') => {
    if (done >= total && ended.has(key)) return;
    ended.delete(key); // going again (a run retried from its last epoch)
    const lane = lanes.get(key) ?? { done, total, label, since: { at: now(), done } };
    Object.assign(lane, { done, total, label });
    lanes.set(key, lane);
    if (done >= total) {
      write(line(lane, key));
      lanes.delete(key);
      ended.add(key);
      poolDue = key !== POOL_LANE && lanes.has(POOL_LANE);
    } else if (key === POOL_LANE && poolDue) {
      poolDue = false; // the job's line, with the run that just ended counted (the pool reports right after its run)
      write(line(lane, key));
    } else if (now() - lastPrint >= everyMs) {
      lastPrint = now();
      for (const [each, eachLane] of lanes) write(line(eachLane, each));
    }
  };
  return {
    update,
    onKernelProgress: (event) => update(event.done, event.total, event.stage),
    log: (text) => write(`${text}\n`),
    stop: () => lanes.clear(),
  };
}

/** 2h 05m, 3m 10s, 42s; "unknown" before a rate is known. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const sec = seconds % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  return m ? `${m}m ${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

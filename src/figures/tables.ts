/** The tables of a figure, made from its JSON (figure-data.ts) alone: the summary per approach and every seed's own
 * numbers with the sources it was built on. */
import { table } from '../results/document.js';
import type { ApproachData, FigureData, SeedRun, SourceInfo } from './figure-data.js';

const pct = (x: number | null | undefined) => (x !== null && x !== undefined && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** Seeds and epochs as a table shows them: "3" and "100" when all is done, else e.g. "2 of 3" and "100, 47 (of 100)". */
function progressCells({ seeds, epochs, runs }: ApproachData): [string, string] {
  const lengths = runs.map((r) => r.test_accuracy.length);
  const ran = new Set(lengths).size === 1 ? String(lengths[0]) : lengths.join(', ');
  const diverged = runs.filter((r) => r.diverged).map((r) => `seed ${r.seed} diverged at epoch ${r.diverged!.epoch}, left out`);
  const counted = runs.length - diverged.length;
  const seedCell = `${counted === seeds ? String(seeds) : `${counted} of ${seeds}`}${diverged.length ? ` (${diverged.join('; ')})` : ''}`;
  return [seedCell, runs.every((r) => r.complete) ? ran : `${ran} (of ${epochs})`];
}

/** The last point of a mean curve; while runs are in progress it says over how many seeds and at which epoch. */
function finalCell(point: ApproachData['final'], complete: boolean): string {
  if (!point) return 'n/a';
  if (point.seeds === 1) return `${pct(point.mean)}, 1 seed at epoch ${point.epoch}`;
  return `${pct(point.mean)} (95% CI ${pct(point.low)}-${pct(point.high)})${complete ? '' : `, ${point.seeds} seeds at epoch ${point.epoch}`}`;
}

export function summaryTable(data: FigureData): string {
  return table(
    ['approach', 'seeds', 'epochs', 'final test accuracy', 'best test accuracy (+- 95% CI)', ...data.accuracies.map((acc) => `epochs to ${pct(acc)}`)],
    data.approaches.map((a) => [
      a.label,
      ...progressCells(a),
      finalCell(a.final, data.complete),
      a.best.n === 1 ? `${pct(a.best.mean)}, 1 seed` : `${pct(a.best.mean)} +- ${pct(a.best.ci95)}${data.complete ? '' : ` (${a.best.n} seeds)`}`,
      ...a.reach.map((epochs) => (epochs === null ? 'not reached' : String(epochs))),
    ]),
  );
}

/** A source of the run's own seed, as every run had before sources took seed s + 1000 (src/runs/sources.ts): the same
 * seed builds the same initial weights, so a fresh column of the run began at the source's. */
const ofOwnSeed = (source: SourceInfo, run: SeedRun) => source.experiment !== null && source.seed === run.seed;
export const onSourceOfOwnSeed = (run: SeedRun) => run.sources.some((source) => ofOwnSeed(source, run));

function sourceCell(source: SourceInfo, run: SeedRun): string {
  const name = source.experiment ? `${source.experiment} seed ${source.seed}` : source.column;
  const stop = source.stop_reason === 'validation_accuracy' ? ', stopped at its validation target' : '';
  const coupled = ofOwnSeed(source, run) ? `; the run's own seed, so a fresh column of the run began at this column's initial weights` : '';
  return `${name}: validation ${pct(source.validation_accuracy)}, test ${pct(source.test_accuracy)} (epoch ${source.epochs}${stop}${coupled})`;
}

/** Seconds as a person reads a duration: 41 s, 17.1 min, 42.7 h. */
export function duration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  return seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

/** A run's mean epoch time, and for a shortened variant (--epochs) the time its experiment's full length would take. */
function epochTimeCell(run: SeedRun, plannedEpochs: number | undefined): string {
  if (!run.epoch_seconds.length) return 'n/a';
  const mean = run.epoch_seconds.reduce((a, b) => a + b, 0) / run.epoch_seconds.length;
  const full = plannedEpochs !== undefined && plannedEpochs > run.epoch_seconds.length ? `; ${plannedEpochs} epochs: ${duration(mean * plannedEpochs)} projected` : '';
  return `${duration(mean)}${full}`;
}

function seedRow(approach: ApproachData, run: SeedRun): string[] {
  const last = run.test_accuracy.length - 1;
  const best = Math.max(...run.test_accuracy);
  return [
    approach.label,
    String(run.seed),
    `${run.test_accuracy.length}${run.complete ? '' : ' (unfinished)'}${run.diverged ? ` (diverged at ${run.diverged.epoch})` : ''}`,
    pct(run.test_accuracy[last]),
    `${pct(best)} (epoch ${run.test_accuracy.indexOf(best) + 1})`,
    pct(run.validation_accuracy[last]),
    epochTimeCell(run, approach.planned_epochs),
    run.sources.length ? run.sources.map((source) => sourceCell(source, run)).join('; ') : '-',
  ];
}

/** Every seed of every approach: its last and best test accuracy, its validation accuracy, its source columns. */
export function seedsTable(data: FigureData): string {
  return table(
    ['approach', 'seed', 'epochs', 'final test accuracy', 'best test accuracy', 'final validation accuracy', 'time per epoch', 'source columns (at their last epoch)'],
    data.approaches.flatMap((a) => a.runs.map((run) => seedRow(a, run))),
  );
}

/** `pladder figure FILE`: one of the paper's comparison figures, with every experiment it needs. */
import { kernelFor } from '../bridge/index.js';
import { makeFigures } from '../figures/make.js';
import { loadFigure } from '../figures/schema.js';
import { DivergedError } from '../runs/experiment.js';
import { UsageError } from './exit.js';
import { planCommand } from './plan.js';
import { submitToSlurm } from './slurm.js';
import { progressBar } from './progress.js';
import { barEvents, parseTrainingArgs } from './training-options.js';

/** `submitAs`: the command that --slurm's last stage runs (`reproduce` submits its figures and then itself), and
 * `typed`, its arguments as typed. */
export async function figureCommand(args: string[], submitAs = 'figure', typed = args): Promise<void> {
  const parsed = parseTrainingArgs(args, { noTrain: true });
  const { positionals, experiment: options, where, noTrain } = parsed;
  if (positionals.length === 0) throw new UsageError('figure: which figure? e.g. pladder figure experiments/figure5.yaml [--quick]');
  const figures = positionals.map((file) => loadFigure(file));
  const files = [...new Set(figures.flatMap((figure) => figure.experiments.map((e) => e.file)))];
  if (parsed.plan) return planCommand(submitAs, files, parsed);
  if (parsed.slurm) {
    const own = submitAs === 'figure' ? positionals : [];
    return submitToSlurm(submitAs, files, { ...parsed, positionals: own, slurm: parsed.slurm }, typed);
  }
  const kernel = kernelFor(options.device);
  const bar = progressBar(figures.map((figure) => figure.name).join('+'));
  try {
    const made = await makeFigures(kernel, figures, where, { ...options, noTrain }, barEvents(bar));
    bar.stop();
    for (const { figure, table, files, json } of made) {
      console.log(`${figure.title}\n\n${table}\n\nPaper: ${figure.paper}\nfigure: ${files.svg} (and .png), numbers: ${json}\n`);
    }
    const diverged = made.flatMap((m) => m.diverged);
    if (diverged.length) throw new DivergedError(`${diverged.length} run(s) diverged (the loss became NaN or infinite); the figures show them as diverged and leave them out of every mean:\n${diverged.map((line) => `  ${line}`).join('\n')}\nLower training.learning_rate and start them over with --fresh.`);
  } finally {
    bar.stop();
  }
}

/** `pladder figure FILE`: one of the paper's comparison figures, with every experiment it needs. */
import { kernelFor } from '../bridge/index.js';
import { loadExperiment } from '../experiments/load.js';
import { makeFigure } from '../figures/make.js';
import { loadFigure } from '../figures/schema.js';
import { runExperiments } from '../runs/experiment.js';
import { UsageError } from './exit.js';
import { progressBar } from './progress.js';
import { barEvents, parseTrainingArgs } from './training-options.js';

export async function figureCommand(args: string[]): Promise<void> {
  const { positionals, experiment: options, where } = parseTrainingArgs(args);
  if (positionals.length === 0) throw new UsageError('figure: which figure? e.g. pladder figure experiments/figure5.yaml [--quick]');
  const kernel = kernelFor(options.device);
  const figures = positionals.map((file) => loadFigure(file));
  const files = [...new Set(figures.flatMap((figure) => figure.experiments.map((entry) => entry.file)))];
  if ((options.parallel ?? 1) > 1 && figures.length > 1) {
    // One pool for the runs of all the figures, so that none waits for another figure's last run.
    const bar = progressBar('runs');
    try {
      await runExperiments(kernel, files.map((file) => loadExperiment(file)), where, options, barEvents(bar));
    } finally {
      bar.stop();
    }
  }
  for (const figure of figures) {
    const bar = progressBar(figure.name);
    try {
      const made = await makeFigure(kernel, figure, where, options, barEvents(bar));
      bar.stop();
      console.log(`${figure.title}\n\n${made.table}\n\nPaper: ${figure.paper}\nfigure: ${made.files.svg} (and .png), numbers: ${made.json}`);
    } finally {
      bar.stop();
    }
  }
}

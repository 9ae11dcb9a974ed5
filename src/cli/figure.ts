/** `pladder figure FILE`: one of the paper's comparison figures, with every experiment it needs. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kernelFor } from '../bridge/index.js';
import { resolveDataLocation } from '../data/index.js';
import { makeFigure } from '../figures/make.js';
import { loadFigure } from '../figures/schema.js';
import { UsageError } from './exit.js';
import { progressBar } from './progress.js';

export async function figureCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      seeds: { type: 'string' },
      device: { type: 'string', default: 'auto' },
      quick: { type: 'boolean', default: false },
      'runs-dir': { type: 'string', default: 'runs' },
      'data-dir': { type: 'string' },
    },
  });
  if (positionals.length === 0) throw new UsageError('figure: which figure? e.g. pladder figure experiments/figure5.yaml [--quick]');
  const seeds = values.seeds?.split(',').map(Number);
  if (seeds?.some((s) => !Number.isInteger(s) || s < 0)) throw new UsageError(`--seeds ${values.seeds}: a comma-separated list of whole numbers >= 0`);
  const kernel = kernelFor(values.device);
  const where = resolveDataLocation(values['data-dir']);
  for (const file of positionals) {
    const figure = loadFigure(file);
    const bar = progressBar(figure.name);
    try {
      const made = await makeFigure(
        kernel,
        figure,
        where,
        { runsDir: path.resolve(values['runs-dir']), device: values.device, quick: values.quick, ...(seeds ? { seeds } : {}) },
        { progress: (done, total, label) => bar.update(done, total, label), log: (line) => bar.log(line) },
      );
      bar.stop();
      console.log(`${figure.title}\n\n${made.table}\n\nPaper: ${figure.paper}\nfigure: ${made.files.svg} (and .png), numbers: ${made.json}`);
    } finally {
      bar.stop();
    }
  }
}

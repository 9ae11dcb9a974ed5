#!/usr/bin/env node
/** The `pladder` command line. */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { BENCHMARKS, runBench } from '../bench/main.js';
import { gitCommit } from '../provenance/machine.js';
import { stopAllKernels } from '../bridge/index.js';
import { dataCommand } from './data.js';
import { doctor, formatDoctor } from './doctor.js';
import { checkEnvironment } from './environment.js';
import { figureCommand } from './figure.js';
import { PAPER_FIGURES } from '../figures/schema.js';
import { reportInterruptions } from './interrupt.js';
import { reportAndExitCode, UsageError } from './exit.js';
import { recordCommand } from './record.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { statusCommand, taskCommand } from './slurm.js';

const USAGE = `usage: pladder <command> [options]

commands:
  doctor [--device D] [--json] [--data-dir DIR]
                                   the interpreter, torch, the device and its speed, the datasets found
  run FILE... [--seeds 1,2,3] [--epochs N] [--labels N|all] [--quick] [--fresh|--continue] [--runs-dir runs]
           [--devices LIST] [--parallel N] [--threads N] [--[no-]batch-seeds] [--allow-divergence] [--slurm ...]
                                   train experiments, one run directory per seed, then each one's aggregate;
                                   --epochs/--labels: a variant with its own length / target label budget;
                                   --devices cuda:0,cuda:1: the devices the runs are spread over (default: every
                                   visible GPU, else the CPU); --parallel N: N runs side by side on each device, each
                                   its own process (default: 1 per GPU, one per core on the CPU); --threads N: CPU
                                   threads of each (default: the cores shared evenly); a run that crashes is retried
                                   once while the others go on (exit 6 if it fails again); --batch-seeds: the
                                   unfinished seeds of an experiment as one job (fc: one batched network; on the
                                   CPU the seeds in threads, conv models too);
                                   default: on the CPU where more runs than cores would wait (README, "Seeds together");
                                   unfinished runs are refused: --continue goes on from their last epoch, --fresh restarts;
                                   a run whose loss turns NaN/infinite ends as diverged (exit 5) unless --allow-divergence;
                                   --slurm: submit instead, one job array per stage (sources, targets, then this
                                   command to aggregate/draw) with --partition P --gpus-per-task N --cpus-per-task N
                                   --time T --sbatch-args '...'; submitting again skips complete runs;
                                   --plan: train nothing, list the job's runs (sources too) and the time they take
                                   here, from the epochs measured in the runs directory
  run --resume DIR                 continue a run from its last complete epoch
  figure FILE... [--quick] [--epochs N] [--labels N|all] [--no-train] [--plan] [--slurm ...] [run's other options:
           --seeds, --runs-dir, --devices, --parallel, --threads, --[no-]batch-seeds, --fresh|--continue,
           --allow-divergence]
                                   a paper figure (experiments/figure5.yaml, figure7.yaml): runs what it needs,
                                   then SVG + PNG + table in figures/ (and docs/results.md for full runs);
                                   --no-train: draw from the runs as they stand, finished or not, training nothing
  data [--data-dir DIR] [--json]   each dataset: location, counts, checksum status, cache status
  data show NAME [--split S] [--count N] [--seed N] [--out FILE.png]
                                   a contact sheet of samples with their labels
  data download svhn [--split S] [--mirror URL]
                                   SVHN format 2 from the official site or a mirror (resumable, md5-checked)
  record DIR [--section ID] [--note TEXT] [--doc FILE]
                                   an experiment's runs (e.g. runs/ladder-mnist100, complete or not) as a section
                                   of docs/results.md: commands, machine, commit, errors by epoch, seeds' summary
  report [--out DIR] [--figures DIR]
                                   the paper reproduced, from the figures as they stand: docs/report/report.html
                                   (self-contained) and report.md, each claim of the paper with our verdict
  bench [--device D] [--only NAME] benchmarks, recorded in docs/results.md (NAME: bridge, data, ladder, seeds)
  reproduce [figure's options]     reproduce the paper: Figures 5, 6, 7, the conv Gamma-model, the conv transfer and the
                                   progressive AlexNet (not with --quick), then the report (--slurm: on a cluster;
                                   --plan: its time here, recorded in docs/results.md once every run is measured)
  status [DIR] [--json]            where the job submitted with --slurm into runs directory DIR (default runs) stands
  task PLAN STAGE INDEX            one task of a submitted job (Slurm runs it)

options:
  --device D     auto (default: CUDA when present), cpu, cuda, cuda:N
  --data-dir DIR datasets; else PLADDER_DATA, ./data, ../shared/data (view cache: PLADDER_CACHE or .cache/views)
`;

type Command = (args: string[]) => Promise<void>;

const ALEXNET_FIGURE = 'experiments/figure-alexnet.yaml';
/** The project's own files, wherever reproduce is run from (runs go to --runs-dir, by default ./runs, as for run). */
const inProject = (file: string) => path.join(PROJECT_ROOT, file);

const commands: Record<string, Command> = {
  async doctor(args) {
    const { values } = parseArgs({ args, options: { device: { type: 'string', default: 'auto' }, json: { type: 'boolean', default: false }, 'data-dir': { type: 'string' } } });
    const report = await doctor(values.device, values['data-dir']);
    console.log(values.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
  },
  data: dataCommand,
  run: runCommand,
  figure: figureCommand,
  record: recordCommand,
  report: reportCommand,
  status: async (args) => statusCommand(args),
  task: (args) => taskCommand(args, dispatch),
  async bench(args) {
    const { values } = parseArgs({ args, options: { device: { type: 'string', default: 'auto' }, only: { type: 'string' } } });
    const known: readonly string[] = BENCHMARKS;
    if (values.only && !known.includes(values.only)) throw new UsageError(`--only ${values.only}: no such benchmark; choose one of ${known.join(', ')}`);
    await runBench({ device: values.device, ...(values.only ? { only: values.only } : {}) });
  },
  async reproduce(args) {
    // The paper's figures, each with every experiment it needs: the fully-connected columns (5, 6, 7), then the
    // convolutional Gamma-model, the conv transfer and the progressive AlexNet. --quick leaves the AlexNet out: its
    // pool5 features of MNIST-M take about 9 minutes on 2 CPU cores, once (`make figure-alexnet QUICK=1` after that).
    const quick = args.includes('--quick');
    const figures = PAPER_FIGURES.map((name) => `experiments/${name}.yaml`).filter((file) => !quick || file !== ALEXNET_FIGURE).map(inProject);
    if (quick) console.log(`reproduce --quick: ${ALEXNET_FIGURE} is left out (its AlexNet features are computed once, about 9 minutes on 2 idle CPU cores): bin/pladder figure ${ALEXNET_FIGURE} --quick draws it`);
    if (args.includes('--slurm') || args.includes('--plan')) return figureCommand([...figures, ...args], 'reproduce', args);
    await figureCommand([...figures, ...args]);
    await reportCommand(args.includes('--quick') ? ['--out', inProject('docs/report/quick'), '--figures', inProject('figures/quick')] : []);
  },
};

/** Runs one command line (a Slurm task's). */
async function dispatch(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : commands[name];
  if (!command) throw new UsageError(`unknown command '${name ?? ''}'`);
  await command(rest);
}

/** The commands that take the shared options (--device, --data-dir); the others refuse them. */
const TAKES_SHARED_OPTIONS = new Set(['run', 'figure', 'reproduce', 'doctor', 'data']);

/** One command's lines of the usage (its entries, with their continuation lines), and the shared options it takes. */
function commandUsage(name: string): string {
  const lines = USAGE.split('\n');
  const own: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (/^ {2}\S/.test(line)) inside = line.startsWith(`  ${name} `) || line === `  ${name}`;
    else if (!/^ {3,}\S/.test(line)) inside = false;
    if (inside) own.push(line);
  }
  const shared = TAKES_SHARED_OPTIONS.has(name) ? `\n\n${USAGE.slice(USAGE.indexOf('options:'))}` : '\n';
  return `usage: pladder ${name}${TAKES_SHARED_OPTIONS.has(name) ? ' [options]' : ''}\n\n${own.join('\n')}${shared}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (command && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(commandUsage(name));
    return 0;
  }
  reportInterruptions();
  void gitCommit(); // read now: the commit of the code this process loaded, whatever is committed while it runs
  try {
    if (!command) throw new UsageError(`unknown command '${name}'\n\n${USAGE}`);
    checkEnvironment();
    await command(rest);
    // `pladder task` reports its command's failure itself and leaves the code here: Slurm must see it (afterok)
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      return reportAndExitCode(new UsageError(`${name}: ${error.message}`));
    }
    return reportAndExitCode(error);
  } finally {
    await stopAllKernels();
  }
}

process.exitCode = await main(process.argv.slice(2));

/** Careless and hostile command lines and files: each ends in a message naming what is wrong, exit code 2, no stack
 * trace, and within a second or two (no kernel is started for any of them). */
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportAndExitCode } from '../../src/cli/exit.js';
import { pladder } from '../helpers/cli.js';
import { tinyExperimentFile } from '../helpers/experiments.js';

const noStackTrace = (stderr: string) => {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toContain('Traceback');
};

async function refused(args: string[], message: string | RegExp, env: NodeJS.ProcessEnv = {}) {
  const started = Date.now();
  const result = await pladder(args, env);
  expect(result.exitCode, result.stderr).toBe(2);
  expect(result.stderr).toMatch(message);
  noStackTrace(result.stderr);
  return Date.now() - started;
}

describe('bad paths are refused before any work', () => {
  const { file } = tinyExperimentFile();
  it.each([
    ['/etc/passwd/x', /\/etc\/passwd is a file/],
    ['/dev/null/x', /\/dev is a kernel pseudo-filesystem/],
    ['/sys/x', /\/sys is a kernel pseudo-filesystem/],
    ['/proc/x', /\/proc is a kernel pseudo-filesystem/],
    ['', /--runs-dir is empty/],
  ])('--runs-dir %j', async (dir, message) => {
    const ms = await refused(['run', file, '--quick', '--runs-dir', dir], message);
    expect(ms).toBeLessThan(10_000); // about 1 s of it is starting Node with TypeScript; /proc once spun forever
  });
});

describe('the other commands\' output paths, and the file system refusing one anyway', () => {
  const aFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pladder-out-')), 'a-file');
  writeFileSync(aFile, '');
  it.each([
    [['report', '--out', '/proc/x'], /--out \/proc\/x: \/proc is a kernel pseudo-filesystem/],
    [['report', '--out', aFile], /--out .*a-file: this is a file, not a directory/],
    [['data', 'show', 'mnist', '--out', path.join(aFile, 'x.png')], /--out .*a-file: this is a file, not a directory \(the picture's folder\)/],
    [['record', 'runs/x', '--doc', '/proc/y/results.md'], /--doc \/proc\/y: \/proc is a kernel pseudo-filesystem/],
  ])('%j', async (args, message) => {
    expect(await refused(args, message)).toBeLessThan(10_000); // report --out /proc/x once spun forever in Node's mkdir
  });
  it('a path the file system refuses is named, with what to fix, and no stack trace', () => {
    // Every folder a command writes is checked first (PLADDER_EXCHANGE_DIR a file, which this once reached, is refused
    // by src/cli/environment.ts now); what the file system still refuses is reported by the last resort, given here
    // the error Node itself throws.
    let thrown: unknown;
    try {
      mkdirSync(path.join(aFile, 'pladder-1-cpu'), { recursive: true });
    } catch (error) {
      thrown = error;
    }
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((text: string) => written.push(text) > 0) as typeof process.stderr.write;
    try {
      expect(reportAndExitCode(thrown)).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(written.join('')).toMatch(/a-file.*: part of this path is a file, not a folder \(mkdir: ENOTDIR\)/);
    noStackTrace(written.join(''));
  });
});

describe('command-line values', () => {
  const { file } = tinyExperimentFile();
  it.each([
    [['--seeds', ''], /--seeds '': a comma-separated list/],
    [['--seeds', '1,,2'], /--seeds '1,,2': a comma-separated list/],
    [['--seeds', '1,1'], /seed 1 is named twice/],
    [['--parallel', '1000'], new RegExp(`more than this machine's ${os.availableParallelism()} CPU cores`)],
    [['--parallel', '-2'], /--parallel -2: runs side by side on each device/],
    [['--devices', 'gpu0'], /--devices gpu0: 'gpu0' is not a device/],
    [['--devices', 'cuda:0,cuda:0'], /cuda:0 is named twice; name each device once and set --parallel N/],
    [['--devices', 'cpu', '--device', 'cpu'], /--device cpu and --devices cpu: choose one/],
    [['--device', 'tpu', '--plan'], /--device tpu: not a device; auto, cpu, cuda or cuda:N/], // --plan starts no kernel to refuse it
    [['--threads', '0'], /--threads 0: CPU threads for each run/],
    [['--partition', 'gpu'], /--partition is an option of --slurm/],
    [['--epochs', '-3'], /--epochs -3: a whole number of epochs/],
  ])('%j', async (args, message) => {
    await refused(['run', file, '--quick', ...args], message);
  });

  it('every command answers --help and -h with its usage', async () => {
    const asked = ['run', 'figure', 'data', 'record', 'doctor', 'bench', 'reproduce', 'status'].map((command) => [command, '--help']);
    for (const [command, flag] of [...asked, ['run', '-h']] as [string, string][]) {
      {
        const result = await pladder([command, flag]);
        expect(result.exitCode, `${command} ${flag}: ${result.stderr}`).toBe(0);
        expect(result.stdout).toContain(`usage: pladder ${command}`);
        // The shared options only where the command takes them (record and status refused --device it listed).
        expect(result.stdout.includes('--data-dir DIR datasets')).toBe(!['record', 'status', 'bench'].includes(command));
      }
    }
  }, 60_000);
});

describe('malformed experiment files', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-bad-'));
  it('a YAML alias bomb is refused by the YAML reader, with the file', async () => {
    const bomb = path.join(dir, 'bomb.yaml');
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].entries()) {
      const previous = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    writeFileSync(bomb, `${levels.join('\n')}\nname: bomb\n`);
    await refused(['run', bomb], new RegExp(`${bomb}:1:1 YAML: Excessive alias count`));
  });

  it('a huge file, a device, a FIFO or a folder is refused before it is read', async () => {
    const huge = path.join(dir, 'huge.yaml');
    writeFileSync(huge, 'name: huge\n');
    truncateSync(huge, 3 << 20); // sparse: 3 MiB that take no disk; read whole, 300 MB exhausted Node's heap
    const fifo = path.join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]); // read with no writer, it blocked forever, deaf to SIGTERM
    await refused(['run', huge], new RegExp(`${huge} is 3145728 bytes, too large for an input file`));
    await refused(['run', '/dev/zero'], /\/dev\/zero is not a regular file \(a device, FIFO or socket\)/); // once 16 GB of heap
    await refused(['run', fifo], new RegExp(`${fifo} is not a regular file`));
    await refused(['run', dir], new RegExp(`${dir} is a directory; give the experiment's YAML file`));
  }, 30_000);

  it('a file that is not UTF-8 is refused at its first bad byte (it was read with the byte turned into U+FFFD)', async () => {
    const latin1 = path.join(dir, 'latin1.yaml');
    writeFileSync(latin1, Buffer.concat([Buffer.from('name: caf'), Buffer.from([0xe9]), Buffer.from('\nmodel: { architecture: ladder }\n')]));
    await refused(['run', latin1], new RegExp(`${latin1} is not UTF-8 text \\(at byte 9\\); save it as UTF-8`));
  });

  it('an empty file says so, with a real location', async () => {
    const empty = path.join(dir, 'empty.yaml');
    writeFileSync(empty, '');
    const result = await pladder(['run', empty]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`${empty}:1:1 the file is empty`);
    expect(result.stderr).not.toContain(':?');
  });
});

describe('run --resume on something that is not a run directory', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pladder-resume-'));
  const aFile = path.join(root, 'file.txt');
  writeFileSync(aFile, 'x');
  const experimentFolder = path.join(root, 'runs', 'tiny');
  mkdirSync(path.join(experimentFolder, 'seed-1'), { recursive: true });
  writeFileSync(path.join(experimentFolder, 'seed-1', 'config.json'), '{}');
  it.each([
    [path.join(root, 'missing'), /missing does not exist; give the directory of one seed's run/],
    [aFile, /file.txt is a file, not a run directory/],
    [experimentFolder, /is an experiment's folder, not one run: resume one of its seeds \(.*seed-1\)/],
    [path.join(experimentFolder, 'seed-1'), /config.json is not a valid run configuration/],
  ])('%s', async (dir, message) => {
    await refused(['run', '--resume', dir], message);
  });
});

describe('more careless input: each refused by name, exit 2', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-careless-'));
  const experiment = (name: string, training = 'epochs: 1, iterations_per_epoch: 5') => {
    const file = path.join(dir, `${name.slice(0, 20)}-${training.length}.yaml`);
    writeFileSync(file, [`name: ${name}`, 'model: { architecture: mlp }', 'data: { dataset: mnist, labels: 100 }', `training: { ${training} }`, 'seeds: [1]'].join('\n'));
    return file;
  };

  it('an experiment name too long for a folder name says the limit', async () => {
    const file = experiment('a'.repeat(300));
    await refused(['run', file, '--quick', '--device', 'cpu', '--runs-dir', path.join(dir, 'runs')], new RegExp(`${file}:1:7 name: at most 100 characters`));
  });

  it('a learning rate of .inf or .nan must be a finite number', async () => {
    for (const value of ['.inf', '-.inf', '.nan']) {
      const file = experiment('finite', `epochs: 1, learning_rate: ${value}`);
      await refused(['run', file], new RegExp(`training.learning_rate: must be a finite number; got ${value.replace('.', '\\.')}$`, 'm'));
    }
  });

  it('a YAML file holding only comments gets the empty-file message', async () => {
    const file = path.join(dir, 'comments.yaml');
    writeFileSync(file, '# nothing here yet\n\n# name: later\n');
    await refused(['run', file], new RegExp(`${file}:1:1 the file is empty \\(it holds only comments\\)`));
  });

  it('record --doc a folder', async () => {
    await refused(['record', 'runs/x', '--doc', dir], /--doc .*: this is a folder; give a file name/);
  });

  it('data --data-dir a file, and data show --out a picture of another format', async () => {
    await refused(['data', '--data-dir', '/etc/passwd'], /--data-dir \/etc\/passwd: this is a file, not a folder/);
    await refused(['run', 'x.yaml', '--data-dir', '/etc/passwd'], /--data-dir \/etc\/passwd: this is a file, not a folder/);
    await refused(['data', 'show', 'mnist', '--out', path.join(dir, 'x.jpg')], /--out .*x\.jpg: the file is written as PNG; give a name ending in \.png/);
  });

  it('run --resume refuses the options it does not use, naming them', async () => {
    await refused(['run', '--resume', dir, '--epochs', '2', '--labels', '1000', '--seeds', '5'], /run --resume: --epochs, --labels, --seeds are not used when resuming/);
    await refused(['run', '--resume', dir, '--quick'], /run --resume: --quick is not used when resuming/);
  });
});

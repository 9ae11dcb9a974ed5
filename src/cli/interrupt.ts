/** Ctrl-C (SIGINT) or SIGTERM during a command: say what each run in progress keeps and how to go on, remove what
 * holds nothing (a run stopped before its first epoch), and end with 128 + the signal's number. */
import { rmSync } from 'node:fs';
import { activeRuns } from '../runs/runner.js';

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

export function reportInterruptions(write: (text: string) => void = (text) => process.stderr.write(text)): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      const lines = [...activeRuns].map((dir) => {
        const epochs = dir.readMetrics().length;
        if (!dir.hasProgress()) {
          rmSync(dir.dir, { recursive: true, force: true });
          return `  ${dir.dir}: stopped before its first epoch ended; nothing kept (the same command starts it again)`;
        }
        return `  ${dir.dir}: ${epochs} complete epoch(s) saved; continue it with the same command and --continue (or 'bin/pladder run --resume ${dir.dir}')`;
      });
      write(`\npladder: stopped by ${signal}.${lines.length ? `\n${lines.join('\n')}` : ' No run was in progress.'}\n`);
      process.exit(SIGNAL_EXIT[signal]); // 'exit' handlers end the kernels and release the run locks
    });
  }
}

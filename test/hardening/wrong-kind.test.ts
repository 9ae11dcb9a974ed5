/** An experiment given to `figure`, or a figure given to `run` (both live in experiments/): exit 2 with the one
 * problem and the command that takes the file, not every field the two kinds do not share. */
import { describe, expect, it } from 'vitest';
import { pladder } from '../helpers/cli.js';

describe('a file of the other kind', () => {
  it('figure FILE of an experiment says to run it', async () => {
    const result = await pladder(['figure', 'experiments/ladder-mnist100.yaml', '--plan']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("experiments/ladder-mnist100.yaml:1:1 this is an experiment, not a figure: train it with 'bin/pladder run experiments/ladder-mnist100.yaml'");
    expect(result.stderr).not.toContain('unknown key');
  });

  it('run FILE of a figure says to draw it', async () => {
    const result = await pladder(['run', 'experiments/figure5.yaml', '--plan']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("experiments/figure5.yaml:1:1 this is a figure, not an experiment: draw it with 'bin/pladder figure experiments/figure5.yaml'");
    expect(result.stderr).not.toContain('unknown key');
  });
});

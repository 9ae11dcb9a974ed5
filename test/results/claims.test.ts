/** The paper's claims are judged on the seeds that finished: a seed stopped part way is left out, not compared at
 * another epoch than the others. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFigureData } from '../../src/figures/figure-data.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { judgeClaims } from '../../src/results/claims.js';

describe('claims on a figure with a seed still training', () => {
  it('judge the finished seeds only, and say how many', () => {
    const full = readFigureData(path.join(PROJECT_ROOT, 'figures', 'figure5.json'));
    const [finished] = judgeClaims(full, undefined, undefined);
    expect(finished!.ours).toMatch(/^transfer-mnistm-ladder-sup: [\d.]+% \([\d.]+%-[\d.]+%, 3 seeds\)/);
    // seed 3 of the progressive ladder network stopped after its first epoch, far below the others
    const partial = structuredClone(full);
    const ladder = partial.approaches.find((a) => a.experiment === 'transfer-mnistm-ladder-sup')!;
    const seed3 = ladder.runs.find((r) => r.seed === 3)!;
    seed3.complete = false;
    seed3.test_accuracy = seed3.test_accuracy.slice(0, 1);
    const [judged] = judgeClaims(partial, undefined, undefined);
    expect(judged!.ours).toMatch(/^transfer-mnistm-ladder-sup: [\d.]+% \([\d.]+%-[\d.]+%, 2 seeds\)/);
    const lowest = (text: string) => Number(/\(([\d.]+)%-/.exec(text)![1]);
    expect(lowest(judged!.ours)).toBeGreaterThan(100 * seed3.test_accuracy[0]!); // its epoch-1 accuracy is not in the range
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentError, loadExperiment, parseExperiment } from '../../src/experiments/load.js';

const VALID = `name: tiny
model:
  architecture: ladder
data:
  dataset: mnist
  labels: 100
training:
  epochs: 3
`;

function problems(text: string) {
  try {
    parseExperiment(text, 'exp.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ExperimentError);
    return (error as ExperimentError).problems;
  }
  throw new Error('expected the experiment to be refused');
}

describe('experiment files', () => {
  it('fills the explicit defaults of the recipe', () => {
    const experiment = parseExperiment(VALID);
    expect(experiment.model).toEqual({
      architecture: 'ladder',
      widths: [784, 1000, 500, 250, 250, 250, 10],
      noise_std: 0.3,
      denoising_weights: [1000, 10, 0.1, 0.1, 0.1, 0.1, 0.1],
      gamma_only: false,
    });
    expect(experiment.training).toMatchObject({ epochs: 3, iterations_per_epoch: 600, labeled_batch: 100, unlabeled_batch: 100, learning_rate: 0.002 });
    expect(experiment.seeds).toEqual([1]);
  });

  it('loads the shipped experiments', () => {
    expect(loadExperiment('experiments/ladder-mnist100.yaml').training.epochs).toBe(150);
  });

  it('refuses an unknown key, with its line and a suggestion', () => {
    const [problem] = problems(VALID.replace('  epochs: 3', '  epochs: 3\n  learning_rat: 0.1'));
    expect(problem).toMatchObject({ path: 'training', line: 9 });
    expect(problem?.message).toContain("unknown key 'learning_rat' (did you mean 'learning_rate'?)");
  });

  it('refuses a wrong type', () => {
    const [problem] = problems(VALID.replace('  architecture: ladder', '  architecture: ladder\n  noise_std: lots'));
    expect(problem).toMatchObject({ path: 'model.noise_std', line: 4 });
    expect(problem?.message).toMatch(/expected number/);
    expect(problem?.message).toContain('"lots"');
  });

  it('refuses negative epochs', () => {
    const [problem] = problems(VALID.replace('epochs: 3', 'epochs: -5'));
    expect(problem).toMatchObject({ path: 'training.epochs', line: 8 });
    expect(problem?.message).toMatch(/>0/);
  });

  it('refuses a label count not divisible by the classes', () => {
    const [problem] = problems(VALID.replace('labels: 100', 'labels: 105'));
    expect(problem).toMatchObject({ path: 'data.labels', line: 6 });
    expect(problem?.message).toContain('divisible by the 10 classes');
  });

  it('refuses a missing required field and broken YAML', () => {
    expect(problems(VALID.replace('  epochs: 3\n', '  labeled_batch: 50\n'))[0]).toMatchObject({ path: 'training.epochs', message: expect.stringContaining('missing') });
    expect(problems('name: [unclosed\n')[0]?.message).toMatch(/^YAML:/);
  });

  it('names the file in the message', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'exp-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, VALID.replace('epochs: 3', 'epochs: 0'));
    expect(() => loadExperiment(file)).toThrow(`${file}:8:11 training.epochs`);
    expect(() => loadExperiment(path.join(dir, 'missing.yaml'))).toThrow(/cannot read the file \(ENOENT\)/);
  });
});

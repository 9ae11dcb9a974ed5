import { execFileSync } from 'node:child_process';
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

  it('loads the shipped convolutional experiments: the conv Gamma-model and conv progressive columns', () => {
    expect(loadExperiment('experiments/conv-gamma-mnist100.yaml').model).toEqual({ architecture: 'conv_ladder', channels: [32, 64, 64, 128, 10, 10], noise_std: 0.3, denoising_weight: 1 });
    const transfer = loadExperiment('experiments/transfer-mnistm-conv-ladder-sup.yaml').model;
    expect(transfer.architecture === 'progressive' && transfer.columns.map((c) => c.architecture)).toEqual(['conv', 'conv']);
    const baseline = loadExperiment('experiments/transfer-mnistm-conv-baseline.yaml').model;
    expect(baseline.architecture === 'progressive' && [baseline.columns.length, baseline.laterals]).toEqual([1, 'none']);
  });

  it("lists a column's own keys for an unknown one: a conv column has channels, not widths", () => {
    const conv = VALID.replace('  architecture: ladder', '  architecture: progressive\n  columns:\n    - name: target\n      architecture: conv\n      widths: [784, 10]');
    const [problem] = problems(conv);
    expect(problem).toMatchObject({ path: 'model.columns[0]', line: 7 });
    expect(problem?.message).toBe("unknown key 'widths'; allowed here: name, architecture, channels, weights, frozen, batch_norm");
    const unknown = problems(conv.replace('architecture: conv\n      widths: [784, 10]', 'architecture: resnet'));
    expect(unknown[0]).toMatchObject({ path: 'model.columns[0].architecture', line: 6 });
  });

  it("refuses a tag YAML does not define, at its place (!!python/object read as a list: 'expected string, received array')", () => {
    expect(problems(VALID.replace('name: tiny', 'name: !!python/object/apply:os.system ["ls"]'))).toEqual([
      expect.objectContaining({ line: 1, column: 7, message: expect.stringContaining('YAML: Unresolved tag: tag:yaml.org,2002:python/object/apply:os.system') }),
    ]);
  });

  it('names the closest choice for a misspelt architecture or dataset, and lists them all', () => {
    expect(problems(VALID.replace('architecture: ladder', 'architecture: ladderr'))[0]).toMatchObject({
      path: 'model.architecture', message: "unknown value 'ladderr' (did you mean 'ladder'?); one of: ladder, conv_ladder, mlp, progressive" });
    expect(problems(VALID.replace(/dataset: \w+/, 'dataset: svnh'))[0]).toMatchObject({ path: 'data.dataset', message: expect.stringContaining("unknown value 'svnh' (did you mean 'svhn'?); one of: mnist, svhn, mnist-m") });
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

  it('refuses a source column trained from itself, directly or through its own source (it was read forever)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'exp-'));
    const progressive = (name: string, source: string) =>
      [`name: ${name}`, 'model:', '  architecture: progressive', '  columns:',
        `    - { name: src, widths: [784, 64, 10], weights: { from: source, experiment: ${source} }, frozen: true }`,
        '    - { name: tgt, widths: [784, 64, 10] }', '  laterals:', '    - { from: { column: src, layer: 1 }, to: { column: tgt, layer: 2 } }',
        'data: { dataset: mnist, labels: 100 }', 'training: { epochs: 1 }'].join('\n');
    writeFileSync(path.join(dir, 'self.yaml'), progressive('self', 'self.yaml'));
    writeFileSync(path.join(dir, 'a.yaml'), progressive('a', 'b.yaml'));
    writeFileSync(path.join(dir, 'b.yaml'), progressive('b', 'a.yaml'));
    expect(() => loadExperiment(path.join(dir, 'self.yaml'))).toThrow(/self\.yaml:5:\d+ model\.columns\[0\]\.weights\.experiment: self\.yaml is this experiment itself: a column cannot be trained from itself/);
    expect(() => loadExperiment(path.join(dir, 'a.yaml'))).toThrow(/b\.yaml:5:\d+ model\.columns\[0\]\.weights\.experiment: a\.yaml is a source of its own source \(through b\.yaml\)/);
  });

  it("refuses a ladder or MLP whose first width is not the 784 inputs or whose last is not the 10 classes (the kernel's tensor shapes said it)", () => {
    const mlp = (widths: string) => `name: m\nmodel: { architecture: mlp, widths: ${widths} }\ndata: { dataset: mnist, labels: 100 }\ntraining: { epochs: 1 }\n`;
    expect(problems(mlp('[100, 50, 10]'))[0]).toMatchObject({ path: 'model.widths', message: expect.stringContaining('the first width is the input: 784') });
    expect(problems(mlp('[784, 50, 7]'))[0]).toMatchObject({ path: 'model.widths', message: expect.stringContaining('the last layer is the output and needs one unit per class (10), not 7') });
    expect(problems(VALID.replace('architecture: ladder', 'architecture: ladder\n  widths: [784, 50, 9]\n  denoising_weights: [1, 1, 1]'))[0]).toMatchObject({ path: 'model.widths' });
  });

  it("refuses a conv Gamma-model or a progressive network whose output is not the 10 classes (the kernel's label check said it, without the file)", () => {
    const conv = `name: c\nmodel: { architecture: conv_ladder, channels: [4, 4, 4, 4, 10, 5] }\ndata: { dataset: mnist, labels: 100 }\ntraining: { epochs: 1 }\n`;
    expect(problems(conv)).toEqual([expect.objectContaining({ path: 'model.channels', line: 2, message: expect.stringContaining('the last layer is the output and needs one unit per class (10), not 5') })]);
    const progressive = (target: string) => ['name: p', 'model:', '  architecture: progressive', '  columns:', `    - ${target}`, '  laterals: none',
      'data: { dataset: mnist-m, labels: 100 }', 'training: { epochs: 1 }'].join('\n');
    const outputs = [
      ['{ name: t, widths: [784, 50, 5] }', 'widths', 5],
      ['{ name: t, architecture: conv, channels: [4, 4, 4, 4, 10, 12] }', 'channels', 12],
      ['{ name: t, architecture: alexnet, pretrained: false, head: [64, 3] }', 'head', 3],
    ] as const;
    for (const [target, field, units] of outputs) {
      expect(problems(progressive(target))).toEqual([expect.objectContaining({ path: `model.columns[0].${field}`, line: 5,
        message: `the last layer of 't' is the network's output and needs one unit per class (10), not ${units}` })]);
    }
    expect(() => parseExperiment(progressive('{ name: t, widths: [784, 50, 10] }'), 'exp.yaml')).not.toThrow();
  });
});

describe('a column file that is not a regular file', () => {
  it('is refused with its field, before --continue would hash it (a FIFO blocked forever, /dev/zero filled memory)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pladder-column-'));
    const fifo = path.join(dir, 'column.pt');
    execFileSync('mkfifo', [fifo]);
    for (const column of [fifo, '/dev/zero', dir]) {
      const file = path.join(dir, 'target.yaml');
      writeFileSync(file, `name: target
model:
  architecture: progressive
  columns:
    - { name: source, weights: { from: file, path: ${column} }, frozen: true }
    - { name: target }
data: { dataset: mnist-m }
training: { epochs: 1 }
`);
      expect(() => loadExperiment(file)).toThrow(new RegExp(`:5:\\d+ model.columns\\[0\\].weights.path: the column file ${column} is not a regular file`));
    }
  });
});

/** The paper's claims (its section 4.2 and "Analysis and Discussion"), each judged on our figures' JSON: holds, does
 * not hold, or cannot be tested here, with the numbers behind the verdict. A difference "holds" only where the seeds'
 * ranges (lowest to highest seed) do not overlap, or lie wholly on one side of a level the paper names; overlapping
 * ones are "not shown", an honest middle. */
import type { ApsBar } from '../figures/aps-figure.js';
import type { ApproachData, FigureData } from '../figures/figure-data.js';

export type Verdict = 'holds' | 'does not hold' | 'not shown (within the spread of seeds)' | 'not shown (one seed: no spread to judge by)' | 'cannot be tested here';

export interface Claim {
  section: string;
  claim: string;
  paper: string;
  ours: string;
  verdict: Verdict;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/** The seeds a claim is judged on: those that finished (diverged ones and seeds still training left out: a seed
 * stopped part way would be compared at another epoch than the others). */
const finished = (a: ApproachData) => a.runs.filter((r) => r.complete && !r.diverged && r.test_accuracy.length);
/** Final test accuracy of each seed that finished. */
const finals = (a: ApproachData | undefined) => (a ? finished(a).map((r) => r.test_accuracy.at(-1)!) : []);
const range = (values: number[]) => (values.length ? `${pct(Math.min(...values))}-${pct(Math.max(...values))}` : 'n/a');
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** `a` above `b` beyond the seeds' spread: holds; below beyond it: does not hold; else not shown. */
function compare(a: number[], b: number[]): Verdict {
  if (!a.length || !b.length) return 'cannot be tested here';
  if (a.length < 2 || b.length < 2) return 'not shown (one seed: no spread to judge by)';
  if (Math.min(...a) > Math.max(...b)) return 'holds';
  if (Math.max(...a) < Math.min(...b)) return 'does not hold';
  return 'not shown (within the spread of seeds)';
}

const byExperiment = (data: FigureData | undefined, name: string) => data?.approaches.find((a) => a.experiment === name);
/** ", after 20 of 100 epochs" for a shortened variant (--epochs), else nothing: a verdict says how far its runs went. */
const shortened = (a: ApproachData | undefined) => (a?.planned_epochs !== undefined && a.epochs < a.planned_epochs ? `, after ${a.epochs} of ${a.planned_epochs} epochs` : '');
const seedsOf = (values: number[]) => `${values.length} seed${values.length === 1 ? '' : 's'}`;

function accuracyClaim(section: string, claim: string, paper: string, data: FigureData | undefined, better: string, worse: string): Claim {
  const a = finals(byExperiment(data, better));
  const b = finals(byExperiment(data, worse));
  return {
    section,
    claim,
    paper,
    ours: a.length && b.length ? `${better}: ${pct(mean(a))} (${range(a)}, ${seedsOf(a)}); ${worse}: ${pct(mean(b))} (${range(b)}, ${seedsOf(b)})${shortened(byExperiment(data, better))}` : 'no finished runs',
    verdict: compare(a, b),
  };
}

function speedClaim(data: FigureData | undefined): Claim {
  const level = data?.accuracies.indexOf(0.74) ?? -1;
  const reach = (name: string) => {
    const a = byExperiment(data, name);
    return a && level >= 0 ? finished(a).map((r) => r.test_accuracy.findIndex((acc) => acc >= 0.74) + 1 || Infinity) : [];
  };
  const ladder = reach('transfer-mnistm-ladder-sup');
  const supervised = reach('transfer-mnistm-sup-sup');
  const show = (values: number[]) => values.map((v) => (Number.isFinite(v) ? String(v) : 'never')).join(' / ');
  return {
    section: '4.2',
    claim: 'The progressive ladder network reaches 74% test accuracy far sooner than supervised -> supervised',
    paper: '74% within 10 epochs; supervised -> supervised needed 60',
    ours: ladder.length && supervised.length ? `epochs to 74% per seed: progressive ladder ${show(ladder)}, supervised -> supervised ${show(supervised)}` : 'no finished runs',
    verdict: ladder.length && supervised.length ? compare(supervised, ladder) : 'cannot be tested here',
  };
}

/** A collapse (the paper: 77.7% -> 7%) holds where every run without the scalar ends over 10 points below every run
 * with it; it does not hold where none does. */
function collapse(withScalar: number[], without: number[]): Verdict {
  if (!withScalar.length || !without.length) return 'cannot be tested here';
  if (Math.max(...without) < Math.min(...withScalar) - 0.1) return 'holds';
  if (Math.min(...without) >= Math.min(...withScalar) - 0.1) return 'does not hold';
  return 'not shown (within the spread of seeds)';
}

function scalarClaims(data: FigureData | undefined): Claim[] {
  const pairs: [string, string, string][] = [
    ['before the batch norm', 'transfer-mnistm-ladder-sup', 'transfer-mnistm-no-scalar'],
    ['after the batch norm', 'transfer-mnistm-ladder-sup-post-norm', 'transfer-mnistm-no-scalar-post-norm'],
    ['without batch norm (the author\'s setting)', 'transfer-mnistm-ladder-sup-no-bn', 'transfer-mnistm-no-scalar-no-bn'],
  ];
  return pairs.map(([where, scalar, plain]) => {
    // Final accuracies, not the best epoch's: picking an epoch by its test accuracy would select on the test set.
    const withScalar = finals(byExperiment(data, scalar));
    const without = finals(byExperiment(data, plain));
    return {
      section: '4.2, Figure 7',
      claim: `Without the learnable scalar the accuracy collapses (laterals ${where})`,
      paper: '77.7% with the scalar, 7% without',
      ours: withScalar.length && without.length ? `final with the scalar ${pct(mean(withScalar))} (${range(withScalar)}), without ${pct(mean(without))} (${range(without)})` : 'no finished runs',
      // The claim is a collapse: it holds only if the runs without the scalar end far below (beyond the spread).
      verdict: collapse(withScalar, without),
    };
  });
}

function apsClaims(bars: ApsBar[] | undefined, scale: string): Claim[] {
  const bar = (approach: string, column: string, layer: number) => bars?.find((b) => b.scale === scale && b.approach.startsWith(approach) && b.column === column && b.layer === layer);
  const seedValues = (b: ApsBar | undefined) => (b ? b.seeds.flatMap((s) => (s.aps === null ? [] : [s.aps])) : []);
  const show = (b: ApsBar | undefined) => (b && b.mean !== null ? `${b.mean.toFixed(2)} (${b.min!.toFixed(2)}-${b.max!.toFixed(2)}, ${seedsOf(seedValues(b))})` : 'n/a');
  const reused = seedValues(bar('(a)', 'source', 1));
  const claims: Claim[] = [
    {
      section: 'Analysis, Figure 6',
      claim: `The progressive ladder network reuses the source column's layer 1; its target layer 1 is unimportant (noise ${scale})`,
      paper: 'source layer 1 APS high, target layer 1 low',
      ours: `APS of layer 1 in (a): source ${show(bar('(a)', 'source', 1))}, target ${show(bar('(a)', 'target', 1))}`,
      // A share above one half: the source's layer matters more than the target's at that depth, in every seed.
      verdict: reused.length ? (Math.min(...reused) > 0.5 ? 'holds' : Math.max(...reused) < 0.5 ? 'does not hold' : 'not shown (within the spread of seeds)') : 'cannot be tested here',
    },
  ];
  for (const [layers, more, less, text] of [
    [[4, 5], '(b)', '(a)', 'Layers 4 and 5 of the target column matter more in supervised -> supervised than in the progressive ladder network'],
    [[6], '(a)', '(b)', 'Layer 6 of the target column matters more in the progressive ladder network than in supervised -> supervised'],
  ] as const) {
    const verdicts = layers.map((l) => compare(seedValues(bar(more, 'target', l)), seedValues(bar(less, 'target', l))));
    claims.push({
      section: 'Analysis, Figure 6',
      claim: `${text} (noise ${scale})`,
      paper: 'as stated',
      ours: layers.map((l) => `layer ${l}: (a) ${show(bar('(a)', 'target', l))}, (b) ${show(bar('(b)', 'target', l))}`).join('; '),
      verdict: verdicts.every((v) => v === 'holds') ? 'holds' : verdicts.some((v) => v === 'does not hold') ? 'does not hold' : verdicts.find((v) => v !== 'holds')!,
    });
  }
  return claims;
}

/** "X reaches only about `level`": does not hold where every seed ends above it, holds where every seed ends below. */
function levelClaim(section: string, claim: string, paper: string, data: FigureData | undefined, experiment: string, level: number): Claim {
  const a = finals(byExperiment(data, experiment));
  const epochs = byExperiment(data, experiment)?.epochs;
  const ours = a.length ? `${experiment}: ${pct(mean(a))} (${range(a)}, ${seedsOf(a)}, ${epochs} epochs)` : 'no finished runs';
  const verdict: Verdict = !a.length ? 'cannot be tested here' : Math.min(...a) > level ? 'does not hold' : Math.max(...a) < level ? 'holds' : 'not shown (within the spread of seeds)';
  return { section, claim, paper, ours, verdict };
}

/** The paper's transfer claims for its other columns (section 4.2, "Convolutional Networks" and "Progressive
 * AlexNet"), by the figure that tests each: the approach the paper says does better (the baseline) and the one it
 * says does worse (the progressive network). */
const OTHER_TRANSFER_CLAIMS = {
  'figure-conv': {
    claim: 'With convolutional columns the progressive ladder network does poorly: the Gamma-model column does not help the target',
    paper: 'about 50%',
    better: 'transfer-mnistm-conv-baseline',
    worse: 'transfer-mnistm-conv-ladder-sup',
  },
  'figure-alexnet': {
    claim: "The progressive AlexNet does worse than its head alone, because AlexNet's scale does not match the ladder's layers (here: laterals added after the head's batch norm, so scale cannot matter)",
    paper: '30.43%',
    better: 'transfer-mnistm-alexnet-baseline',
    worse: 'transfer-mnistm-alexnet-ladder',
  },
} as const;
export type OtherTransferFigure = keyof typeof OTHER_TRANSFER_CLAIMS;
export const OTHER_TRANSFER_FIGURES = Object.keys(OTHER_TRANSFER_CLAIMS) as OtherTransferFigure[];

/** A claim of section 4.2 judged again where the target has only `labels` labeled examples: its section and its
 * wording say so. */
const atLabels = (labels: number, claim: string) => ({ section: `4.2 (${labels} labels)`, claim: `${claim}, with ${labels} target labels` });

/** The claim `figure` tests; with `labels`, where the target has only that many labeled examples (its label-budget
 * variant, figure-conv[-epochsN]-labelsN), beside the paper's number with every label. */
export function otherTransferClaim(figure: OtherTransferFigure, data: FigureData | undefined, labels?: number): Claim {
  const { claim, paper, better, worse } = OTHER_TRANSFER_CLAIMS[figure];
  if (labels === undefined) return accuracyClaim('4.2', claim, paper, data, better, worse);
  const budget = atLabels(labels, claim);
  return accuracyClaim(budget.section, budget.claim, `${paper} (all SVHN labels)`, data, better, worse);
}

/** The paper's other two columns (section 4.2, "Convolutional Networks" and "Progressive AlexNet"). */
export function otherColumnClaims(convGamma: FigureData | undefined, conv: FigureData | undefined, alexnet: FigureData | undefined): Claim[] {
  return [
    levelClaim('4.2', 'A convolutional ladder network (Gamma-model) reaches only about 82% on MNIST with 100 labels', '82% (its code dropped the denoising cost); Rasmus et al. 99.11%', convGamma, 'conv-gamma-mnist100', 0.82),
    otherTransferClaim('figure-conv', conv),
    otherTransferClaim('figure-alexnet', alexnet),
  ];
}

/** Figure 5's two accuracy claims again where the target has only `labels` labeled examples (figure5-labelsN): the
 * paper's baseline was weak (SVHN), ours with every label is not, so fewer labels come nearer its setting. */
export function fewLabelClaims(data: FigureData, labels: number): Claim[] {
  const above = atLabels(labels, 'The progressive ladder network ends above the supervised baseline on the target');
  const worth = atLabels(labels, 'A semi-supervised (ladder) source column is worth more than a supervised one');
  return [
    accuracyClaim(above.section, above.claim, 'baseline about 35%, progressive ladder 77.7% (all SVHN labels)', data, 'transfer-mnistm-ladder-sup', 'transfer-mnistm-baseline'),
    accuracyClaim(worth.section, worth.claim, 'progressive ladder above supervised -> supervised', data, 'transfer-mnistm-ladder-sup', 'transfer-mnistm-sup-sup'),
  ];
}

export function judgeClaims(figure5: FigureData | undefined, figure7: FigureData | undefined, aps: ApsBar[] | undefined): Claim[] {
  return [
    accuracyClaim('4.2', 'The progressive ladder network ends above the supervised baseline on the target', 'baseline about 35%, progressive ladder 77.7%', figure5, 'transfer-mnistm-ladder-sup', 'transfer-mnistm-baseline'),
    accuracyClaim('4.2', 'A semi-supervised (ladder) source column is worth more than a supervised one of the same accuracy', 'progressive ladder above supervised -> supervised', figure5, 'transfer-mnistm-ladder-sup', 'transfer-mnistm-sup-sup'),
    accuracyClaim('4.2', 'The progressive ladder network beats fine-tuning the ladder\'s weights (pre-trained)', 'pre-training below the progressive ladder', figure5, 'transfer-mnistm-ladder-sup', 'transfer-mnistm-pretrained'),
    speedClaim(figure5),
    ...scalarClaims(figure7),
    ...apsClaims(aps, 'raw'),
    ...apsClaims(aps, 'relative'),
  ];
}

/** Average Perturbation Sensitivity (the paper's "Analysis and Discussion"; Rusu et al. 2016, Appendix A).
 *
 * For each site (layer l of column k) the noise variance sigma^2 at which test accuracy falls to half the unperturbed
 * network's is found by bracketing and bisection on log10(sigma^2); its precision is 1 / sigma^2, and
 *   APS(l, k) = precision(l, k) / sum over columns k' of precision(l, k').
 * Where accuracy never halves in the searched range the precision is 0 (said so, not invented); where it halves below
 * the range the precision is at least 1 / lowest variance (a bound, said so). */

/** The range searched and when to stop: 10^-4 .. 10^4 on log10(variance), to 0.05 decades (12%), at most 12
 * evaluations per site (2 to bracket, then bisection: 8 decades to 0.05 takes 8 halvings). */
export const APS_SEARCH = { logLow: -4, logHigh: 4, tolerance: 0.05, maxEvaluations: 12 } as const;
export type SearchOptions = { logLow: number; logHigh: number; tolerance: number; maxEvaluations: number };

export type HalfPoint =
  /** Accuracy halves between 10^low and 10^high (|high - low| <= tolerance); variance is their geometric middle. */
  | { status: 'found'; variance: number; bracket: [number, number]; evaluations: number }
  /** Still above half at the largest variance searched: precision 0 (this layer's noise barely matters). */
  | { status: 'never'; variance: null; bracket: [number, null]; evaluations: number }
  /** Already at or below half at the smallest variance searched: the precision is at least 10^-low. */
  | { status: 'below'; variance: null; bracket: [null, number]; evaluations: number };

/** Accuracy of each site at the given log10 variances (null: that site is not evaluated this round). */
export type Evaluate = (logVariances: (number | null)[]) => Promise<(number | null)[]>;

interface Search {
  low: number; // accuracy above half here
  high: number; // accuracy at or below half here
  evaluations: number;
  result?: HalfPoint;
}

/** The half-accuracy variance of every site, all sites evaluated together in each round (one kernel call a round). */
export async function findHalfVariances(halfAccuracy: number[], evaluate: Evaluate, options: SearchOptions = APS_SEARCH): Promise<HalfPoint[]> {
  const searches: Search[] = halfAccuracy.map(() => ({ low: options.logLow, high: options.logHigh, evaluations: 0 }));
  const round = async (propose: (s: Search) => number | null) => {
    const points = searches.map((s) => (s.result ? null : propose(s)));
    const accuracies = await evaluate(points);
    points.forEach((point, i) => {
      if (point !== null) searches[i]!.evaluations++;
    });
    return { points, accuracies };
  };
  // Bracket: the largest variance first (most sites halve there), then the smallest for those that did.
  const top = await round((s) => s.high);
  top.accuracies.forEach((accuracy, i) => {
    const s = searches[i]!;
    if (accuracy !== null && accuracy > halfAccuracy[i]!) s.result = { status: 'never', variance: null, bracket: [s.high, null], evaluations: s.evaluations };
  });
  const bottom = await round((s) => s.low);
  bottom.accuracies.forEach((accuracy, i) => {
    const s = searches[i]!;
    if (!s.result && accuracy !== null && accuracy <= halfAccuracy[i]!) s.result = { status: 'below', variance: null, bracket: [null, s.low], evaluations: s.evaluations };
  });
  // Bisection on log variance while the bracket is wider than the tolerance and the budget allows.
  const open = (s: Search) => !s.result && s.high - s.low > options.tolerance && s.evaluations < options.maxEvaluations;
  while (searches.some(open)) {
    const { points, accuracies } = await round((s) => (open(s) ? (s.low + s.high) / 2 : null));
    points.forEach((point, i) => {
      const accuracy = accuracies[i];
      if (point === null || accuracy === null || accuracy === undefined) return;
      if (accuracy > halfAccuracy[i]!) searches[i]!.low = point;
      else searches[i]!.high = point;
    });
    for (const s of searches) if (!s.result && !open(s)) s.result = found(s);
  }
  return searches.map((s) => s.result ?? found(s));
}

const found = (s: Search): HalfPoint => ({ status: 'found', variance: 10 ** ((s.low + s.high) / 2), bracket: [s.low, s.high], evaluations: s.evaluations });

/** Precision 1 / sigma^2: 0 where accuracy never halved, the range's bound where it halved below the range. */
export function precisionOf(point: HalfPoint, options: SearchOptions = APS_SEARCH): number {
  if (point.status === 'never') return 0;
  if (point.status === 'below') return 10 ** -options.logLow;
  return 1 / point.variance;
}

export interface SitePrecision {
  column: number;
  layer: number;
  precision: number;
}

/** APS(l, k) for every site: its precision over the sum of the precisions of layer l across the columns (NaN where
 * every column's precision at that layer is 0: no column's noise there matters within the range searched). */
export function averagePerturbationSensitivity(sites: SitePrecision[]): (SitePrecision & { aps: number })[] {
  const byLayer = new Map<number, number>();
  for (const site of sites) byLayer.set(site.layer, (byLayer.get(site.layer) ?? 0) + site.precision);
  return sites.map((site) => {
    const total = byLayer.get(site.layer)!;
    return { ...site, aps: total > 0 ? site.precision / total : Number.NaN };
  });
}

/** `pladder report`: the paper reproduced, as one document from the figures as they stand: Markdown and a
 * self-contained HTML page (figures inlined, nothing fetched), Figures 5, 6 and 7 with our numbers beside the paper's,
 * and each claim of the paper's section 4.2 and "Analysis and Discussion" with the verdict our data gives. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readFigureData, readFigureFile, type FigureData } from '../figures/figure-data.js';
import { z } from 'zod';
import { loadFigure } from '../figures/schema.js';
import { onSourceOfOwnSeed, seedsTable, summaryTable } from '../figures/tables.js';
import { apsBarSchema, apsTable } from '../figures/aps-figure.js';
import { loadExperiment } from '../experiments/load.js';
import { PROJECT_ROOT } from '../paths.js';
import { variantOf, type Variant } from '../runs/runner.js';
import { machineStamp } from '../provenance/machine.js';
import { writeFileAtomic } from '../util/atomic.js';
import { fewLabelClaims, judgeClaims, otherColumnClaims, otherTransferClaim, OTHER_TRANSFER_FIGURES, type Claim } from './claims.js';
import { table, writeSection } from './document.js';
import { shownPath } from '../util/shown-path.js';

export const REPORT_DIR = path.join(PROJECT_ROOT, 'docs', 'report');

export class ReportError extends Error {
  override readonly name = 'ReportError';
}

interface Section {
  id: string;
  title: string;
  svg: string | undefined;
  svgFile: string;
  tables: string[];
  paper: string;
}

/** What the report reads of figure6.json (its bars are shown and judged as written). */
const apsFigureFileSchema = z.object({ title: z.string(), paper: z.string(), bars: z.array(apsBarSchema) });

const DATASET_TITLES: Record<string, string> = { svhn: 'SVHN', 'mnist-m': 'MNIST-M (standing in for SVHN, which cannot be downloaded here)', mnist: 'MNIST' };

/** The convolutional and AlexNet figures, after Figures 5-7. */
const OTHER_FIGURES = ['figure-conv-gamma', 'figure-conv', 'figure-alexnet'];

/** The figures in `dir` that are variants of `id` (figures/<id><variant suffix>.json), by name without .json. */
function figureVariants(dir: string, id: string): { name: string; variant: Variant }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((file) => {
    const name = file.slice(0, -'.json'.length);
    const variant = file.endsWith('.json') ? variantOf(name, id) : undefined;
    return variant && !variant.quick ? [{ name, variant }] : [];
  });
}

/** The figure's own JSON in `dir`, else its longest shortened variant (`<id>-epochsN.json`), by name without .json. */
function longestVariant(dir: string, id: string): string | undefined {
  if (existsSync(path.join(dir, `${id}.json`))) return id;
  const shortened = figureVariants(dir, id).flatMap(({ name, variant }) => (variant.epochs !== undefined && variant.labels === undefined ? [{ name, epochs: variant.epochs }] : []));
  return shortened.sort((a, b) => b.epochs - a.epochs)[0]?.name;
}

/** The figure `id` with fewer target labels (`bin/pladder figure experiments/<id>.yaml --labels N`), by label budget:
 * at full length where it was drawn so, else its longest shortened variant (figure-conv-epochs10-labels1000). */
function labelVariants(dir: string, id: string): { id: string; labels: number }[] {
  const byBudget = new Map<number, { id: string; epochs: number }>();
  for (const { name, variant } of figureVariants(dir, id)) {
    if (typeof variant.labels !== 'number') continue;
    const epochs = variant.epochs ?? Number.POSITIVE_INFINITY;
    if ((byBudget.get(variant.labels)?.epochs ?? -1) < epochs) byBudget.set(variant.labels, { id: name, epochs });
  }
  return [...byBudget].map(([labels, { id: name }]) => ({ id: name, labels })).sort((a, b) => a.labels - b.labels);
}

/** Writes report.md and report.html into `dir`; returns their paths. */
export async function writeReport(
  dir = REPORT_DIR,
  figuresDir = path.join(PROJECT_ROOT, 'figures'),
  // figures/quick holds only --quick's figures (src/figures/make.ts): a check of the set-up, not a result
  quick = path.resolve(figuresDir) === path.join(PROJECT_ROOT, 'figures', 'quick'),
): Promise<{ markdown: string; html: string; claims: Claim[] }> {
  const figure = (name: string) => path.join(figuresDir, `${name}.json`);
  // The other columns' figures may exist only as shortened variants (figure-conv-epochs20.json): the longest is shown.
  const other = Object.fromEntries(OTHER_FIGURES.map((id) => [id, longestVariant(figuresDir, id)]));
  const present = ['figure5', 'figure6', 'figure7'].filter((name) => existsSync(figure(name)));
  if (!present.length) throw new ReportError(`no figure in ${figuresDir} yet: draw them first (make reproduce, or bin/pladder reproduce --no-train from runs already trained)`);
  const figure5 = existsSync(figure('figure5')) ? readFigureData(figure('figure5')) : undefined;
  const figure7 = existsSync(figure('figure7')) ? readFigureData(figure('figure7')) : undefined;
  const figure6 = existsSync(figure('figure6')) ? readFigureFile(figure('figure6'), apsFigureFileSchema) : undefined;
  const target = loadExperiment(loadFigure(path.join(PROJECT_ROOT, 'experiments', 'figure5.yaml')).experiments[0]!.file).data.dataset;
  const otherData = Object.fromEntries(Object.entries(other).flatMap(([id, name]) => (name ? [[id, readFigureData(figure(name))]] : [])));
  const withData = (variant: { id: string; labels: number }) => ({ ...variant, data: readFigureData(figure(variant.id)) });
  const fewLabels = labelVariants(figuresDir, 'figure5').map(withData);
  // The conv and AlexNet transfers at a label budget, each with the claim its figure tests.
  const otherFewLabels = OTHER_TRANSFER_FIGURES.flatMap((figure) => labelVariants(figuresDir, figure).map((v) => ({ ...withData(v), figure })));
  const claims = [
    ...judgeClaims(figure5, figure7, figure6?.bars),
    ...fewLabels.flatMap((v) => fewLabelClaims(v.data, v.labels)),
    ...otherColumnClaims(otherData['figure-conv-gamma'], otherData['figure-conv'], otherData['figure-alexnet']),
    ...otherFewLabels.map((v) => otherTransferClaim(v.figure, v.data, v.labels)),
  ];
  const stamp = await machineStamp('report');
  const drawn = [figure5, figure7, ...fewLabels.map((v) => v.data), ...Object.values(otherData), ...otherFewLabels.map((v) => v.data)];
  const ownSeed = drawn.some((data) => data?.approaches.some((a) => a.runs.some(onSourceOfOwnSeed)));
  const curveSection = (id: string, data: FigureData): Section => ({ id, title: data.title, svgFile: `${id}.svg`, svg: readSvg(figuresDir, id), tables: [summaryTable(data), seedsTable(data)], paper: data.paper });
  const labelSection = (v: ReturnType<typeof withData>) => ({ ...curveSection(v.id, v.data), title: `${v.data.title}, ${v.labels} target labels` });
  const sections: Section[] = [
    ...(figure5 ? [curveSection('figure5', figure5)] : []),
    ...fewLabels.map(labelSection),
    ...(figure6 ? [{ id: 'figure6', title: figure6.title, svgFile: 'figure6.svg', svg: readSvg(figuresDir, 'figure6'), tables: [apsTable(figure6.bars)], paper: figure6.paper }] : []),
    ...(figure7 ? [curveSection('figure7', figure7)] : []),
    ...OTHER_FIGURES.flatMap((id) => (other[id] && otherData[id] ? [curveSection(other[id], otherData[id])] : [])),
    ...otherFewLabels.map(labelSection),
  ];
  const title = `Progressive Ladder Networks reproduced: MNIST -> ${DATASET_TITLES[target] ?? target}`;
  const unfinished = [figure5, figure7].some((d) => d && !d.complete);
  const intro = [
    `Drawn ${stamp.date} at commit ${stamp.commit} from the figures' JSON in ${shownPath(figuresDir, PROJECT_ROOT)}/ (every number here is read from those files).`,
    ...(quick
      ? ['These are --quick runs (2 short epochs, a test subset, one noise draw): a check that the set-up works end to end. Their numbers and verdicts say nothing about the paper; make reproduce (without QUICK=1) trains the real runs.']
      : []),
    `Target domain: ${DATASET_TITLES[target] ?? target}.${unfinished ? ' Some runs are unfinished: the tables say which seeds ran how far.' : ''}`,
    // The claims table's parentheses are not the figure tables' 95% intervals: say which is which, and how it judges.
    ...(ownSeed
      ? ["Transfer runs marked so in the per-seed tables were each built on the source of its own seed, as every run was before 2026-11-29: a fresh target column began at its source column's initial weights. docs/results.md, section figure-source-pairing-epochs30, measures what that did to supervised -> supervised."]
      : []),
    'In the claims table a number is the mean over seeds and the parentheses give the lowest and highest seed (APS: its range over seeds); a difference holds only where the two ranges do not overlap, else it is not shown. The figure tables below give 95% confidence intervals.',
  ];
  const claimsTable = table(['section', 'claim', 'paper', 'ours', 'verdict'], claims.map((c) => [c.section, c.claim, c.paper, c.ours, `**${c.verdict}**`]));
  const relativeFigures = path.relative(dir, figuresDir);
  const markdown = [
    `# ${title}`,
    '',
    ...intro,
    '',
    '## The paper\'s claims',
    '',
    claimsTable,
    '',
    ...sections.flatMap((s) => [`## ${s.title}`, '', `![${s.title}](${path.join(relativeFigures, s.svgFile)})`, '', ...s.tables.flatMap((t) => [t, '']), `Paper: ${s.paper}`, '']),
  ].join('\n');
  const html = renderHtml(title, intro, claims, sections);
  const files = { markdown: path.join(dir, 'report.md'), html: path.join(dir, 'report.html') };
  writeFileAtomic(files.markdown, `${markdown}\n`);
  writeFileAtomic(files.html, html);
  if (dir === REPORT_DIR) {
    // The verdicts, as computed from the figures' JSON, in the results document too.
    writeSection('paper-claims', [`## The paper's claims, judged on our figures (${path.relative(PROJECT_ROOT, files.html)})`, '', ...intro.map((line) => `- ${line}`), '', claimsTable].join('\n'));
  }
  return { ...files, claims };
}

function readSvg(dir: string, id: string): string | undefined {
  const file = path.join(dir, `${id}.svg`);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A markdown table (as tables.ts writes them) as an HTML table. */
function htmlTable(markdown: string): string {
  const rows = markdown.split('\n').filter((line, i) => i !== 1).map((line) => line.replace(/^\| | \|$/g, '').split(' | '));
  const [head, ...body] = rows;
  const cells = (row: string[], tag: string) => row.map((c) => `<${tag}>${escape(c).replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')}</${tag}>`).join('');
  return `<table><thead><tr>${cells(head ?? [], 'th')}</tr></thead><tbody>${body.map((r) => `<tr>${cells(r, 'td')}</tr>`).join('')}</tbody></table>`;
}

function renderHtml(title: string, intro: string[], claims: Claim[], sections: Section[]): string {
  const verdictClass = (v: string) => (v === 'holds' ? 'holds' : v === 'does not hold' ? 'fails' : 'open');
  const claimRows = claims
    .map((c) => `<tr><td>${escape(c.section)}</td><td>${escape(c.claim)}</td><td>${escape(c.paper)}</td><td>${escape(c.ours)}</td><td class="${verdictClass(c.verdict)}">${escape(c.verdict)}</td></tr>`)
    .join('');
  const figures = sections
    .map((s) => `<section id="${s.id}"><h2>${escape(s.title)}</h2><figure>${s.svg ?? `<p>(${escape(s.svgFile)} is missing)</p>`}</figure>${s.tables.map(htmlTable).join('')}<p class="paper">Paper: ${escape(s.paper)}</p></section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font-family: 'DejaVu Sans', sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.holds { background: #e5f5e0; } td.fails { background: #fde0dd; } td.open { background: #fff7dc; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
.paper { color: #555; font-style: italic; }
</style></head>
<body>
<h1>${escape(title)}</h1>
${intro.map((line) => `<p>${escape(line)}</p>`).join('\n')}
<section id="claims"><h2>The paper's claims</h2>
<table><thead><tr><th>section</th><th>claim</th><th>paper</th><th>ours</th><th>verdict</th></tr></thead><tbody>${claimRows}</tbody></table></section>
${figures}
</body></html>
`;
}

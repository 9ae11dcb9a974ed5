/** docs/results.md, the results document: each benchmark owns one section, replaced whole when it runs again. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RenderedFigure } from '../figures/render.js';
import { PROJECT_ROOT } from '../paths.js';
import { writeFileAtomic } from '../util/atomic.js';

/** docs/results.md; PLADDER_RESULTS_DOC writes elsewhere (tests, or a lab's own results file). */
export const RESULTS_DOC = process.env.PLADDER_RESULTS_DOC ?? path.join(PROJECT_ROOT, 'docs', 'results.md');

const HEADER = `# Results

Every figure here was measured by a command of this project; each section says which, on what machine, when, and at
which commit. Benchmarks rewrite their own section (\`make bench\`); experiment runs add theirs.
`;

/** A section's links to a figure of the project (its SVG, then its PNG), relative to docs/results.md. */
export function figureLinks(figure: RenderedFigure): string {
  const link = (file: string) => `[${path.basename(file)}](../${path.relative(PROJECT_ROOT, file)})`;
  return `${link(figure.svg)} (${link(figure.png)})`;
}

/** Replaces (or appends) the section `id` of the results document, atomically. */
export function writeSection(id: string, body: string, file = RESULTS_DOC): void {
  const begin = `<!-- section:${id} -->`;
  const end = `<!-- /section:${id} -->`;
  const block = `${begin}\n${body.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const start = current.indexOf(begin);
  const stop = current.indexOf(end);
  const next = start >= 0 && stop > start ? current.slice(0, start) + block + current.slice(stop + end.length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileAtomic(file, next);
}

/** A markdown table from a header row and data rows. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

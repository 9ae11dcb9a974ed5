/** `pladder report [--out DIR]`: the paper reproduced, from the figures as they stand (Markdown and HTML). */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPORT_DIR, writeReport } from '../results/report.js';
import { requireWritableDir } from './args.js';

export async function reportCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, figures: { type: 'string' } } });
  if (values.out !== undefined) requireWritableDir('--out', values.out);
  const report = await writeReport(values.out ? path.resolve(values.out) : REPORT_DIR, values.figures ? path.resolve(values.figures) : undefined);
  const counts = new Map<string, number>();
  for (const claim of report.claims) counts.set(claim.verdict, (counts.get(claim.verdict) ?? 0) + 1);
  console.log(`${report.claims.length} claims: ${[...counts].map(([verdict, n]) => `${n} ${verdict}`).join(', ')}`);
  console.log(`report: ${report.html} (and ${path.basename(report.markdown)})`);
}

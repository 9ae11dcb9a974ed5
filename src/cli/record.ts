/** `pladder record DIR`: an experiment's runs (complete or not) as a section of docs/results.md, with its figure. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RESULTS_DOC, writeSection } from '../results/document.js';
import { recordSection } from '../results/record.js';
import { requireWritableFile } from './args.js';
import { UsageError } from './exit.js';

export async function recordCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { section: { type: 'string' }, note: { type: 'string' }, doc: { type: 'string', default: RESULTS_DOC } },
  });
  const [dir] = positionals;
  if (!dir || positionals.length > 1) throw new UsageError('record: which runs? e.g. pladder record runs/ladder-mnist100 [--section ID] [--note TEXT]');
  if (values.section !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(values.section)) {
    throw new UsageError(`record: --section ${JSON.stringify(values.section)}: use lower-case letters, digits and '-' (it names the figure files too)`);
  }
  const doc = path.resolve(values.doc);
  requireWritableFile('--doc', values.doc, "the document's folder");
  const section = await recordSection(path.resolve(dir), {
    figuresDir: path.join(path.dirname(doc), 'figures'),
    ...(values.section ? { id: values.section } : {}),
    ...(values.note ? { note: values.note } : {}),
  });
  writeSection(section.id, section.markdown, doc);
  console.log(`${section.markdown}\n\nwritten: section '${section.id}' of ${doc}; figure ${section.figure.svg} (and .png)`);
}

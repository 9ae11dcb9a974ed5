/** A field's place in a file, as every message names it: `model.columns[1].widths` (indices in brackets). */
export const formatPath = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${String(p)}` : String(p))).join('');

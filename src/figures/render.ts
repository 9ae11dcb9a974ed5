/** Figures: a Vega-Lite specification rendered to SVG (vega, no browser) and PNG (resvg), written side by side. */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/atomic.js';

/** The Vega-Lite version every figure's specification is written for. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export interface RenderedFigure {
  svg: string;
  png: string;
}

/** Writes `<base>.svg` and `<base>.png` (2x scale) and returns their paths. */
export async function renderFigure(spec: TopLevelSpec, base: string): Promise<RenderedFigure> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  const files = { svg: `${base}.svg`, png: `${base}.png` };
  writeFileAtomic(files.svg, svg);
  writeFileAtomic(files.png, png);
  return files;
}

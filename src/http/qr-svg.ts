/**
 * QR codes as SVG images (uqr: zero dependencies, made here — no external service ever sees a login
 * token). A code with the standard 4-module quiet zone, black on white, no inline styles (the web
 * console's Content-Security-Policy allows none). uqr is loaded by the first QR login, not at start.
 */
type RenderSvg = (typeof import('uqr'))['renderSVG'];
let renderer: Promise<RenderSvg> | undefined;

/** The last few images, by text: the console asks for the same code every second or two. */
const cache = new Map<string, string>();
const CACHE_SIZE = 64;

export async function qrSvg(text: string): Promise<string> {
  let svg = cache.get(text);
  if (svg === undefined) {
    const renderSVG = await (renderer ??= import('uqr').then((uqr) => uqr.renderSVG));
    svg = renderSVG(text, { border: 4, ecc: 'M' });
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(text, svg);
  }
  return svg;
}

/**
 * bench/RESULTS.svg: socklab's speed in each measurement as a fraction of the runtime's floor
 * and of the best anchor (1 = as fast; a time is inverted, so that right is better for
 * every bar), next to bench/RESULTS.md. Pure: the figures in, the SVG text out.
 *
 * @module
 */
import type { Bar } from "./compare.ts";
import { fmtRatio } from "./stats.ts";

const ROW = 26;
const LABEL = 330;
const PLOT = 420;
/** Room right of the plot for the longest value and anchor name. */
const RIGHT = 190;
const TOP = 54;

const escape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The chart of `bars` (each with an id, e.g. `2 socklab pmu`), as an SVG document. */
export function ratioChart(bars: readonly Bar[], title: string): string {
  const values = bars.flatMap((b) => [b.vsFloor, b.vsAnchor]).filter((v) => v !== undefined);
  const max = Math.max(2, Math.ceil(Math.max(...values, 0) * 2) / 2);
  const x = (v: number) => LABEL + (Math.min(v, max) / max) * PLOT;
  const height = TOP + bars.length * ROW + 40;
  const width = LABEL + PLOT + RIGHT;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="38">speed relative to the runtime's floor (dark) and to the best ` +
    `anchor (light); 1 = as fast, right is better</text>`,
  ];
  for (let t = 0; t <= max; t += 0.5) {
    const dash = t === 1 ? "" : ` stroke-dasharray="2,3"`;
    out.push(
      `<line x1="${x(t)}" y1="${TOP - 4}" x2="${x(t)}" y2="${TOP + bars.length * ROW}" ` +
        `stroke="${t === 1 ? "#c00" : "#bbb"}"${dash}/>`,
      `<text x="${x(t)}" y="${TOP + bars.length * ROW + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  bars.forEach((b, i) => {
    const y = TOP + i * ROW;
    out.push(`<text x="${LABEL - 8}" y="${y + 15}" text-anchor="end">${escape(b.label)}</text>`);
    const bar = (v: number | undefined, dy: number, fill: string, what: string, named: boolean) => {
      if (v === undefined) return;
      const text = named ? `${fmtRatio(v)} ${what}` : fmtRatio(v);
      out.push(
        `<rect x="${LABEL}" y="${y + dy}" width="${x(v) - LABEL}" height="10" fill="${fill}">` +
          `<title>${escape(`${b.label}: ${fmtRatio(v)} ${what}`)}</title></rect>`,
        `<text x="${x(v) + 4}" y="${y + dy + 9}" font-size="10">${escape(text)}</text>`,
      );
    };
    bar(b.vsFloor, 2, "#2b5d8a", "the floor", false);
    bar(b.vsAnchor, 13, "#9cc3e6", b.anchor ?? "the best anchor", true);
  });
  out.push("</svg>", "");
  return out.join("\n");
}

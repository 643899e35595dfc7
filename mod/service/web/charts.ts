/**
 * Charts drawn by the server as plain SVG: bars with their values written
 * on them, the axis in words, a title and a description for screen
 * readers, no script and nothing told by colour alone. No I/O here; the
 * numbers come from the handler (the last hour's jobs, the grade book).
 *
 * @module
 */
import type { Job } from "../store/store.ts";
import { Html, html } from "./html.ts";

/** One bar: its label under the axis (may be empty), its value, its text on hover. */
export interface Bar {
  label: string;
  value: number;
  /** Written above the bar (default: the value); empty for none. */
  text?: string;
  /** The bar's own title (hover, screen readers). */
  title: string;
}

export interface BarChart {
  /** The chart's id (its title's id is `<id>-title`). */
  id: string;
  title: string;
  /** One sentence a screen reader says instead of the picture. */
  summary: string;
  bars: Bar[];
  /** The axis under the bars, in words ("minutes ago"). */
  axis: string;
  /** The largest value the scale shows (default: the largest bar, at least 1). */
  max?: number;
}

const WIDTH = 480;
const HEIGHT = 170;
const LEFT = 34;
const RIGHT = 10;
const TOP = 18;
const BOTTOM = 36;

/**
 * A bar chart as inline SVG, as wide as its container (the viewBox
 * scales): the scale's top written at the left, each bar's value above it
 * when there is room, the axis in words under it.
 */
export function barChart(c: BarChart): Html {
  const n = Math.max(1, c.bars.length);
  const slot = (WIDTH - LEFT - RIGHT) / n;
  const max = Math.max(1, c.max ?? 0, ...c.bars.map((b) => b.value));
  const plot = HEIGHT - TOP - BOTTOM;
  const base = TOP + plot;
  const labelEvery = Math.max(1, Math.ceil(n / 12));
  const top = c.bars.find((b) => b.value === max);
  const bars = c.bars.map((b, i) => {
    const h = b.value > 0 ? Math.max(1, Math.round((b.value / max) * plot)) : 0;
    const x = LEFT + i * slot + 1;
    const mid = (x + slot / 2 - 1).toFixed(1);
    const text = b.text ?? String(b.value);
    return html`<g><title>${b.title}</title>
<rect class="bar" x="${x.toFixed(1)}" y="${base - h}" width="${
      (slot - 2).toFixed(1)
    }" height="${h}"></rect>
${
      text && slot >= 24
        ? html`<text class="value" x="${mid}" y="${
          base - h - 4
        }" text-anchor="middle">${text}</text>`
        : ""
    }
${
      b.label && i % labelEvery === 0
        ? html`<text class="label" x="${mid}" y="${
          base + 14
        }" text-anchor="middle">${b.label}</text>`
        : ""
    }</g>`;
  });
  return html`
    <figure class="chart">
      <svg id="${c.id}" role="img" aria-labelledby="${c.id}-title ${c.id}-desc"
        viewBox="0 0 ${WIDTH} ${HEIGHT}">
    <title id="${c.id}-title">${c.title}</title>
    <desc id="${c.id}-desc">${c.summary}</desc>
    <line class="grid" x1="${LEFT}" y1="${TOP + 0.5}" x2="${WIDTH - RIGHT}" y2="${TOP +
      0.5}"></line>
    <text class="label" x="${LEFT - 4}" y="${TOP + 4}" text-anchor="end">${top?.text ||
      String(Math.round(max))}</text>
    <text class="label" x="${LEFT - 4}" y="${base}" text-anchor="end">0</text>
    <line class="axis" x1="${LEFT}" y1="${base + 0.5}" x2="${WIDTH - RIGHT}" y2="${base +
      0.5}"></line>
    ${bars}
    <text class="label" x="${LEFT + (WIDTH - LEFT - RIGHT) / 2}" y="${HEIGHT -
      4}" text-anchor="middle">${c.axis}</text>
      </svg>
      <figcaption><strong>${c.title}</strong>: ${c.summary}.</figcaption>
    </figure>
  `;
}

/** Seconds in words for a chart: `45 s`, `3 min`. */
export function shortDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/**
 * The last hour's queue: the mean wait (queued to started) of the jobs that
 * started in each five minutes, and the jobs finished in each minute.
 */
export function queueCharts(jobs: readonly Job[], now: number): { wait: BarChart; done: BarChart } {
  const started = jobs.filter((j) => j.startedAt !== null && j.startedAt > now - 3_600_000);
  const waitBars: Bar[] = [];
  for (let k = 11; k >= 0; k--) {
    const from = now - (k + 1) * 300_000;
    const these = started.filter((j) => j.startedAt! > from && j.startedAt! <= from + 300_000);
    const mean = these.length
      ? these.reduce((t, j) => t + (j.startedAt! - j.enqueuedAt), 0) / these.length
      : 0;
    waitBars.push({
      label: `-${(k + 1) * 5}`,
      value: mean,
      text: these.length ? shortDuration(mean) : "",
      title: `${(k + 1) * 5} to ${k * 5} minutes ago: ${these.length} job(s) started` +
        (these.length ? `, after ${shortDuration(mean)} in the queue on average` : ""),
    });
  }
  const finished = jobs.filter((j) => j.finishedAt !== null && j.finishedAt > now - 3_600_000);
  const doneBars: Bar[] = [];
  for (let k = 59; k >= 0; k--) {
    const from = now - (k + 1) * 60_000;
    const n = finished.filter((j) => j.finishedAt! > from && j.finishedAt! <= from + 60_000).length;
    doneBars.push({
      label: (k + 1) % 10 === 0 ? `-${k + 1}` : "",
      value: n,
      title: `${k + 1} to ${k} minutes ago: ${n} job(s) finished`,
    });
  }
  const worst = waitBars.reduce((a, b) => (b.value > a.value ? b : a));
  return {
    wait: {
      id: "chart-wait",
      title: "Queue wait, last hour",
      summary: started.length
        ? `${started.length} job(s) started; the longest mean wait of five minutes was ` +
          `${shortDuration(worst.value)} (${-Number(worst.label)} to ${
            -Number(worst.label) - 5
          } minutes ago)`
        : "no job started",
      bars: waitBars,
      axis: "minutes ago (mean wait of the jobs that started in each five minutes)",
    },
    done: {
      id: "chart-done",
      title: "Jobs finished per minute, last hour",
      summary: `${finished.length} job(s) finished, at most ${
        Math.max(...doneBars.map((b) => b.value))
      } in one minute`,
      bars: doneBars,
      axis: "minutes ago",
    },
  };
}

/**
 * A part's scores as bars: how many students have each score (a bar a
 * point up to 12 points, else ten ranges); those with none yet are said in
 * the summary (a bar for them would dwarf the others).
 */
export function scoreHistogram(
  id: string,
  title: string,
  scores: readonly (number | null)[],
  maxGrade: number,
): BarChart {
  const have = scores.filter((s): s is number => s !== null);
  const max = Math.max(1, maxGrade, ...have);
  const step = max <= 12 ? 1 : Math.ceil((max + 1) / 10);
  const bars: Bar[] = [];
  for (let lo = 0; lo <= max; lo += step) {
    const hi = Math.min(max, lo + step - 1);
    const n = have.filter((s) => s >= lo && s <= hi).length;
    const label = lo === hi ? String(lo) : `${lo}-${hi}`;
    bars.push({ label, value: n, title: `${n} student(s) with ${label} of ${max}` });
  }
  const full = have.filter((s) => s >= max).length;
  return {
    id,
    title,
    summary:
      `${have.length} of ${scores.length} student(s) scored, ${full} with full marks (${max})`,
    bars,
    axis: "score",
  };
}

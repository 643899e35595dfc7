/**
 * The pages' only assets, served by socklab itself (no CDN, no build step):
 * one stylesheet and one small script that refreshes a live region.
 *
 * @module
 */
import { KINDS } from "../store/store.ts";

/**
 * The submit form shows the chosen part's fields only: a field `for-<kind>`
 * shows when that kind's option is chosen (`:has()`, no script); where
 * `:has()` is unknown every field shows.
 */
const BY_PART_CSS = `@supports selector(:has(*)) {
  form.by-part .field { display: none; }
${
  KINDS.map((k) =>
    `  form.by-part:has(#kind option[value="${k}"]:checked) .for-${k} { display: block; }`
  ).join("\n")
}
}`;

/**
 * /static/style.css: readable from 360 px wide up (no element scrolls
 * sideways there: a table's rows stack, each cell saying its column), the
 * teaching assistant's pages as wide as the screen, visible focus, no web
 * fonts, charts in shapes and words (not colour alone).
 */
export const STYLE_CSS = `
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --accent: #0a58ca;
  --ok: #116329; --ok-bg: #dafbe1; --bad: #a40e26; --bad-bg: #ffebe9; --note-bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg);
  overflow-wrap: anywhere; }
header.top { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center;
  padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
header.top nav { display: flex; flex-wrap: wrap; gap: .75rem; margin-left: auto; align-items: center; }
header.top nav a[aria-current] { font-weight: 700; text-decoration: none; color: var(--fg); }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
main.wide { max-width: 80rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
th a { text-decoration: none; }
td.num, th.num { text-align: right; }
.pass { color: var(--ok); background: var(--ok-bg); font-weight: 600; padding: 0 .3rem; border-radius: 3px; }
.fail { color: var(--bad); background: var(--bad-bg); font-weight: 600; padding: 0 .3rem; border-radius: 3px; }
.advice { color: var(--muted); font-style: italic; }
.status { display: inline-block; padding: .1rem .5rem; border-radius: 1rem; background: var(--note-bg);
  border: 1px solid var(--line); }
.note { background: var(--note-bg); border-left: 4px solid var(--line); padding: .5rem .75rem; }
.error { color: var(--bad); font-weight: 600; }
.flash { background: var(--ok-bg); padding: .5rem .75rem; }
.banner { background: #fff8c5; border-left: 4px solid #9a6700; padding: .5rem .75rem; }
.badge { font-size: .8rem; padding: 0 .4rem; border: 1px solid var(--line); border-radius: 1rem;
  background: var(--note-bg); }
form.stack { display: grid; gap: .75rem; max-width: 36rem; }
form.stack label { font-weight: 600; display: block; }
form.search { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
form.search input { flex: 1 1 12rem; max-width: 24rem; }
input, select, button { font: inherit; max-width: 100%; }
input[type=text], input[type=search], input[type=file], select { width: 100%; padding: .35rem; }
button, .button { display: inline-block; padding: .45rem 1rem; border: 1px solid var(--accent);
  background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; }
button.link { background: none; border: none; color: var(--accent); padding: 0; text-decoration: underline; }
pre.output { background: var(--note-bg); padding: .5rem; overflow-x: auto; max-height: 30rem; margin: 0 0 .5rem;
  white-space: pre-wrap; word-break: break-all; font-size: .85rem; }
ol.tests { list-style: none; padding: 0; }
ol.tests > li { border-bottom: 1px solid var(--line); padding: .4rem 0; }
ol.tests summary { cursor: pointer; }
.why { display: block; color: var(--fg); margin-left: 1.2rem; }
.grader { font-style: italic; color: var(--muted); border-left: 4px solid var(--line); padding-left: .5rem; }
.stream { font-weight: 600; font-size: .85rem; margin: .5rem 0 .1rem; }
.muted { color: var(--muted); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
ul.facts { padding-left: 1.2rem; }
.pager { display: flex; gap: 1rem; align-items: center; margin: .75rem 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); gap: 1rem; }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; max-height: 14rem; display: block; }
figure.chart figcaption { font-size: .85rem; color: var(--muted); }
svg rect.bar { fill: var(--accent); }
svg text { font: 10px system-ui, sans-serif; fill: var(--fg); }
svg text.label { fill: var(--muted); }
svg line.axis { stroke: var(--muted); stroke-width: 1; }
svg line.grid { stroke: var(--line); stroke-dasharray: 3 3; }
${BY_PART_CSS}
@media (max-width: 40rem) {
  main { padding: .5rem; }
  .table-wrap { overflow-x: visible; }
  table.stack thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.stack, table.stack tbody, table.stack tr, table.stack th, table.stack td { display: block; width: 100%; }
  table.stack tr { border-bottom: 1px solid var(--line); padding: .35rem 0; }
  table.stack th, table.stack td { border: none; padding: .1rem 0; text-align: left; }
  table.stack [data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
}
`;

/**
 * /static/live.js: a page with `data-live="<url>"` on an element re-fetches
 * that URL (an HTML fragment, escaped by the server) every 1.5 s and
 * replaces the element's content, until the fragment says it is final.
 * Without JavaScript the page refreshes itself (a meta refresh in noscript).
 */
export const LIVE_JS = `"use strict";
(function () {
  var el = document.querySelector("[data-live]");
  if (!el) return;
  var url = el.getAttribute("data-live");
  var tries = 0;
  function tick() {
    if (el.getAttribute("data-final") === "1" || tries++ > 2400) return;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text !== null && text !== el.innerHTML) {
          var t = document.createElement("template");
          t.innerHTML = text;
          var root = t.content.firstElementChild;
          if (root && root.hasAttribute("data-final")) el.setAttribute("data-final", root.getAttribute("data-final"));
          el.replaceChildren(t.content);
        }
      })
      .catch(function () {})
      .finally(function () { setTimeout(tick, 1500); });
  }
  setTimeout(tick, 1000);
})();
`;

/** /favicon.svg: a socket's two ends joined (the browser tab's icon). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="6" fill="#0a58ca"/>
<circle cx="10" cy="16" r="5" fill="none" stroke="#fff" stroke-width="3"/>
<circle cx="22" cy="16" r="5" fill="none" stroke="#fff" stroke-width="3"/>
<path d="M15 16h2" stroke="#fff" stroke-width="3"/>
</svg>
`;

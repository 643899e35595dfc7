/**
 * The teaching assistant's pages as HTML, one purpose each: the overview
 * (the queue and the workers in numbers, the last hour in charts), the
 * grade book (search, sort, pages, a histogram a part), the queue with
 * names, one student, the tools (re-run behind a confirmation, roster
 * import). No I/O here; every value is escaped by the `html` tag.
 *
 * @module
 */
import type { GradeBookQuery, GradeBookRow } from "../course.ts";
import type { Kind, Policy, QueueEntry, User } from "../store/store.ts";
import type { PartJson, SubmissionJson, WorkerState } from "../submissions.ts";
import { type BarChart, barChart, shortDuration } from "./charts.ts";
import { Html, html } from "./html.ts";
import {
  attemptsText,
  type CalendarView,
  type Cell,
  type Head,
  layout,
  MENU,
  PART_TITLES,
  partWhen,
  shownTime,
  statusText,
  studentPagePath,
  studentPanel,
  table,
  type Viewer,
} from "./views.ts";

/** The parts' short names, as the grade book's columns (all of them fit 1280 px). */
export const PART_SHORT: Record<Kind, string> = {
  "part2": "P2",
  "part3": "P3",
  "part4-receiver": "P4 receiver",
  "part4-sender": "P4 sender",
  "ca-sign": "P5 CA sign",
  "part5": "P5 TLS",
  "part6": "P6",
};

/** A TA page: the course's name, the menu entry `here`, the screen's width. */
const taPage = (viewer: Viewer, course: string, title: string, here: string, body: Html) =>
  layout(title, body, { viewer, course, here, wide: true });

/** A student as a link to their page: `Name (id)`. */
function studentLink(id: string, name?: string): Html {
  return html`<a href="${studentPagePath(id)}">${name ? `${name} (${id})` : id}</a>`;
}

/** How long ago, in words. */
function ago(ms: number): string {
  return `${shortDuration(Math.max(0, ms))} ago`;
}

export interface OverviewView {
  name: string;
  students: number;
  queued: number;
  running: number;
  workers: WorkerState[];
  /** Seconds until the queue is through, if anyone grades. */
  drainS: number | null;
  charts: BarChart[];
}

/** /course: the queue and the workers in numbers, the last hour in charts. */
export function overviewPage(viewer: Viewer, v: OverviewView): string {
  const alive = v.workers.filter((w) => w.state === "alive");
  const lost = v.workers.length - alive.length;
  const slots = alive.reduce((n, w) => n + w.slots, 0);
  return taPage(
    viewer,
    v.name,
    "Course",
    "/course",
    html`
      <h1>Course ${v.name}</h1>
      <ul class="facts">
        <li><strong>${v
          .students}</strong> students (<a href="/course/gradebook">grade book</a>)</li>
        <li><strong>${v.queued}</strong> queued, <strong>${v
          .running}</strong> running${v.drainS !== null && v.queued > 0
          ? html`: the queue is through in about ${shortDuration(v.drainS * 1000)}`
          : ""} (<a href="/course/queue">queue</a>)</li>
        <li><strong>${alive.length}</strong> worker(s) alive with ${slots} slot(s)${lost
          ? html`, <strong>${lost}</strong> lost`
          : ""}</li>
      </ul>
      <h2>The last hour</h2>
      <div class="charts">${v.charts.map(barChart)}</div>
    `,
  );
}

export interface GradeBookView {
  name: string;
  policy: Policy;
  rows: GradeBookRow[];
  query: GradeBookQuery;
  /** Students matching the search, and in all. */
  matching: number;
  total: number;
  pages: number;
  histograms: BarChart[];
}

/** The grade book's address with `change` applied to `q` (a sort starts at page 1). */
function bookHref(q: GradeBookQuery, change: Partial<GradeBookQuery>): string {
  const next = { ...q, ...change };
  const p = new URLSearchParams();
  if (next.q) p.set("q", next.q);
  if (next.sort !== "id") p.set("sort", next.sort);
  if (next.dir !== "asc") p.set("dir", next.dir);
  if (next.page > 1) p.set("page", String(next.page));
  const s = p.toString();
  return `/course/gradebook${s ? `?${s}` : ""}`;
}

/** The grade book's table: each head sorts by its column (again: the other way). */
function bookTable(v: GradeBookView): Html {
  const q = v.query;
  const head = (col: GradeBookQuery["sort"], text: string, num = false, title?: string): Head => {
    const current = q.sort === col;
    const dir = current && q.dir === "asc" ? "desc" : "asc";
    return {
      text: html`<a href="${bookHref(q, { sort: col, dir, page: 1 })}">${text}${
        current ? (q.dir === "asc" ? " ▲" : " ▼") : ""
      }</a>`,
      label: text,
      num,
      title,
      sort: current ? (q.dir === "asc" ? "ascending" : "descending") : "none",
    };
  };
  const score = (r: GradeBookRow, k: Kind): Cell =>
    r.scores[k] === null ? html`<span class="muted" aria-label="no score">–</span>` : html`
      <a href="${studentPagePath(r.id)}#h-${k}"
        aria-label="${r.id} ${k}">${r.scores[k]}</a>
    `;
  return table(
    { labelledby: "book" },
    [
      head("id", "Student"),
      head("name", "Name"),
      ...MENU.map((k) => head(k, PART_SHORT[k], true, PART_TITLES[k])),
    ],
    v.rows.map((r) => [
      { row: studentLink(r.id) },
      r.extended ? html`${r.name} <span class="badge">extension</span>` : r.name,
      ...MENU.map((k) => score(r, k)),
    ]),
  );
}

/** Previous, page n of N, next. */
function pager(v: GradeBookView): Html {
  if (v.pages <= 1) return html``;
  const { page } = v.query;
  return html`
    <nav class="pager"
      aria-label="Pages">${page > 1
        ? html`<a href="${bookHref(v.query, { page: page - 1 })}" rel="prev">Previous</a>`
        : ""} <span>Page ${page} of ${v.pages}</span> ${page < v.pages
        ? html`<a href="${bookHref(v.query, { page: page + 1 })}" rel="next">Next</a>`
        : ""}</nav>
  `;
}

/** /course/gradebook: search, sort, pages of 50, the scores of each part as histograms. */
export function gradeBookPage(viewer: Viewer, v: GradeBookView): string {
  const q = v.query;
  return taPage(
    viewer,
    v.name,
    "Grade book",
    "/course/gradebook",
    html`<h1 id="book">Grade book (${v.policy.keep} score)</h1>
<form class="search" method="get" action="/course/gradebook" role="search">
<label for="q">Find a student (id or name)</label>
<input type="search" id="q" name="q" value="${q.q}">
${q.sort !== "id" ? html`<input type="hidden" name="sort" value="${q.sort}">` : ""}
${q.dir !== "asc" ? html`<input type="hidden" name="dir" value="${q.dir}">` : ""}
<button type="submit">Search</button>
${q.q ? html`<a href="${bookHref(q, { q: "", page: 1 })}">Show everyone</a>` : ""}
</form>
<p role="status">${
      q.q ? html`${v.matching} of ${v.total} students match “${q.q}”.` : html`${v.total} students.`
    } <a href="/course/export.csv">Export the grade book (CSV)</a></p>
${v.rows.length ? bookTable(v) : html`<p>No student matches.</p>`}
${pager(v)}
<h2>Scores of each part</h2>
<div class="charts">${v.histograms.map(barChart)}</div>`,
  );
}

/** The queue's rows: running first, then queued in order. */
function queueTable(id: string, entries: QueueEntry[], now: number, running: boolean): Html {
  return table(
    { labelledby: id },
    [
      ...(running ? [] : [{ text: "Position", num: true }]),
      "Submission",
      "Student",
      "Part",
      { text: running ? "Running for" : "Waiting for", num: true },
      ...(running ? ["Worker"] : []),
    ],
    entries.map((e, i) => [
      ...(running ? [] : [i + 1]),
      html`<a href="/submissions/${e.job.submissionId}">#${e.job.submissionId}</a>`,
      studentLink(e.userId, e.userName),
      PART_SHORT[e.kind],
      shortDuration(now - (running ? e.job.startedAt ?? now : e.job.enqueuedAt)),
      ...(running ? [e.job.worker ?? ""] : []),
    ]),
  );
}

function workersTable(workers: WorkerState[], now: number): Html {
  return table(
    { labelledby: "workers" },
    ["Worker", "Host", "State", { text: "Slots", num: true }, "Running now", {
      text: "Last seen",
      num: true,
    }],
    workers.map((w) => [
      w.id,
      w.host,
      w.state === "lost"
        ? html`<strong>lost</strong> <span class="muted">(its jobs went back to the queue)</span>`
        : "alive",
      w.slots,
      w.jobs.length
        ? html`${
          w.jobs.map((j) =>
            html`
              <a href="/submissions/${j.submissionId}">#${j.submissionId}</a>
            `
          )
        }`
        : html`<span class="muted">nothing</span>`,
      ago(now - w.lastSeen),
    ]),
  );
}

export interface QueueView {
  name: string;
  queued: QueueEntry[];
  running: QueueEntry[];
  workers: WorkerState[];
}

/** /course/queue: running and queued jobs with the students' names, and the workers. */
export function queuePage(viewer: Viewer, v: QueueView, now: number): string {
  return taPage(
    viewer,
    v.name,
    "Queue",
    "/course/queue",
    html`<h1>Queue</h1>
<p>${v.queued.length} queued, ${v.running.length} running.</p>
<h2 id="running">Running</h2>
${v.running.length ? queueTable("running", v.running, now, true) : html`<p>Nothing.</p>`}
<h2 id="queued">Queued</h2>
${v.queued.length ? queueTable("queued", v.queued, now, false) : html`<p>Nothing.</p>`}
<h2 id="workers">Workers</h2>
${v.workers.length ? workersTable(v.workers, now) : html`<p>No worker has started.</p>`}`,
  );
}

export interface StudentView {
  name: string;
  student: User;
  policy: Policy;
  /** Each part as the student sees it (calendar, attempts, kept score). */
  parts: PartJson[];
  /** Every submission of the student, newest first. */
  subs: SubmissionJson[];
  cal: CalendarView;
  /** What the extension form said (done, or why not). */
  flash?: string;
}

/**
 * /course/students/<id>: each part's kept score, attempts and window with a
 * re-run, then every part's history and the extension form (views.ts
 * `studentPanel`).
 */
export function studentPage(viewer: Viewer, v: StudentView): string {
  const s = v.student;
  const history = Object.fromEntries(
    MENU.map((k) => [k, v.subs.filter((x) => x.kind === k)]),
  ) as Record<Kind, SubmissionJson[]>;
  const summary = table(
    { caption: `The parts of ${s.id}` },
    [
      "Part",
      { text: `${v.policy.keep === "best" ? "Best" : "Last"} score`, num: true },
      { text: "Attempts", num: true },
      "Submissions",
      { text: html`<span class="sr-only">Action</span>` },
    ],
    MENU.map((kind) => {
      const p = v.parts.find((x) => x.kind === kind)!;
      const graded = history[kind].some((x) => x.score !== null);
      const rerun = `/course/rerun?kind=${kind}&user=${encodeURIComponent(s.id)}`;
      return [
        { row: html`<a href="#h-${kind}">${PART_TITLES[kind]}</a>` },
        p.kept_score === null ? "–" : `${p.kept_score}${p.max_grade ? `/${p.max_grade}` : ""}`,
        attemptsText(p),
        partWhen(p, v.cal),
        graded
          ? html`<a href="${rerun}">Re-run<span class="sr-only"> ${kind} of ${s.id}</span></a>`
          : "",
      ];
    }),
  );
  return taPage(
    viewer,
    v.name,
    `${s.name} (${s.id})`,
    "",
    html`<h1>${s.name} (${s.id})</h1>
<p class="muted">${s.email || "no e-mail"}</p>
${summary}
${studentPanel(viewer, s, v.parts, history, v.cal, v.flash)}`,
  );
}

/** /course/tools: re-run a part (the next page asks), import a roster, export. */
export function toolsPage(
  viewer: Viewer,
  name: string,
  say: { flash?: string; error?: string } = {},
): string {
  return taPage(
    viewer,
    name,
    "Tools",
    "/course/tools",
    html`
      <h1>Tools</h1>
      ${say.flash ? html`<p class="flash" role="status">${say.flash}</p>` : ""}
      ${say.error ? html`<p class="error" role="alert">${say.error}</p>` : ""}
      <h2>Re-run a part</h2>
      <p>After a grader fix: every graded submission of the part runs again (one student's, or
      everyone's). Students keep their result until the new one replaces it. The next page says how
      many jobs that queues and asks you to confirm.</p>
      <form class="stack" method="get" action="/course/rerun">
        <div><label for="rerun-kind">Part</label>
      <select id="rerun-kind" name="kind">${MENU.map((k) =>
        html`<option value="${k}">${PART_TITLES[k]}</option>`
      )}</select></div>
        <div><label for="rerun-user">Student id (empty: everyone)</label>
      <input type="text" id="rerun-user" name="user" autocomplete="off"></div>
        <div><button type="submit">Continue</button></div>
      </form>
      <h2>Import a roster</h2>
      <form class="stack" method="post" action="/course/roster" enctype="multipart/form-data">
        <input type="hidden" name="csrf" value="${viewer.csrf}">
        <div><label for="roster">Roster CSV (columns id, name, email)</label>
      <input type="file" id="roster" name="roster" accept=".csv,text/csv"></div>
        <div><button type="submit">Import and download the new students' links</button></div>
      </form>
      <h2>Export</h2>
      <p><a href="/course/export.csv">Export the grade book (CSV)</a>: one row per student, the kept
      score of each part.</p>
    `,
  );
}

/** The re-run's confirmation: how many jobs it queues, a button that does it, a way back. */
export function rerunConfirmPage(
  viewer: Viewer,
  name: string,
  v: { kind: Kind; student: User | null; count: number },
): string {
  const whose = v.student
    ? html`
      of ${v.student.name} (${v.student.id})
    `
    : html`
      of every student
    `;
  return taPage(
    viewer,
    name,
    "Re-run",
    "/course/tools",
    html`<h1>Re-run ${PART_TITLES[v.kind]}?</h1>
${
      v.count === 0
        ? html`<p>There is no graded submission of ${
          PART_TITLES[v.kind]
        }${whose}: nothing to re-run.</p>`
        : html`<p>This queues <strong>${v.count} job(s)</strong>: every graded submission of
${PART_TITLES[v.kind]}${whose}. Each keeps its result until the new one replaces it.</p>
<form method="post" action="/course/rerun">
<input type="hidden" name="csrf" value="${viewer.csrf}">
<input type="hidden" name="kind" value="${v.kind}">
${v.student ? html`<input type="hidden" name="user" value="${v.student.id}">` : ""}
<button type="submit">Queue ${v.count} job(s)</button>
</form>`
    }
<p><a href="/course/tools">Back to the tools</a></p>`,
  );
}

/** The TA's list of a student's (or a part's) submissions. */
export function submissionsPage(
  viewer: Viewer,
  course: string,
  title: string,
  subs: SubmissionJson[],
  zone: string,
): string {
  const list = table(
    null,
    ["Submission", "Student", "Part", "Accepted", "Result"],
    subs.map((s) => [
      html`<a href="/submissions/${s.id}">#${s.id}</a>`,
      studentLink(s.user),
      PART_SHORT[s.kind],
      shownTime(s.created_at, zone),
      statusText(s),
    ]),
  );
  return taPage(
    viewer,
    course,
    title,
    "",
    html`<h1>${title}</h1>
${subs.length === 0 ? html`<p>No submissions.</p>` : list}`,
  );
}

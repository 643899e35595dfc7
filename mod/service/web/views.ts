/**
 * The scoring service's pages as HTML, from data the handler gathered:
 * no I/O here. Every value goes through the `html` tag (escaped); the
 * handout's names for the parts; headings in order, labels on every input,
 * a live region for status changes.
 *
 * @module
 */
import { countdown, formatTime } from "../calendar.ts";
import type { PartJson, SubmissionJson, WorkerState } from "../submissions.ts";
import type { GradeBookRow } from "../course.ts";
import type { Job, Kind, Policy, Role, TestRow } from "../store/store.ts";
import { size } from "../upload.ts";
import { Html, html } from "./html.ts";

/** The handout's names of the parts, in the order of the course's menu. */
export const PART_TITLES: Record<Kind, string> = {
  "part2": "Part2 - Packetization",
  "part3": "Part3 - Dual UDP ipv6/ipv4",
  "part4-receiver": "Part4 - Multicast: Receiving multicast messages",
  "part4-sender": "Part4 - Multicast: Sending multicast messages",
  "ca-sign": "Part5 - TLS: Sign your certificate",
  "part5": "Part5 - TLS : Secure PMU",
  "part6": "Part6(Bonus) - Websocket",
};

/** The menu order (the handout's). */
export const MENU: Kind[] = Object.keys(PART_TITLES) as Kind[];

/** The form's file fields: which parts take each one. */
const FILE_FIELDS: { field: string; label: string; accept: string; kinds: Kind[] }[] = [
  {
    field: "script",
    label: "Your script (PDC.py, receiver.py, sender.py, secure_pmu.py)",
    accept: ".py,text/*",
    kinds: ["part2", "part3", "part4-receiver", "part4-sender", "part5", "part6"],
  },
  {
    field: "cert",
    label: "Your certificate, PEM (Part5 - TLS : Secure PMU)",
    accept: ".crt,.pem",
    kinds: ["part5"],
  },
  {
    field: "key",
    label: "Your private key, PEM (Part5 - TLS : Secure PMU)",
    accept: ".pem,.key",
    kinds: ["part5"],
  },
  {
    field: "csr",
    label: "Your certificate request, PEM (Part5 - TLS: Sign your certificate)",
    accept: ".csr,.pem",
    kinds: ["ca-sign"],
  },
];

export interface Viewer {
  id: string;
  name: string;
  role: Role;
  /** The CSRF token for this session's forms. */
  csrf: string;
}

/** A whole page: header with the course name and the user, then `body`. */
export function layout(
  title: string,
  body: Html,
  opts: { viewer?: Viewer; course?: string; live?: boolean; refresh?: boolean } = {},
): string {
  const v = opts.viewer;
  return "<!doctype html>\n" + html`
    <html lang="en">
      <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${title} · socklab</title>
    <link rel="stylesheet" href="/static/style.css">
    ${opts.refresh ? html`<noscript><meta http-equiv="refresh" content="3"></noscript>` : ""}
    ${opts.live ? html`<script src="/static/live.js" defer></script>` : ""}
      </head>
      <body>
        <header class="top">
    <a class="brand" href="/">socklab${opts.course
      ? html`
        · ${opts.course}
      `
      : ""}</a>
    ${v
      ? html`<nav aria-label="Main">
<a href="/">${v.role === "ta" ? "Course" : "My parts"}</a>
${v.role === "student" ? html`<a href="/submit">New submission</a>` : ""}
<span class="muted">${v.name} (${v.id})</span>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${v.csrf}"><button class="link" type="submit">Sign out</button></form>
</nav>`
      : ""}
        </header>
        <main id="main">
    ${body}
        </main>
      </body>
    </html>
  `.text;
}

/** The sign-in page (a form for the token; the personal link fills it in). */
export function loginPage(error?: string): string {
  return layout(
    "Sign in",
    html`
      <h1>Sign in</h1>
      <p>Open the personal link you received, or paste your token.</p>
      <form class="stack" method="post" action="/login">
        <div><label for="token">Token</label>
      <input type="password" id="token" name="token" autocomplete="off" required
      ${error ? html`aria-invalid="true" aria-describedby="token-error"` : ""}>
      ${error ? html`<p id="token-error" class="error">${error}</p>` : ""}</div>
        <div><button type="submit">Sign in</button></div>
      </form>
    `,
  );
}

/** A column head: its text, whether it holds numbers, a tooltip. */
type Head = string | Html | { text: string | Html; num?: boolean; title?: string };

/**
 * A table in its scrolling wrapper: named by a caption for screen readers or
 * by the heading `labelledby`, its column heads, then its rows (`<tr>`s).
 */
function table(
  name: { caption: string } | { labelledby: string } | null,
  heads: readonly Head[],
  rows: Html[],
): Html {
  const th = (h: Head) => {
    const { text, num, title } = typeof h === "string" || h instanceof Html ? { text: h } : h;
    return html`
      <th scope="col" ${num
        ? html`
          class="num"
        `
        : ""}${title
        ? html`
          title="${title}"
        `
        : ""}>${text}</th>
    `;
  };
  return html`
    <div class="table-wrap">
      <table${name && "labelledby" in name
        ? html`
          aria-labelledby="${name.labelledby}"
        `
        : ""}>
    ${name && "caption" in name ? html`<caption class="sr-only">${name.caption}</caption>` : ""}
    <thead><tr>${heads.map(th)}</tr></thead>
    <tbody>
    ${rows}
    </tbody>
    </table>
    </div>
  `;
}

function policyNote(p: Policy, attemptLimit?: number): Html {
  const attempts = attemptLimit === undefined
    ? "Unlimited attempts"
    : `Up to ${attemptLimit} attempts of each part (a grader failure is none)`;
  return html`<p class="note">${attempts}: your <strong>${p.keep}</strong> score of each
part counts. One submission of a part at a time; ${p.cooldownSeconds} s between two submissions of
one part. Files up to ${size(p.maxScriptBytes)} each, ${size(p.maxTotalBytes)} in all. Each run of
your program has ${p.timeLimitSeconds} s. Grading might take up to a few minutes when many
submit at once.</p>`;
}

export interface PartRow {
  kind: Kind;
  kept: number | null;
  maxGrade: number | null;
  attempts: number;
  last: SubmissionJson | null;
  /** The part's calendar for this student (PartJson: window, limit, extension). */
  part: PartJson;
}

/** The calendar as the student's pages show it: the zone, the clock, the last hour's banner. */
export interface CalendarView {
  zone: string;
  now: number;
  /** In the last hour before a close: when it closes and the current estimated wait, s. */
  lastHour: { closes: number; waitS: number | null; queued: number } | null;
}

function statusText(s: SubmissionJson): string {
  if (s.status === "done") return `${s.score}/${s.max_grade}`;
  if (s.status === "queued") return s.position ? `queued (#${s.position})` : "queued";
  return s.status;
}

/** An ISO 8601 time of the API in the course's zone: `17 Nov 2021 23:55 CET`. */
export function shownTime(iso: string, zone: string, weekday = false): string {
  return formatTime(Date.parse(iso), zone, { weekday });
}

/** Where a part's window stands for the student, with a countdown: `closes in 2 days 3 h`. */
export function partWhen(p: PartJson, cal: CalendarView): Html {
  const at = (iso: string) => shownTime(iso, cal.zone, true);
  const left = (iso: string) => countdown(Date.parse(iso) - cal.now);
  if (p.state === "not-open") {
    return html`opens <time datetime="${p.opens!}">${at(p.opens!)}</time> (in ${left(p.opens!)})`;
  }
  if (p.state === "closed") {
    return html`closed on <time datetime="${p.closes!}">${at(p.closes!)}</time>`;
  }
  if (p.closes === null) return html`open`;
  return html`open, <strong>closes in ${left(p.closes)}</strong>
(<time datetime="${p.closes}">${at(p.closes)}</time>)`;
}

/** "attempt 7 of 100" (with an extension's attempts in the limit). */
export function attemptsText(p: PartJson): string {
  return `${p.attempts} of ${p.attempt_limit}`;
}

/** The banner of the last hour before a close: when, and how long a result takes now. */
export function lastHourBanner(cal: CalendarView): Html {
  const h = cal.lastHour;
  if (!h) return html``;
  const wait = h.waitS === null
    ? "no grader is running right now; your submission waits in the queue and is graded later"
    : `a result takes ${waitText(h.waitS)} now (${h.queued} submission(s) waiting)`;
  return html`<p class="banner" role="status">The submission system closes at
<strong>${formatTime(h.closes, cal.zone)}</strong>, in ${countdown(h.closes - cal.now)}.
Submissions received before then are graded and count, however long the queue: ${wait}.</p>`;
}

/** The course's window in a sentence, with its zone. */
function calendarNote(rows: PartRow[], cal: CalendarView): Html {
  const part2 = rows.find((r) => r.kind === "part2")?.part ?? rows[0].part;
  const at = (iso: string | null, none: string) =>
    iso === null ? none : shownTime(iso, cal.zone, true);
  return html`<p class="note" id="calendar">The submission system opens on
<strong>${at(part2.opens, "(already open)")}</strong> and closes on
<strong>${at(part2.closes, "(no deadline)")}</strong>, ${cal.zone} time; a part with its own
dates says so below. What is received before the close is graded and counts, even if it is
graded later.</p>`;
}

/** The student's home: the calendar, each part with its kept score, attempts and the last result. */
export function studentHome(
  viewer: Viewer,
  course: string,
  policy: Policy,
  rows: PartRow[],
  cal: CalendarView,
  flash?: string,
): string {
  return layout(
    "My parts",
    html`
      <h1>My parts</h1>
      ${flash ? html`<p class="flash" role="status">${flash}</p>` : ""}
      ${lastHourBanner(cal)}
      ${calendarNote(rows, cal)}
      ${policyNote(policy, rows[0]?.part.attempt_limit)}
      ${table(
        { caption: "Your score in each part" },
        [
          "Part",
          { text: `${policy.keep === "best" ? "Best" : "Last"} score`, num: true },
          { text: "Attempts", num: true },
          "Submissions",
          "Last submission",
          html`<span class="sr-only">Action</span>`,
        ],
        rows.map((r) => partHomeRow(r, cal)),
      )}
    `,
    { viewer, course },
  );
}

function partHomeRow(r: PartRow, cal: CalendarView): Html {
  const title = PART_TITLES[r.kind];
  return html`
    <tr>
      <th scope="row">${title}</th>
      <td class="num">${r.kept === null
        ? "–"
        : `${r.kept}${r.maxGrade ? `/${r.maxGrade}` : ""}`}</td>
      <td class="num">${attemptsText(r.part)}</td>
      <td>${partWhen(r.part, cal)}</td>
      <td>${r.last
        ? html`<a href="/submissions/${r.last.id}">#${r.last.id}</a> ${statusText(r.last)} ·
<a href="/parts/${r.kind}">all<span class="sr-only"> submissions of ${title}</span></a>`
        : html`<span class="muted">none yet</span>`}</td>
      <td>${r.part.state === "open"
        ? html`<a href="/submit?kind=${r.kind}">New submission<span class="sr-only"> for ${title}</span></a>`
        : html`<span class="muted">${
          r.part.state === "closed" ? "closed" : "not open yet"
        }</span>`}</td>
    </tr>
  `;
}

export interface FormState {
  kind?: Kind;
  sciper?: string;
  error?: string;
  /** The field the error is about. */
  field?: string;
}

/** "New submission": the part, its files, the sciper for part 4's sender. */
export function submitPage(viewer: Viewer, course: string, policy: Policy, s: FormState): string {
  const kindError = s.error && (s.field === "kind" || !s.field);
  const errorFor = (field: string) =>
    s.error && s.field === field ? html`<p id="${field}-error" class="error">${s.error}</p>` : "";
  const invalid = (field: string) =>
    s.error && s.field === field
      ? html`
        aria-invalid="true" aria-describedby="${field}-error"
      `
      : "";
  const selected = s.kind ?? "part2";
  return layout(
    "New submission",
    html`<h1>New submission</h1>
${policyNote(policy)}
<form class="stack" method="post" action="/submit" enctype="multipart/form-data">
<input type="hidden" name="csrf" value="${viewer.csrf}">
<div><label for="kind">Part</label>
<select id="kind" name="kind"${
      kindError
        ? html`
          aria-invalid="true" aria-describedby="kind-error"
        `
        : ""
    }>
${
      MENU.map((k) =>
        html`
          <option value="${k}" ${k === selected ? " selected" : ""}>${PART_TITLES[k]}</option>
        `
      )
    }
</select>
${kindError ? html`<p id="kind-error" class="error">${s.error}</p>` : ""}
<p class="muted">Then give the files that part takes; the others are ignored.</p></div>
${
      FILE_FIELDS.map((f) =>
        html`<div><label for="${f.field}">${f.label}</label>
<input type="file" id="${f.field}" name="${f.field}" accept="${f.accept}"${invalid(f.field)}>
${errorFor(f.field)}</div>`
      )
    }
<div><label for="sciper">Your sciper, 6 digits (Part4 - Multicast: Sending multicast messages)</label>
<input type="text" id="sciper" name="sciper" inputmode="numeric" autocomplete="off" value="${
      s.sciper ?? ""
    }"${invalid("sciper")}>
${errorFor("sciper")}</div>
<div><button type="submit">Submit</button></div>
</form>`,
    { viewer, course },
  );
}

function testRows(tests: TestRow[]): Html {
  return table(
    { caption: "Tests" },
    ["Result", "Test", "Counts", "Why"],
    tests.map((t) =>
      html`
        <tr>
          <td><span class="${t.passed ? "pass" : "fail"}">${t.passed ? "PASS" : "FAIL"}</span></td>
          <td>${t.name}</td>
          <td>${t.scored === false ? html`<span class="advice">advice</span>` : "scored"}</td>
          <td>${t.detail}</td>
        </tr>
      `
    ),
  );
}

function waitText(s: number | null): string {
  if (s === null) return "";
  return s < 90 ? `about ${s} s` : `about ${Math.round(s / 60)} min`;
}

/** The part of the submission page that changes: status, then the result. */
export function submissionLive(
  s: SubmissionJson,
  output: { stdout: string; stderr: string } | null,
): Html {
  const final = s.status === "done" || s.status === "failed";
  let body: Html;
  if (s.status === "queued") {
    body = html`<p><span class="status">Queued</span> position ${s.position ?? "?"} in the queue${
      s.estimated_wait_s !== null ? html`; estimated wait ${waitText(s.estimated_wait_s)}` : ""
    }.</p>`;
  } else if (s.status === "running") {
    body = html`<p><span class="status">Running</span> your program is being graded${
      s.estimated_wait_s !== null ? html`; done in ${waitText(s.estimated_wait_s)}` : ""
    }.</p>`;
  } else if (s.status === "failed") {
    body = html`<p><span class="status">Failed</span> the grader could not grade this submission
(${s.error ?? "unknown reason"}). It does not count as an attempt; submit again.</p>`;
  } else {
    body =
      html`<p><span class="status">Done</span> score <strong>${s.score}/${s.max_grade}</strong>${
        s.success ? " (full marks)" : ""
      }</p>
${testRows(s.tests ?? [])}
<p><a href="/submissions/${s.id}/archive">Download the submission with its output/ folder</a>${
        s.kind === "ca-sign"
          ? html`
            · <a href="/submissions/${s.id}/certificate">Download the signed certificate</a>
          `
          : ""
      }</p>
${
        output
          ? html`
            <h2>What your program printed</h2>
            <h3>stdout</h3>
            <pre class="output">${output.stdout || "(nothing)"}</pre>
            <h3>stderr</h3>
            <pre class="output">${output.stderr || "(nothing)"}</pre>
          `
          : ""
      }`;
  }
  return html`<div data-final="${final ? "1" : "0"}">${body}</div>`;
}

/** A submission's page; the live region refreshes itself until the result is in. */
export function submissionPage(
  viewer: Viewer,
  course: string,
  s: SubmissionJson,
  output: { stdout: string; stderr: string } | null,
  zone?: string,
): string {
  const final = s.status === "done" || s.status === "failed";
  return layout(
    `Submission ${s.id}`,
    html`
      <h1>Submission #${s.id}: ${PART_TITLES[s.kind]}</h1>
      <p class="muted">${viewer.role === "ta"
        ? html`
          Student ${s.user} ·
        `
        : ""}accepted ${zone ? shownTime(s.created_at, zone) : s.created_at} · ${s.attempt === null
        ? "not an attempt (the grader failed)"
        : `attempt ${s.attempt}`} · files: ${s.files.join(", ")} ·
        <a href="/parts/${s.kind}">all submissions of this part</a></p>
      <section aria-live="polite" aria-label="Result" id="result" ${final ? "" : html`
        data-live="/submissions/${s.id}/live"
      `}>${submissionLive(s, output)}</section>
    `,
    { viewer, course, live: !final, refresh: !final },
  );
}

export interface CourseView {
  name: string;
  policy: Policy;
  queued: { job: Job; user: string; kind: Kind; position: number }[];
  running: { job: Job; user: string; kind: Kind }[];
  workers: WorkerState[];
  book: GradeBookRow[];
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/** The queue: running jobs, then the queued ones in order. */
function queueTable(c: CourseView, now: number): Html {
  const rows = [...c.running.map((r) => ({ ...r, position: null as number | null })), ...c.queued];
  return table(
    { labelledby: "queue" },
    [
      "Job",
      "Submission",
      "Student",
      "Part",
      "Status",
      { text: "Position", num: true },
      { text: "Age", num: true },
      "Worker",
    ],
    rows.map((r) =>
      html`
        <tr>
          <td>${r.job.id}</td>
          <td><a href="/submissions/${r.job.submissionId}">#${r.job.submissionId}</a></td>
          <td>${r.user}</td>
          <td>${r.kind}</td>
          <td>${r.job.status}</td>
          <td class="num">${r.position ?? ""}</td>
          <td class="num">${age(now - r.job.enqueuedAt)}</td>
          <td>${r.job.worker ?? ""}</td>
        </tr>
      `
    ),
  );
}

function workersTable(c: CourseView, now: number): Html {
  return table(
    { labelledby: "workers" },
    ["Worker", "Host", "State", { text: "Slots", num: true }, "Current jobs", {
      text: "Last seen",
      num: true,
    }],
    c.workers.map((w) =>
      html`
        <tr>
          <td>${w.id}</td>
          <td>${w.host}</td>
          <td>${w.state}</td>
          <td class="num">${w.slots}</td>
          <td>${w.jobs.length
            ? w.jobs.map((j) => j.id).join(", ")
            : html`<span class="muted">idle</span>`}</td>
          <td class="num">${age(now - w.lastSeen)} ago</td>
        </tr>
      `
    ),
  );
}

/** One row per student, each part's kept score linked to that student's submissions of it. */
function gradeBookTable(c: CourseView): Html {
  const cell = (id: string, k: Kind, score: number | null) =>
    html`<td class="num"><a href="/course/submissions?user=${encodeURIComponent(id)}&amp;kind=${k}"
aria-label="${id} ${k}">${score ?? "–"}</a></td>`;
  return table(
    { labelledby: "book" },
    ["Student", "Name", ...MENU.map((k) => ({ text: k, num: true, title: PART_TITLES[k] }))],
    c.book.map((r) =>
      html`<tr><th scope="row">${r.id}</th><td>${r.name}${
        r.extended
          ? html`
            <span class="badge">extension</span>
          `
          : ""
      }</td>${MENU.map((k) => cell(r.id, k, r.scores[k]))}</tr>`
    ),
  );
}

/** The TA's forms: re-run a part, import a roster. */
function courseTools(viewer: Viewer): Html {
  return html`
    <h2>Re-run a part</h2>
    <form class="stack" method="post" action="/course/rerun">
      <input type="hidden" name="csrf" value="${viewer.csrf}">
      <div><label for="rerun-kind">Part whose graded submissions run again (after a grader fix)</label>
    <select id="rerun-kind" name="kind">${MENU.map((k) =>
      html`<option value="${k}">${PART_TITLES[k]}</option>`
    )}</select></div>
      <div><button type="submit">Re-run</button></div>
    </form>
    <h2>Import a roster</h2>
    <form class="stack" method="post" action="/course/roster" enctype="multipart/form-data">
      <input type="hidden" name="csrf" value="${viewer.csrf}">
      <div><label for="roster">Roster CSV (columns id, name, email)</label>
    <input type="file" id="roster" name="roster" accept=".csv,text/csv"></div>
      <div><button type="submit">Import and download the new students' links</button></div>
    </form>
  `;
}

/** The teaching assistant's overview: queue, workers, the grade book, the tools. */
export function coursePage(viewer: Viewer, c: CourseView, now: number, flash?: string): string {
  return layout(
    "Course",
    html`<h1>Course ${c.name}</h1>
${flash ? html`<p class="flash" role="status">${flash}</p>` : ""}
<h2 id="queue">Queue</h2>
<p>${c.queued.length} queued, ${c.running.length} running.</p>
${queueTable(c, now)}
<h2 id="workers">Workers</h2>
${workersTable(c, now)}
<h2 id="book">Grade book (${c.policy.keep} score)</h2>
<p><a href="/course/export.csv">Export the grade book (CSV)</a></p>
${gradeBookTable(c)}
${courseTools(viewer)}`,
    { viewer, course: c.name },
  );
}

/** The TA's list of a student's (or a part's) submissions; `panel`: one student's, on top. */
export function submissionsPage(
  viewer: Viewer,
  course: string,
  title: string,
  subs: SubmissionJson[],
  zone: string,
  panel?: Html,
): string {
  const list = table(
    null,
    ["Submission", "Student", "Part", "Accepted", "Status"],
    subs.map((s) =>
      html`
        <tr>
          <td><a href="/submissions/${s.id}">#${s.id}</a></td>
          <td>${s.user}</td>
          <td>${s.kind}</td>
          <td>${shownTime(s.created_at, zone)}</td>
          <td>${statusText(s)}</td>
        </tr>
      `
    ),
  );
  return layout(
    title,
    html`<h1>${title}</h1>
${panel ?? (subs.length === 0 ? html`<p>No submissions.</p>` : list)}`,
    { viewer, course },
  );
}

/**
 * A part's history as a table (the student's /parts/<kind>, the TA's page
 * of a student): each submission's accepted time, status, score, attempt
 * number, whether it is the one that counts, its result and archive.
 * `labelledby`: the heading that names it.
 */
export function historyTable(subs: SubmissionJson[], zone: string, labelledby: string): Html {
  const counts = (s: SubmissionJson) =>
    s.kept
      ? html`<strong>counts</strong>`
      : s.attempt === null
      ? html`<span class="muted">not an attempt</span>`
      : "";
  return table(
    { labelledby },
    [
      "Submission",
      "Accepted",
      "Status",
      { text: "Score", num: true },
      {
        text: "Attempt",
        num: true,
      },
      "Counts",
      "Archive",
    ],
    subs.map((s) =>
      html`
        <tr>
          <td><a href="/submissions/${s.id}">#${s.id}</a></td>
          <td><time datetime="${s.created_at}">${shownTime(s.created_at, zone)}</time></td>
          <td>${s.status}</td>
          <td class="num">${s.score === null ? "–" : `${s.score}/${s.max_grade}`}</td>
          <td class="num">${s.attempt ?? "–"}</td>
          <td>${counts(s)}</td>
          <td><a href="/submissions/${s.id}/archive">zip<span class="sr-only"> of submission ${s
            .id}</span></a></td>
        </tr>
      `
    ),
  );
}

/** A student's /parts/<kind>: the part's calendar, attempts, every submission. */
export function partPage(
  viewer: Viewer,
  course: string,
  part: PartJson,
  subs: SubmissionJson[],
  cal: CalendarView,
): string {
  const title = PART_TITLES[part.kind];
  return layout(
    title,
    html`<h1>${title}</h1>
${lastHourBanner(cal)}
<p>Submissions: ${partWhen(part, cal)}. Attempt ${part.attempts} of ${part.attempt_limit}${
      part.kept_score === null
        ? ""
        : html`; kept score <strong>${part.kept_score}/${part.max_grade}</strong>`
    }.${
      part.state === "open"
        ? html`
          <a href="/submit?kind=${part.kind}">New submission</a>
        `
        : ""
    }</p>
<h2 id="history">Every submission of this part</h2>
${subs.length === 0 ? html`<p>No submission yet.</p>` : historyTable(subs, cal.zone, "history")}`,
    { viewer, course },
  );
}

/** Where the teaching assistant's page of one student is (the extension form comes back there). */
export function studentPagePath(id: string): string {
  return `/course/submissions?user=${encodeURIComponent(id)}`;
}

/**
 * The teaching assistant's controls of one student's calendar: their
 * extensions, and a form for a later close and/or more attempts (one part
 * or every part). It posts to `/course/students/<id>/extension`.
 */
export function extensionForm(
  viewer: Viewer,
  student: string,
  parts: PartJson[],
  zone: string,
): Html {
  const extended = parts.filter((p) => p.extension);
  const until = (p: PartJson) =>
    p.extension?.until ? shownTime(p.extension.until, zone) : "the calendar's close";
  return html`
    <h2 id="extension">Extension and attempts</h2>
    ${extended.length
      ? html`<ul>${
        extended.map((p) =>
          html`<li>${PART_TITLES[p.kind]}: until ${until(p)}, ${
            p.extension!.attempts
          } more attempt(s)
(${attemptsText(p)} used)</li>`
        )
      }</ul>`
      : html`<p class="muted">No extension.</p>`}
    <form class="stack" method="post" action="/course/students/${encodeURIComponent(
      student,
    )}/extension">
      <input type="hidden" name="csrf" value="${viewer.csrf}">
      <div><label for="ext-kind">Part</label>
    <select id="ext-kind" name="kind"><option value="">Every part</option>${MENU.map((k) =>
      html`<option value="${k}">${PART_TITLES[k]}</option>`
    )}</select></div>
      <div><label for="ext-until">Closes for this student at (${zone} time, e.g. 2021-11-19T23:55)</label>
    <input type="text" id="ext-until" name="until" autocomplete="off" placeholder="2021-11-19T23:55"></div>
      <div><label for="ext-attempts">Attempts more than the limit</label>
    <input type="number" id="ext-attempts" name="attempts" min="0" step="1" inputmode="numeric"></div>
      <div><button type="submit">Grant</button></div>
    </form>
  `;
}

/** One student for the teaching assistant: every part's calendar and history, the extension form. */
export function studentPanel(
  viewer: Viewer,
  student: { id: string; name: string },
  parts: PartJson[],
  history: Record<Kind, SubmissionJson[]>,
  cal: CalendarView,
  flash?: string,
): Html {
  return html`
    ${flash ? html`<p class="flash" role="status">${flash}</p>` : ""}
    <p>${student.name} (${student.id})</p>
    ${MENU.map((k) => {
      const p = parts.find((x) => x.kind === k)!;
      return html`<h2 id="h-${k}">${PART_TITLES[k]}</h2>
<p>${partWhen(p, cal)} · attempts ${attemptsText(p)}</p>
${
        history[k].length
          ? historyTable(history[k], cal.zone, `h-${k}`)
          : html`<p class="muted">No submission.</p>`
      }`;
    })}
    ${extensionForm(viewer, student.id, parts, cal.zone)}
  `;
}

/** A page for an error (404, 403...), in words. */
export function errorPage(title: string, text: string, viewer?: Viewer): string {
  return layout(
    title,
    html`
      <h1>${title}</h1>
      <p>${text}</p>
      <p><a href="/">Back</a></p>
    `,
    {
      viewer,
    },
  );
}

/**
 * The scoring service's pages as HTML, from data the handler gathered:
 * no I/O here. Every value goes through the `html` tag (escaped); the
 * handout's names for the parts; headings in order, labels on every input,
 * a live region for status changes.
 *
 * @module
 */
import { countdown, formatTime } from "../calendar.ts";
import type { RunOutput } from "../job.ts";
import type { PartJson, SubmissionJson } from "../submissions.ts";
import type { Kind, Policy, Role, TestRow } from "../store/store.ts";
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

/** The teaching assistant's pages, in the menu's order. */
export const TA_MENU: { href: string; text: string }[] = [
  { href: "/course", text: "Overview" },
  { href: "/course/gradebook", text: "Grade book" },
  { href: "/course/queue", text: "Queue" },
  { href: "/course/tools", text: "Tools" },
];

/** The menu of `viewer`, the page at `here` marked as the current one. */
function menu(v: Viewer, here?: string): Html {
  const links = v.role === "ta"
    ? TA_MENU
    : [{ href: "/", text: "My parts" }, { href: "/submit", text: "New submission" }];
  return html`<nav aria-label="Main">
${
    links.map((l) =>
      html`
        <a href="${l.href}" ${here === l.href
          ? html`
            aria-current="page"
          `
          : ""}>${l.text}</a>
      `
    )
  }
<span class="muted">${v.name} (${v.id})</span>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${v.csrf}"><button class="link" type="submit">Sign out</button></form>
</nav>`;
}

/** A whole page: header with the course name and the user, then `body`. */
export function layout(
  title: string,
  body: Html,
  opts: {
    viewer?: Viewer;
    course?: string;
    live?: boolean;
    refresh?: boolean;
    /** The menu entry of this page. */
    here?: string;
    /** A page whose tables need the width of the screen (the teaching assistant's). */
    wide?: boolean;
  } = {},
): string {
  const v = opts.viewer;
  return "<!doctype html>\n" + html`
    <html lang="en">
      <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${title} · socklab</title>
    <link rel="icon" href="/favicon.svg" type="image/svg+xml">
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
    ${v ? menu(v, opts.here) : ""}
        </header>
        <main id="main" ${opts.wide
          ? html`
            class="wide"
          `
          : ""}>
    ${body}
        </main>
      </body>
    </html>
  `.text;
}

/** What the sign-in page shows: the token form, or the confirmation of a personal link. */
export interface LoginView {
  /** The sign-in form's CSRF token. */
  csrf: string;
  error?: string;
  /** A valid personal link: whose it is, its signed value for the form, who is signed in now. */
  confirm?: { user: { id: string; name: string }; pending: string; current?: Viewer | null };
}

/**
 * The sign-in page: a form for the token, or, for a personal link,
 * "Sign in as <name> (<id>)?" and a button that POSTs it (a link alone
 * signs no one in, so another site's link cannot switch accounts).
 */
export function loginPage(v: LoginView): string {
  const c = v.confirm;
  const form = c
    ? html`
      <p>Sign in as <strong>${c.user.name}</strong> (${c.user.id})?</p>
      ${c.current && c.current.id !== c.user.id
        ? html`<p class="note">You are signed in as ${c.current.name} (${c.current.id}) in this
browser: this signs you out of that account.</p>`
        : ""}
      <form class="stack" method="post" action="/login">
        <input type="hidden" name="csrf" value="${v.csrf}">
        <input type="hidden" name="pending" value="${c.pending}">
        <div><button type="submit">Sign in as ${c.user.name}</button></div>
      </form>
    `
    : html`
      <p>Open the personal link you received, or paste your token.</p>
      <form class="stack" method="post" action="/login">
        <input type="hidden" name="csrf" value="${v.csrf}">
        <div><label for="token">Token</label>
      <input type="password" id="token" name="token" autocomplete="off" required
      ${v.error ? html`aria-invalid="true" aria-describedby="token-error"` : ""}>
      ${v.error ? html`<p id="token-error" class="error">${v.error}</p>` : ""}</div>
        <div><button type="submit">Sign in</button></div>
      </form>
    `;
  return layout("Sign in", html`<h1>Sign in</h1>${form}`, { viewer: c?.current ?? undefined });
}

/** A column head: its text, whether it holds numbers, a tooltip, its name beside a stacked cell. */
export type Head = string | {
  text: string | Html;
  num?: boolean;
  title?: string;
  /** What a cell of this column says it is when rows stack (default: `text`, if a string). */
  label?: string;
  /** The column's order (`aria-sort`), when the table can be sorted by it. */
  sort?: "ascending" | "descending" | "none";
};

/** A cell's content, or a row's head (`row`: a `<th scope="row">`). */
export type Cell = Html | string | number | null | { row: Html | string };

/**
 * A table: named by a caption for screen readers or by the heading
 * `labelledby`, its column heads, then its rows (one cell a column). On a
 * narrow screen its rows stack (styles.css `table.stack`): each cell then
 * says its column's name.
 */
export function table(
  name: { caption: string } | { labelledby: string } | null,
  heads: readonly Head[],
  rows: readonly (readonly Cell[])[],
): Html {
  const h = heads.map((x) => typeof x === "string" ? { text: x } : x);
  const th = (x: typeof h[number]) =>
    html`
      <th scope="col" ${x.num
        ? html`
          class="num"
        `
        : ""}${x.title
        ? html`
          title="${x.title}"
        `
        : ""}${x.sort
        ? html`
          aria-sort="${x.sort}"
        `
        : ""}>${x.text}</th>
    `;
  const label = (i: number) => {
    const l = h[i]?.label ?? (typeof h[i]?.text === "string" ? h[i].text as string : "");
    return l
      ? html`
        data-label="${l}"
      `
      : "";
  };
  const td = (c: Cell, i: number) => {
    const num = h[i]?.num
      ? html`
        class="num"
      `
      : "";
    return c !== null && typeof c === "object" && "row" in c
      ? html`
        <th scope="row">${c.row}</th>
      `
      : html`<td${num}${label(i)}>${c ?? ""}</td>`;
  };
  return html`
    <div class="table-wrap">
      <table class="stack" ${name && "labelledby" in name
        ? html`
          aria-labelledby="${name.labelledby}"
        `
        : ""}>
    ${name && "caption" in name ? html`<caption class="sr-only">${name.caption}</caption>` : ""}
    <thead><tr>${h.map(th)}</tr></thead>
    <tbody>
    ${rows.map((r) =>
      html`
        <tr>${r.map(td)}</tr>
      `
    )}</tbody>
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

/** A submission's state in a few words: `7/10`, `queued (#3)`, `7/10, being graded again`. */
export function statusText(s: SubmissionJson): string {
  const score = s.score !== null ? `${s.score}/${s.max_grade}` : null;
  if (s.status === "done") return score ?? "done";
  const state = s.status === "queued" && s.position ? `queued (#${s.position})` : s.status;
  return score ? `${score}, ${s.status === "failed" ? "re-run failed" : `re-run ${state}`}` : state;
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
          { text: html`<span class="sr-only">Action</span>` },
        ],
        rows.map((r) => partHomeRow(r, cal)),
      )}
    `,
    { viewer, course, here: "/" },
  );
}

function partHomeRow(r: PartRow, cal: CalendarView): Cell[] {
  const title = PART_TITLES[r.kind];
  return [
    { row: title },
    r.kept === null ? "–" : `${r.kept}${r.maxGrade ? `/${r.maxGrade}` : ""}`,
    attemptsText(r.part),
    partWhen(r.part, cal),
    r.last
      ? html`<a href="/submissions/${r.last.id}">#${r.last.id}</a> ${statusText(r.last)} ·
<a href="/parts/${r.kind}">all<span class="sr-only"> submissions of ${title}</span></a>`
      : html`<span class="muted">none yet</span>`,
    r.part.state === "open"
      ? html`<a href="/submit?kind=${r.kind}">New submission<span class="sr-only"> for ${title}</span></a>`
      : html`<span class="muted">${r.part.state === "closed" ? "closed" : "not open yet"}</span>`,
  ];
}

export interface FormState {
  kind?: Kind;
  sciper?: string;
  error?: string;
  /** The field the error is about. */
  field?: string;
}

/** The classes that show a field for the parts that take it (styles.css, `form.by-part`). */
const forParts = (kinds: readonly Kind[]) => kinds.map((k) => `for-${k}`).join(" ");

/**
 * "New submission": the part, its files, the sciper for part 4's sender.
 * Only the chosen part's fields show (styles.css, without script); a
 * browser without `:has()` shows them all, and the server takes only the
 * part's own.
 */
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
<form class="stack by-part" method="post" action="/submit" enctype="multipart/form-data">
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
    }</select>
${kindError ? html`<p id="kind-error" class="error">${s.error}</p>` : ""}</div>
${
      FILE_FIELDS.map((f) =>
        html`
          <div class="field ${forParts(f.kinds)}"><label for="${f.field}">${f.label}</label>
          <input type="file" id="${f.field}" name="${f.field}" accept="${f.accept}"${invalid(
            f.field,
          )}>
          ${errorFor(f.field)}</div>
        `
      )
    }<div class="field ${
      forParts(["part4-sender"])
    }"><label for="sciper">Your sciper, 6 digits (Part4 - Multicast: Sending multicast messages)</label>
<input type="text" id="sciper" name="sciper" inputmode="numeric" autocomplete="off" value="${
      s.sciper ?? ""
    }"${invalid("sciper")}>
${errorFor("sciper")}</div>
<div><button type="submit">Submit</button></div>
</form>`,
    { viewer, course, here: "/submit" },
  );
}

/** A submission's program output as the page shows it. */
export interface ShownOutput {
  /** Each run's own output (runs.json), or null for a result from before it existed. */
  runs: RunOutput[] | null;
  /** All runs' output together, with the grader's header lines (capped). */
  stdout: string;
  stderr: string;
}

/** A run's output: the grader's words apart, then what the program printed. */
function runOutput(r: RunOutput): Html {
  return html`
    <p class="grader"><span class="sr-only">The grader: </span>the program ${r.end}</p>
    <p class="stream">stdout</p>
    <pre class="output">${r.stdout || "(nothing)"}</pre>
    <p class="stream">stderr</p>
    <pre class="output">${r.stderr || "(nothing)"}</pre>
  `;
}

/**
 * The tests, each with its run's own output under it (open when the test
 * failed), then the runs no test is named after.
 */
function testList(tests: TestRow[], output: ShownOutput | null): Html {
  const runs = output?.runs ?? [];
  const runOf = (name: string) => runs.find((r) => r.test === name);
  const others = runs.filter((r) => !tests.some((t) => t.name === r.test));
  const line = (t: TestRow) =>
    html`<span class="${t.passed ? "pass" : "fail"}">${t.passed ? "PASS" : "FAIL"}</span>
<strong>${t.name}</strong>${
      t.scored === false
        ? html`
          <span class="advice">(advice)</span>
        `
        : ""
    }
<span class="why">${t.detail}</span>`;
  return html`<h2>Tests</h2>
<ol class="tests">
${
    tests.map((t) => {
      const run = runOf(t.name);
      return run
        ? html`
          <li class="test">
            <details${t.passed ? "" : " open"}><summary>${line(t)}</summary>${runOutput(
              run,
            )}</details></li>
        `
        : html`
          <li class="test">
            <div>${line(t)}</div>
          </li>
        `;
    })
  }</ol>
${
    others.length
      ? html`<h2>Other runs of your program</h2>
${others.map((r) => html`<details><summary>${r.test}</summary>${runOutput(r)}</details>`)}`
      : ""
  }
${
    output && output.runs === null
      ? html`<h2>What your program printed</h2>
<h3>stdout</h3>
<pre class="output">${output.stdout || "(nothing)"}</pre>
<h3>stderr</h3>
<pre class="output">${output.stderr || "(nothing)"}</pre>`
      : ""
  }`;
}

function waitText(s: number | null): string {
  if (s === null) return "";
  return s < 90 ? `about ${s} s` : `about ${Math.round(s / 60)} min`;
}

/** Where the job is, in one sentence (a re-run says the result below stays until replaced). */
function statusLine(s: SubmissionJson): Html {
  const kept = s.score !== null ? " Your result below stays until the new one replaces it." : "";
  if (s.status === "queued") {
    return html`<p><span class="status">Queued</span> position ${s.position ?? "?"} in the queue${
      s.estimated_wait_s !== null ? html`; the result in ${waitText(s.estimated_wait_s)}` : ""
    }.${kept}</p>`;
  }
  if (s.status === "running") {
    return html`<p><span class="status">Running</span> your program is being graded${
      s.estimated_wait_s !== null ? html`; done in ${waitText(s.estimated_wait_s)}` : ""
    }.${kept}</p>`;
  }
  if (s.status === "failed") {
    return html`<p><span class="status">Failed</span> the grader could not grade this submission
(${s.error ?? "unknown reason"}). It does not count as an attempt; submit again.${
      s.score !== null ? " The result below is the one it had." : ""
    }</p>`;
  }
  return html`<p><span class="status">Done</span> score <strong>${s.score}/${s.max_grade}</strong>${
    s.success ? " (full marks)" : ""
  }</p>`;
}

/** The part of the submission page that changes: status, then the result (if there is one). */
export function submissionLive(s: SubmissionJson, output: ShownOutput | null): Html {
  const final = s.status === "done" || s.status === "failed";
  const result = s.score !== null
    ? html`${
      s.status === "done"
        ? ""
        : html`<p><strong>Score ${s.score}/${s.max_grade}</strong> (the last grading)</p>`
    }
${testList(s.tests ?? [], output)}
<p><a href="/submissions/${s.id}/archive">Download the submission with its output/ folder</a>${
      s.kind === "ca-sign"
        ? html`
          · <a href="/submissions/${s.id}/certificate">Download the signed certificate</a>
        `
        : ""
    }</p>`
    : "";
  return html`<div data-final="${final ? "1" : "0"}">${statusLine(s)}${result}</div>`;
}

/** A submission's page; the live region refreshes itself until the result is in. */
export function submissionPage(
  viewer: Viewer,
  course: string,
  s: SubmissionJson,
  output: ShownOutput | null,
  zone?: string,
): string {
  const final = s.status === "done" || s.status === "failed";
  const student = viewer.role === "ta"
    ? html`
      Student <a href="${studentPagePath(s.user)}">${s.user}</a> ·
    `
    : "";
  return layout(
    `Submission ${s.id}`,
    html`
      <h1>Submission #${s.id}: ${PART_TITLES[s.kind]}</h1>
      <p
        class="muted">${student}accepted ${zone
          ? shownTime(s.created_at, zone)
          : s.created_at} · ${s.attempt === null
          ? "not an attempt (the grader failed)"
          : `attempt ${s.attempt}`} · files: ${s.files.join(", ")} · <a href="/parts/${s
          .kind}">all submissions of this part</a></p>
      ${s.renamed.map((r) =>
        html`<p class="note">Your file <code>${r.from}</code> was saved as <code>${r.to}</code>:
a name keeps only letters, digits, <code>.</code>, <code>_</code> and <code>-</code>, and no folder.</p>`
      )}
      <section aria-live="polite" aria-label="Result" id="result" ${final ? "" : html`
        data-live="/submissions/${s.id}/live"
      `}>${submissionLive(s, output)}</section>
    `,
    { viewer, course, live: !final, refresh: !final },
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
    subs.map((s) => [
      html`<a href="/submissions/${s.id}">#${s.id}</a>`,
      html`<time datetime="${s.created_at}">${shownTime(s.created_at, zone)}</time>`,
      s.status === "done" ? "done" : statusText(s),
      s.score === null ? "–" : `${s.score}/${s.max_grade}`,
      s.attempt ?? "–",
      counts(s),
      html`
        <a
          href="/submissions/${s.id}/archive">zip<span class="sr-only"> of submission ${s
            .id}</span></a>
      `,
    ]),
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
  return `/course/students/${encodeURIComponent(id)}`;
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

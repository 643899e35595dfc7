/**
 * The scoring service's pages as HTML, from data the handler gathered:
 * no I/O here. Every value goes through the `html` tag (escaped); the
 * handout's names for the parts; headings in order, labels on every input,
 * a live region for status changes.
 *
 * @module
 */
import type { SubmissionJson, WorkerState } from "../submissions.ts";
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

function policyNote(p: Policy): Html {
  return html`<p class="note">Unlimited attempts: your <strong>${p.keep}</strong> score of each
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
}

function statusText(s: SubmissionJson): string {
  if (s.status === "done") return `${s.score}/${s.max_grade}`;
  if (s.status === "queued") return s.position ? `queued (#${s.position})` : "queued";
  return s.status;
}

/** The student's home: each part, its kept score, attempts, the last result. */
export function studentHome(
  viewer: Viewer,
  course: string,
  policy: Policy,
  rows: PartRow[],
  flash?: string,
): string {
  return layout(
    "My parts",
    html`
      <h1>My parts</h1>
      ${flash ? html`<p class="flash" role="status">${flash}</p>` : ""}
      ${policyNote(policy)}
      ${table(
        { caption: "Your score in each part" },
        [
          "Part",
          { text: `${policy.keep === "best" ? "Best" : "Last"} score`, num: true },
          { text: "Attempts", num: true },
          "Last submission",
          html`<span class="sr-only">Action</span>`,
        ],
        rows.map((r) =>
          html`
            <tr>
              <th scope="row">${PART_TITLES[r.kind]}</th>
              <td class="num">${r.kept === null
                ? "–"
                : `${r.kept}${r.maxGrade ? `/${r.maxGrade}` : ""}`}</td>
              <td class="num">${r.attempts}</td>
              <td>${r.last
                ? html`<a href="/submissions/${r.last.id}">#${r.last.id}</a> ${statusText(r.last)}`
                : html`<span class="muted">none yet</span>`}</td>
              <td><a href="/submit?kind=${r
                .kind}">New submission<span class="sr-only"> for ${PART_TITLES[
                  r.kind
                ]}</span></a></td>
            </tr>
          `
        ),
      )}
    `,
    { viewer, course },
  );
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
        : ""}submitted ${s.created_at.replace("T", " ").slice(0, 19)} UTC · files: ${s.files.join(
          ", ",
        )}</p>
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
      html`<tr><th scope="row">${r.id}</th><td>${r.name}</td>${
        MENU.map((k) => cell(r.id, k, r.scores[k]))
      }</tr>`
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

/** The TA's list of a student's (or a part's) submissions. */
export function submissionsPage(
  viewer: Viewer,
  course: string,
  title: string,
  subs: SubmissionJson[],
): string {
  const list = table(
    null,
    ["Submission", "Student", "Part", "Submitted (UTC)", "Status"],
    subs.map((s) =>
      html`
        <tr>
          <td><a href="/submissions/${s.id}">#${s.id}</a></td>
          <td>${s.user}</td>
          <td>${s.kind}</td>
          <td>${s.created_at.replace("T", " ").slice(0, 19)}</td>
          <td>${statusText(s)}</td>
        </tr>
      `
    ),
  );
  return layout(
    title,
    html`<h1>${title}</h1>
${subs.length === 0 ? html`<p>No submissions.</p>` : list}`,
    { viewer, course },
  );
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

/**
 * The teaching assistant's pages (their routes, {@link COURSE_ROUTES}, go
 * into web/pages.ts's table): the overview with the last hour's charts,
 * the grade book (search, sort, pages, histograms), the queue with names,
 * one student, the tools. A re-run is asked first (a page that says how many
 * jobs it queues), done by a POST, and answered with a redirect (Post/
 * Redirect/Get: a reload does not queue it again).
 *
 * @module
 */
import { errorMessage } from "../../errors.ts";
import { sentence } from "../answer.ts";
import {
  countedScores,
  csvField,
  extensionsByStudent,
  gradeBook,
  gradeBookCsv,
  gradeBookOf,
  gradeBookQuery,
  importRoster,
  maxGrades,
  parseRoster,
  queryGradeBook,
} from "../course.ts";
import { download, HttpError, page, redirect } from "../http.ts";
import {
  estimateSeconds,
  extendStudent,
  partsOf,
  rerun,
  submissionsJson,
  workerStates,
} from "../submissions.ts";
import { isKind, type Kind, KINDS, type User } from "../store/store.ts";
import { queueCharts, scoreHistogram } from "./charts.ts";
import {
  gradeBookPage,
  overviewPage,
  PART_SHORT,
  queuePage,
  rerunConfirmPage,
  studentPage,
  submissionsPage,
  toolsPage,
} from "./course_views.ts";
import { formPost, type PageCall, type PageHandler, signed } from "./guards.ts";
import { calendarView } from "./calendar_view.ts";
import { MENU, PART_TITLES, studentPagePath } from "./views.ts";

/** Jobs a queue page lists at most, per status. */
const QUEUE_SHOWN = 500;

async function courseOf({ ctx }: PageCall) {
  return (await ctx.store.getCourse())!;
}

/** /course: counts, workers, the queue's drain time and the last hour in charts. */
const overview: PageHandler = async (c) => {
  const { store } = c.ctx;
  const now = Date.now();
  const [queued, running] = [await store.listJobs("queued"), await store.listJobs("running")];
  const workers = await workerStates(c.ctx, now);
  const slots = workers.filter((w) => w.state === "alive").reduce((n, w) => n + w.slots, 0);
  const recent = await store.recentDurations(20);
  const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null;
  const charts = queueCharts(await store.jobsSince(now - 3_600_000), now);
  return page(overviewPage(c.who, {
    name: (await courseOf(c)).name,
    students: (await store.listUsers("student")).length,
    queued: queued.length,
    running: running.length,
    workers,
    drainS: slots && mean !== null ? estimateSeconds(mean, slots, queued.length) : null,
    charts: [charts.wait, charts.done],
  }));
};

/** /course/gradebook?q=&sort=&dir=&page=: 50 students a page, a histogram per part. */
const gradeBookView: PageHandler = async (c) => {
  const { store } = c.ctx;
  const course = await courseOf(c);
  const cells = await countedScores(store, c.ctx.now());
  const all = gradeBookOf(
    await store.listUsers("student"),
    cells,
    await extensionsByStudent(store),
  );
  const query = gradeBookQuery(c.url.searchParams);
  const found = queryGradeBook(all, query);
  const max = maxGrades(cells);
  const histograms = MENU.map((k) =>
    scoreHistogram(`hist-${k}`, PART_TITLES[k], all.map((r) => r.scores[k]), max[k] ?? 0)
  );
  return page(gradeBookPage(c.who, {
    name: course.name,
    policy: course.policy,
    rows: found.rows,
    query: { ...query, page: found.page },
    matching: found.matching,
    total: all.length,
    pages: found.pages,
    histograms,
  }));
};

/** /course/queue: running and queued jobs with names, the workers. */
const queueView: PageHandler = async (c) => {
  const { store } = c.ctx;
  const now = Date.now();
  return page(queuePage(c.who, {
    name: (await courseOf(c)).name,
    queued: await store.listQueue("queued", QUEUE_SHOWN),
    running: await store.listQueue("running", QUEUE_SHOWN),
    workers: await workerStates(c.ctx, now),
  }, now));
};

/** The student of `id` (as it came in the URL or a form), or a 404. */
async function studentOf(c: PageCall, id: string | undefined | null): Promise<User> {
  const user = id ? await c.ctx.store.getUser(id) : null;
  if (!user || user.role !== "student") throw new HttpError(404, `there is no student '${id}'`);
  return user;
}

/**
 * /course/students/<id>: each part's kept score with a re-run, then its
 * calendar and history, and the extension form; `flash` on top (a refused
 * extension says why, with `status`).
 */
async function studentOverview(c: PageCall, id: string | undefined, flash?: string, status = 200) {
  const { ctx } = c;
  const student = await studentOf(c, id);
  const { course, parts } = await partsOf(ctx, student.id);
  const subs = await submissionsJson(ctx, await ctx.store.listSubmissions({ userId: student.id }));
  const cal = await calendarView(ctx, parts);
  const view = { name: course.name, student, policy: course.policy, parts, subs, cal, flash };
  return page(studentPage(c.who, view), status);
}

const studentView: PageHandler = (c) => studentOverview(c, c.params.id);

/** The extension form of a student's page: a later close and/or more attempts. */
const extensionPost = formPost(async (c, form) => {
  const id = c.params.id ?? "";
  const field = (name: string) => String(form.get(name) ?? "").trim();
  const kind = field("kind");
  const attempts = field("attempts");
  if (kind !== "" && !isKind(kind)) {
    return await studentOverview(c, id, `'${kind}' is not a part`, 400);
  }
  if (attempts !== "" && !/^\d{1,6}$/.test(attempts)) {
    return await studentOverview(c, id, "Attempts: a whole number, 0 or more.", 400);
  }
  if (field("until") === "" && attempts === "") {
    return await studentOverview(c, id, "Give a close, a number of attempts, or both.", 400);
  }
  try {
    await extendStudent(c.ctx, id, {
      kind: kind === "" ? null : kind as Kind,
      until: field("until") || undefined,
      attempts: attempts === "" ? undefined : Number(attempts),
    });
  } catch (e) {
    if (e instanceof HttpError && e.status === 400) {
      return await studentOverview(c, id, sentence(e.message), 400);
    }
    throw e;
  }
  return redirect(studentPagePath(id));
});

/** What the tools page says after a re-run (the redirect's query: numbers and ids only). */
function rerunFlash(q: URLSearchParams): string | undefined {
  const kind = q.get("rerun");
  const n = Number(q.get("queued"));
  if (!kind || !isKind(kind) || !Number.isInteger(n)) return undefined;
  const user = q.get("user");
  return `${n} job(s) queued: the graded ${PART_SHORT[kind]} submissions of ${
    user ? user : "every student"
  } run again.`;
}

const tools: PageHandler = async (c) =>
  page(toolsPage(c.who, (await courseOf(c)).name, { flash: rerunFlash(c.url.searchParams) }));

/** The part and the student (or everyone) of a re-run, from a query or a form. */
async function rerunTarget(
  c: PageCall,
  kindRaw: unknown,
  userRaw: unknown,
): Promise<{ kind: Kind; student: User | null }> {
  const kind = String(kindRaw ?? "");
  if (!isKind(kind)) throw new HttpError(400, `'${kind}' is not a part (${KINDS.join(", ")})`);
  const user = typeof userRaw === "string" ? userRaw.trim() : "";
  return { kind, student: user ? await studentOf(c, user) : null };
}

/** GET /course/rerun?kind=&user=: how many jobs it would queue, and a button. */
const rerunConfirm: PageHandler = async (c) => {
  const q = c.url.searchParams;
  const { kind, student } = await rerunTarget(c, q.get("kind"), q.get("user"));
  const subs = await c.ctx.store.listSubmissions({ kind, userId: student?.id, status: "done" });
  return page(rerunConfirmPage(c.who, (await courseOf(c)).name, {
    kind,
    student,
    count: subs.length,
  }));
};

/** POST /course/rerun: queue them, then see the tools page (a reload queues nothing). */
const rerunPost = formPost(async (c, form) => {
  const { kind, student } = await rerunTarget(c, form.get("kind"), form.get("user"));
  const n = await rerun(c.ctx, kind, student?.id);
  const q = new URLSearchParams({ rerun: kind, queued: String(n) });
  if (student) q.set("user", student.id);
  return redirect(`/course/tools?${q}`);
});

/** The roster from the tools page: imported, and the new students' links as a CSV to save. */
const importRosterFile = formPost(async (c, form) => {
  const name = (await courseOf(c)).name;
  const refuse = (error: string) => page(toolsPage(c.who, name, { error }), 400);
  const file = form.get("roster");
  if (!file || typeof file === "string" || file.size === 0) {
    return refuse("Choose a roster CSV file to import.");
  }
  let rows;
  try {
    rows = parseRoster(new Uint8Array(await file.arrayBuffer()));
  } catch (e) {
    return refuse(errorMessage(e));
  }
  const { added, updated } = await importRoster(c.ctx.store, rows);
  c.ctx.log(`roster: ${added.length} added, ${updated} updated (web)`);
  // The browser's origin: behind a TLS proxy, the address students use.
  const base = c.req.headers.get("origin") ?? c.url.origin;
  const lines = ["id,token,link"];
  for (const a of added) {
    const link = `${base}/login?token=${encodeURIComponent(a.token)}`;
    lines.push([a.id, a.token, link].map(csvField).join(","));
  }
  return download(lines.join("\n") + "\n", "text/csv; charset=utf-8", "tokens.csv");
});

const exportCsv: PageHandler = async ({ ctx }) =>
  download(
    gradeBookCsv(await gradeBook(ctx.store, ctx.now())),
    "text/csv; charset=utf-8",
    "gradebook.csv",
  );

/** /course/submissions?user=&kind=: a part's submissions (a student's: their page). */
const submissionList: PageHandler = async ({ ctx, who, url }) => {
  const userId = url.searchParams.get("user") ?? undefined;
  const kindRaw = url.searchParams.get("kind") ?? undefined;
  const kind = kindRaw && isKind(kindRaw) ? kindRaw : undefined;
  if (userId !== undefined && kind === undefined) return redirect(studentPagePath(userId));
  const subs = await ctx.store.listSubmissions({ userId, kind, limit: 500 });
  const title = `Submissions${userId ? ` of ${userId}` : ""}${kind ? ` for ${kind}` : ""}`;
  const course = (await ctx.store.getCourse())!;
  const rows = await submissionsJson(ctx, subs);
  return page(submissionsPage(who, course.name, title, rows, course.calendar.timezone));
};

/** The teaching assistant's pages, for web/pages.ts's table. */
export const COURSE_ROUTES = [
  signed("GET", "/course", "ta", overview),
  signed("GET", "/course/gradebook", "ta", gradeBookView),
  signed("GET", "/course/queue", "ta", queueView),
  signed("GET", "/course/students/:id", "ta", studentView),
  signed("POST", "/course/students/:id/extension", "ta", extensionPost),
  signed("GET", "/course/tools", "ta", tools),
  signed("GET", "/course/rerun", "ta", rerunConfirm),
  signed("POST", "/course/rerun", "ta", rerunPost),
  signed("POST", "/course/roster", "ta", importRosterFile),
  signed("GET", "/course/export.csv", "ta", exportCsv),
  signed("GET", "/course/submissions", "ta", submissionList),
];

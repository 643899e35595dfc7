/**
 * The course: its creation (database, policy, calendar, the course CA, the
 * teaching assistant), the roster, extensions, and the grade book.
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { errorMessage, RunError, UsageError } from "../errors.ts";
import { caFiles, caInit, exists } from "../tls/ca.ts";
import { issueToken } from "./auth.ts";
import { windowOf } from "./calendar.ts";
import { dbPath, openStore, redactUrl } from "./store/open.ts";
import {
  type Calendar,
  DEFAULT_CALENDAR,
  DEFAULT_POLICY,
  type Extension,
  type GradeCell,
  type Kind,
  KINDS,
  type Policy,
  type Store,
  type SubmissionScore,
} from "./store/store.ts";

/** The teaching assistant's user id. */
export const TA_ID = "ta";

/** The course CA of a data directory: `DIR/ca.crt` (public) and `DIR/ca.key` (0600). */
export function courseCa(dataDir: string): { dir: string; cert: string; key: string } {
  return { dir: dataDir, ...caFiles(dataDir) };
}

/**
 * Create a course in `dataDir` (made 0700 if new): the database (SQLite in
 * `dataDir`, or PostgreSQL at `opts.db`) with the policy, the course CA (its
 * key stays in `dataDir`; its certificate also goes into the database, for
 * workers on other machines), the teaching assistant. Returns the TA's token.
 */
export async function initCourse(
  dataDir: string,
  opts: { name?: string; policy?: Partial<Policy>; calendar?: Partial<Calendar>; db?: string } = {},
): Promise<string> {
  if (opts.db === undefined && await exists(dbPath(dataDir))) {
    throw new RunError(`${dataDir} already holds a course (${dbPath(dataDir)})`);
  }
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new RunError(`cannot create ${dataDir}: ${errorMessage(e)}`);
  }
  const ca = courseCa(dataDir);
  if (!(await exists(ca.key))) await caInit({ dir: dataDir, cn: "socklab course CA" });
  await Deno.chmod(ca.key, 0o600);
  const store = await openStore({ data: dataDir, db: opts.db });
  try {
    if (opts.db === undefined) await Deno.chmod(dbPath(dataDir), 0o600);
    else if (await store.getCourse()) {
      throw new RunError(`the database ${redactUrl(opts.db)} already holds a course`);
    }
    await store.createCourse({
      name: opts.name ?? "TCP/IP Networking, Lab 3",
      policy: { ...DEFAULT_POLICY, ...opts.policy },
      calendar: { ...DEFAULT_CALENDAR, ...opts.calendar },
      createdAt: Date.now(),
    });
    await store.setCaCert(await Deno.readTextFile(ca.cert));
    await store.upsertUser({ id: TA_ID, name: "Teaching assistant", email: "", role: "ta" });
    return await issueToken(store, TA_ID);
  } finally {
    await store.close();
  }
}

/**
 * Open the store of an existing course (SQLite in `dataDir`, or PostgreSQL
 * at `db`), or say how to make one.
 */
export async function openCourse(dataDir: string | undefined, db?: string): Promise<Store> {
  if (db !== undefined) {
    const store = await openStore({ db });
    if (!(await store.getCourse())) {
      await store.close();
      throw new RunError(
        `no course in ${redactUrl(db)}; create one with 'socklab course init --data DIR --db URL'`,
      );
    }
    return store;
  }
  if (dataDir === undefined) throw new RunError("no course: give --data DIR or --db URL");
  if (!(await exists(dbPath(dataDir)))) {
    throw new RunError(
      `no course in ${dataDir}; create one with 'socklab course init --data ${dataDir}'`,
    );
  }
  return await openStore({ data: dataDir });
}

/** A student id: what the roster may use (it appears in URLs and file names). */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface RosterRow {
  id: string;
  name: string;
  email: string;
}

/**
 * A roster file's text: UTF-8 (with or without a BOM), or UTF-16 with its
 * BOM (a spreadsheet's "Unicode text"). Anything else (Latin-1, Windows-1252)
 * is refused rather than turning accented names into U+FFFD in the grade book.
 */
export function rosterText(bytes: Uint8Array): string {
  const encoding = bytes[0] === 0xff && bytes[1] === 0xfe
    ? "utf-16le"
    : bytes[0] === 0xfe && bytes[1] === 0xff
    ? "utf-16be"
    : "utf-8";
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError("roster: the file is not UTF-8 text: save it as 'CSV UTF-8'");
  }
}

/**
 * Parse a roster CSV (header with id, name, email; other columns ignored);
 * bytes are decoded by {@link rosterText}.
 */
export function parseRoster(input: string | Uint8Array): RosterRow[] {
  const text = typeof input === "string" ? input : rosterText(input);
  let records: Record<string, string>[];
  try {
    records = parse(text, {
      columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()),
      bom: true,
      skip_empty_lines: true,
      trim: true,
    });
  } catch (e) {
    throw new UsageError(`roster: ${errorMessage(e)}`);
  }
  if (records.length === 0) return [];
  for (const col of ["id", "name", "email"]) {
    if (!(col in records[0])) throw new UsageError(`roster: no '${col}' column in the header`);
  }
  return records.map((r, i) => {
    if (!ID_RE.test(r.id)) {
      throw new UsageError(
        `roster line ${i + 2}: id '${r.id}' must be letters, digits, . _ @ - (at most 64)`,
      );
    }
    if (r.id === TA_ID) throw new UsageError(`roster line ${i + 2}: id '${TA_ID}' is reserved`);
    return { id: r.id, name: r.name, email: r.email };
  });
}

/**
 * Import the roster: new students get a token (returned, to be shown once),
 * existing ones are updated and keep theirs.
 */
export async function importRoster(
  store: Store,
  rows: RosterRow[],
): Promise<{ added: { id: string; token: string }[]; updated: number }> {
  const added: { id: string; token: string }[] = [];
  let updated = 0;
  for (const r of rows) {
    const { created } = await store.upsertUser({ ...r, role: "student" });
    if (created) added.push({ id: r.id, token: await issueToken(store, r.id) });
    else updated++;
  }
  return { added, updated };
}

/** Each student's extensions, by student id. */
export async function extensionsByStudent(store: Store): Promise<Map<string, Extension[]>> {
  const by = new Map<string, Extension[]>();
  for (const e of await store.listExtensions()) by.set(e.userId, [...by.get(e.userId) ?? [], e]);
  return by;
}

/**
 * Every student's kept score of every part as of `asOf`: the best (or last)
 * among the submissions received before `asOf` and before that student's own
 * close of that part (their extension's, or the calendar's). A TA re-run of
 * such a submission counts with its new score, whenever it ran. `userId`:
 * that student's only.
 */
export async function countedScores(
  store: Store,
  asOf: number,
  userId?: string,
): Promise<GradeCell[]> {
  const { policy, calendar } = (await store.getCourse())!;
  const extensions = await extensionsByStudent(store);
  const counts = (s: SubmissionScore) => {
    const { closes } = windowOf(calendar, s.kind, extensions.get(s.userId) ?? []);
    return s.receivedAt <= asOf && (closes === null || s.receivedAt < closes);
  };
  return await store.keptScores(policy.keep, { userId, counts });
}

/**
 * Grant `userId` an extension for `kind` (null: every part): a later close
 * and/or `attempts` more; what is not given stays as an earlier extension
 * of theirs had it. Returns what they now have.
 */
export async function extend(
  store: Store,
  userId: string,
  change: { kind: Kind | null; until?: number | null; attempts?: number },
  now: number,
): Promise<Extension> {
  const user = await store.getUser(userId);
  if (user?.role !== "student") throw new RunError(`no student '${userId}'`);
  const old = (await store.listExtensions(userId)).find((e) => e.kind === change.kind);
  const e: Extension = {
    userId,
    kind: change.kind,
    until: change.until !== undefined ? change.until : old?.until ?? null,
    attempts: change.attempts ?? old?.attempts ?? 0,
    grantedAt: now,
  };
  await store.setExtension(e);
  return e;
}

export interface GradeBookRow {
  id: string;
  name: string;
  scores: Record<Kind, number | null>;
  /** Whether the student has an extension (a later close or more attempts). */
  extended: boolean;
}

/** One row per student, each kind's kept score as of `asOf` ({@link countedScores}). */
export async function gradeBook(store: Store, asOf: number): Promise<GradeBookRow[]> {
  const cells = await countedScores(store, asOf);
  return gradeBookOf(await store.listUsers("student"), cells, await extensionsByStudent(store));
}

/** The grade book of `students` from their kept scores and their extensions. */
export function gradeBookOf(
  students: readonly { id: string; name: string }[],
  cells: readonly GradeCell[],
  extensions: ReadonlyMap<string, readonly Extension[]>,
): GradeBookRow[] {
  const byUser = Map.groupBy(cells, (c) => c.userId);
  return students.map((u) => {
    const scores = Object.fromEntries(KINDS.map((k) => [k, null])) as Record<Kind, number | null>;
    for (const c of byUser.get(u.id) ?? []) scores[c.kind] = c.score;
    return { id: u.id, name: u.name, scores, extended: extensions.has(u.id) };
  });
}

/**
 * A CSV field, quoted when it must be. Text that a spreadsheet would take for
 * a formula (it starts with = + - @, a tab or a carriage return: a roster
 * name like `=HYPERLINK(...)`) gets a leading `'`, as OWASP advises against
 * CSV injection, so that the LMS or Excel shows it as text; numbers are kept.
 */
export function csvField(v: string): string {
  if (/^[=+\-@\t\r]/.test(v) && !/^-?\d+(\.\d+)?$/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The grade book as CSV, header `id,name,part2,...,ca-sign`. */
export function gradeBookCsv(rows: GradeBookRow[]): string {
  const lines = [["id", "name", ...KINDS].join(",")];
  for (const r of rows) {
    lines.push(
      [r.id, r.name, ...KINDS.map((k) => r.scores[k]?.toString() ?? "")].map(csvField).join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/** How the teaching assistant looks at the grade book: a search, a column's order, a page. */
export interface GradeBookQuery {
  /** Part of an id or a name (case and accents ignored); empty: everyone. */
  q: string;
  sort: "id" | "name" | Kind;
  dir: "asc" | "desc";
  /** 1-based. */
  page: number;
}

/** Students a grade book page shows. */
export const GRADEBOOK_PAGE = 50;

/** The query of `?q=&sort=&dir=&page=`; anything unknown is the default. */
export function gradeBookQuery(p: URLSearchParams): GradeBookQuery {
  const sort = p.get("sort") ?? "id";
  return {
    q: (p.get("q") ?? "").trim().slice(0, 100),
    sort: sort === "name" || (KINDS as readonly string[]).includes(sort)
      ? sort as GradeBookQuery["sort"]
      : "id",
    dir: p.get("dir") === "desc" ? "desc" : "asc",
    page: Math.max(1, Math.floor(Number(p.get("page"))) || 1),
  };
}

/** Text to search in: lower case, accents off (`Zoé` matches `zoe`). */
function folded(s: string): string {
  return s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * The rows of a grade book page: those whose id or name holds `q`, in the
 * column's order (no score last, whatever the direction), `GRADEBOOK_PAGE`
 * a page (the page is kept within the pages there are).
 */
export function queryGradeBook(
  rows: readonly GradeBookRow[],
  query: GradeBookQuery,
): { rows: GradeBookRow[]; matching: number; page: number; pages: number } {
  const q = folded(query.q);
  const found = q ? rows.filter((r) => folded(r.id).includes(q) || folded(r.name).includes(q)) : [
    ...rows,
  ];
  const sign = query.dir === "asc" ? 1 : -1;
  const col = query.sort;
  found.sort((a, b) => {
    if (col === "id" || col === "name") return sign * a[col].localeCompare(b[col]);
    const [x, y] = [a.scores[col], b.scores[col]];
    if (x === null || y === null) return x === y ? a.id.localeCompare(b.id) : x === null ? 1 : -1;
    return sign * (x - y) || a.id.localeCompare(b.id);
  });
  const pages = Math.max(1, Math.ceil(found.length / GRADEBOOK_PAGE));
  const page = Math.min(query.page, pages);
  return {
    rows: found.slice((page - 1) * GRADEBOOK_PAGE, page * GRADEBOOK_PAGE),
    matching: found.length,
    page,
    pages,
  };
}

/** Each part's most points: the largest max_grade of its kept scores (null: none yet). */
export function maxGrades(cells: readonly GradeCell[]): Record<Kind, number | null> {
  const max = Object.fromEntries(KINDS.map((k) => [k, null])) as Record<Kind, number | null>;
  for (const c of cells) max[c.kind] = Math.max(max[c.kind] ?? 0, c.maxGrade);
  return max;
}

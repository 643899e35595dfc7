/**
 * A course's backups, taken while `serve` and its workers run:
 * `course backup` writes one tar file (gzip'd if its name ends in `.gz` or
 * `.tgz`) holding
 *
 * - `socklab.db`: a consistent copy of the SQLite database (`VACUUM INTO`:
 *   one read transaction, so every submission committed before it began is
 *   in it, with its files, jobs, results and result files: the archives a
 *   student downloads are made from these rows);
 * - the course CA (`ca.crt`, `ca.key`), the session key, the HTTPS identity
 *   `--tls-self-signed` made (`https/`), if there;
 * - `socklab-backup.json`: the manifest (when, schema version, row counts,
 *   the SHA-256 of every file).
 *
 * On PostgreSQL (`--db`) the database is not in the file: the backup holds
 * the data directory's keys, and the database is dumped with `pg_dump`
 * (README "Backups"). `course restore` unpacks into a new directory, checks
 * every file's digest and the database, and only then puts the directory in
 * place; `course check` reads a course and says what is wrong with it.
 *
 * tar (GNU tar, in every Debian) rather than fflate's zip: fflate writes no
 * ZIP64, and a semester's database with its packet captures can pass 4 GiB;
 * tar streams from disk, and a teaching assistant can open the file by hand.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { errorMessage, RunError } from "../errors.ts";
import { exists } from "../tls/ca.ts";
import { courseCa, openCourse } from "./course.ts";
import { KIND_FILES } from "./job.ts";
import { MIGRATIONS } from "./store/migrations.ts";
import { dbPath } from "./store/open.ts";
import { SqliteStore } from "./store/sqlite.ts";
import type { Audit } from "./store/store.ts";

/** The manifest's name inside a backup. */
export const MANIFEST = "socklab-backup.json";

/** The data directory's files a backup holds besides the database (those that exist). */
export const DATA_FILES = [
  "ca.crt",
  "ca.key",
  "session.key",
  "https/server.crt",
  "https/server.key",
  "https/names.txt",
];

export interface Manifest {
  format: "socklab-backup";
  version: 1;
  created_at: string;
  /** `sqlite` (socklab.db is in the backup) or `postgresql` (pg_dump it). */
  database: "sqlite" | "postgresql";
  schema_version: number;
  /** The copied database's rows (SQLite only). */
  counts?: Audit["counts"];
  /** Every file of the backup but the manifest: its SHA-256, hex. */
  files: Record<string, string>;
}

/** The SHA-256 of a file, read as a stream (a database can be large). */
async function sha256File(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** Run tar; a failure is a RunError with tar's own words. */
async function tar(args: string[], what: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("tar", { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    throw new RunError(`${what}: cannot run tar: ${errorMessage(e)}`);
  }
  const text = new TextDecoder();
  if (!out.success) {
    throw new RunError(`${what}: ${text.decode(out.stderr).trim().split("\n").at(-1)}`);
  }
  return text.decode(out.stdout);
}

/** A private temporary directory beside `path` (same file system: the final rename is atomic). */
async function stagingBeside(path: string): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: dirname(path), prefix: `.${basename(path)}-` });
  await Deno.chmod(dir, 0o700);
  return dir;
}

/** The database's audit (integrity and row counts) of the SQLite file at `path`. */
async function auditFile(path: string): Promise<Audit> {
  const store = new SqliteStore(path);
  try {
    return await store.audit();
  } finally {
    await store.close();
  }
}

/**
 * Back the course of `data` (SQLite, or PostgreSQL at `db`: then only the
 * data directory's keys) up into the new file `out` (mode 0600: it holds the
 * CA's key), while the service runs. Returns the manifest.
 */
export async function backupCourse(opts: { data: string; db?: string; out: string }) {
  if (await exists(opts.out)) throw new RunError(`${opts.out} exists: choose a new name`);
  if (!(await exists(courseCa(opts.data).key))) {
    throw new RunError(`no course CA in ${opts.data} (${courseCa(opts.data).key})`);
  }
  const staging = await stagingBeside(opts.out);
  try {
    const manifest: Manifest = {
      format: "socklab-backup",
      version: 1,
      created_at: new Date().toISOString(),
      database: opts.db === undefined ? "sqlite" : "postgresql",
      schema_version: MIGRATIONS.at(-1)!.version,
      files: {},
    };
    if (opts.db === undefined) {
      const store = await openCourse(opts.data);
      try {
        await (store as SqliteStore).copyTo(join(staging, "socklab.db"));
      } finally {
        await store.close();
      }
      await Deno.chmod(join(staging, "socklab.db"), 0o600);
      const audit = await auditFile(join(staging, "socklab.db"));
      if (audit.integrity.length) {
        throw new RunError(`the copy of the database is damaged: ${audit.integrity[0]}`);
      }
      manifest.counts = audit.counts;
      manifest.files["socklab.db"] = await sha256File(join(staging, "socklab.db"));
    }
    for (const f of DATA_FILES) {
      if (!(await exists(join(opts.data, f)))) continue;
      await Deno.mkdir(dirname(join(staging, f)), { recursive: true, mode: 0o700 });
      await Deno.copyFile(join(opts.data, f), join(staging, f));
      manifest.files[f] = await sha256File(join(staging, f));
    }
    await Deno.writeTextFile(join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
    const partial = join(staging, basename(opts.out));
    await tar(
      ["-c", "-a", "-f", partial, "-C", staging, MANIFEST, ...Object.keys(manifest.files)],
      `writing ${opts.out}`,
    );
    await Deno.chmod(partial, 0o600);
    await Deno.rename(partial, opts.out);
    return manifest;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** The backup's manifest, checked against the files unpacked in `dir`. */
async function verifiedManifest(dir: string, from: string): Promise<Manifest> {
  let m: Manifest;
  try {
    m = JSON.parse(await Deno.readTextFile(join(dir, MANIFEST)));
  } catch {
    throw new RunError(`${from} is not a socklab backup (no readable ${MANIFEST})`);
  }
  if (m.format !== "socklab-backup" || m.version !== 1) {
    throw new RunError(`${from}: not a backup this socklab reads (${m.format} ${m.version})`);
  }
  for (const need of ["ca.crt", "ca.key", ...(m.database === "sqlite" ? ["socklab.db"] : [])]) {
    if (!(need in m.files)) throw new RunError(`${from}: ${need} is missing`);
  }
  for (const [name, sha] of Object.entries(m.files)) {
    if (!DATA_FILES.includes(name) && name !== "socklab.db") {
      throw new RunError(`${from}: unexpected file ${name}`);
    }
    const file = await Deno.lstat(join(dir, name)).catch(() => null);
    if (!file?.isFile || await sha256File(join(dir, name)) !== sha) {
      throw new RunError(`${from}: ${name} is damaged or missing (its SHA-256 differs)`);
    }
  }
  return m;
}

/**
 * Restore the backup `from` into the new directory `data` (made 0700). The
 * files are unpacked beside it, their digests and the database checked, and
 * only a sound course is renamed into place. Returns the manifest.
 */
export async function restoreCourse(opts: { from: string; data: string }): Promise<Manifest> {
  if (await exists(opts.data)) {
    throw new RunError(`${opts.data} exists: restore into a new directory`);
  }
  const staging = await stagingBeside(opts.data);
  try {
    const members = (await tar(["-t", "-f", opts.from], `reading ${opts.from}`)).split("\n")
      .filter((m) => m && !m.endsWith("/"));
    const allowed = [MANIFEST, "socklab.db", ...DATA_FILES];
    const odd = members.find((m) => !allowed.includes(m));
    if (odd) throw new RunError(`${opts.from}: unexpected member '${odd}': not a socklab backup`);
    await tar(
      ["-x", "-f", opts.from, "-C", staging, "--no-same-owner", ...new Set(members)],
      `unpacking ${opts.from}`,
    );
    const m = await verifiedManifest(staging, opts.from);
    if (m.database === "sqlite") {
      const audit = await auditFile(dbPath(staging));
      if (audit.integrity.length) {
        throw new RunError(`the database is damaged: ${audit.integrity[0]}`);
      }
      if (JSON.stringify(audit.counts) !== JSON.stringify(m.counts)) {
        throw new RunError(`the database's rows differ from the manifest's counts`);
      }
    }
    for (const f of [...Object.keys(m.files), "https"]) {
      await Deno.chmod(join(staging, f), f === "ca.crt" ? 0o644 : f === "https" ? 0o700 : 0o600)
        .catch(() => {}); // https/ only if it was backed up
    }
    await Deno.remove(join(staging, MANIFEST));
    await Deno.rename(staging, opts.data);
    return m;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** One line of `course check`: what was checked, and whether it holds. */
export interface Finding {
  ok: boolean;
  what: string;
}

/** The course CA: both files, the key 0600, the key matching the certificate and the database's copy. */
async function caFindings(data: string, dbCert: string | null): Promise<Finding[]> {
  const ca = courseCa(data);
  let cert: string, key: string;
  try {
    [cert, key] = await Promise.all([ca.cert, ca.key].map((p) => Deno.readTextFile(p)));
  } catch (e) {
    return [{ ok: false, what: `the course CA in ${data} is unreadable: ${errorMessage(e)}` }];
  }
  const { X509Certificate, createPrivateKey, createPublicKey } = await import("node:crypto");
  const spki = (k: import("node:crypto").KeyObject) =>
    k.export({ type: "spki", format: "der" }).toString("base64");
  let matches = false;
  try {
    matches = spki(new X509Certificate(cert).publicKey) ===
      spki(createPublicKey(createPrivateKey(key)));
  } catch { /* unreadable PEM: not a match */ }
  const mode = (await Deno.stat(ca.key)).mode! & 0o777;
  return [
    { ok: matches, what: `the course CA's key ${ca.key} belongs to its certificate ${ca.cert}` },
    {
      ok: (mode & 0o077) === 0,
      what: `${ca.key} is readable by its owner only (mode ${mode.toString(8)})`,
    },
    { ok: dbCert === cert, what: "the database's copy of the CA certificate is ca.crt" },
  ];
}

/**
 * Check a course: the database's own integrity, every done job's result,
 * every submission's files, every signed certificate, the course CA.
 */
export async function checkCourse(opts: { data: string; db?: string }): Promise<Finding[]> {
  const store = await openCourse(opts.data, opts.db);
  let audit: Audit, dbCert: string | null;
  try {
    [audit, dbCert] = [await store.audit(), await store.getCaCert()];
  } finally {
    await store.close();
  }
  const { users, submissions, jobs, results } = audit.counts;
  const short = audit.submissionFiles.filter((s) => s.files !== KIND_FILES[s.kind].length);
  const list = (ids: number[]) => ids.slice(0, 10).join(", ") + (ids.length > 10 ? ", ..." : "");
  return [
    {
      ok: audit.integrity.length === 0,
      what: audit.integrity.length
        ? `the database is damaged: ${audit.integrity.slice(0, 3).join("; ")}`
        : `the database is sound (${users} users, ${submissions} submissions, ${jobs} jobs, ` +
          `${results} results)`,
    },
    {
      ok: audit.doneWithoutResult.length === 0,
      what: audit.doneWithoutResult.length
        ? `done jobs without a result: ${list(audit.doneWithoutResult)}`
        : "every done job has its result",
    },
    {
      ok: short.length === 0,
      what: short.length
        ? `submissions missing files: ${list(short.map((s) => s.id))}`
        : "every submission has all its files",
    },
    {
      ok: audit.signedWithoutCert.length === 0,
      what: audit.signedWithoutCert.length
        ? `signed ca-sign jobs without their certificate: ${list(audit.signedWithoutCert)}`
        : "every signed certificate is there",
    },
    ...await caFindings(opts.data, dbCert),
  ];
}

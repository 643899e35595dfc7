/**
 * A private, throwaway PostgreSQL cluster for the tests and `deno task rush`:
 * `initdb` in a fresh temporary directory, `postgres` (a child of this
 * process) on a free local
 * port, listening only on 127.0.0.1 (plus any address asked for, e.g. the
 * host end of a veth pair into a test's network namespace) and on a unix
 * socket inside that directory, password authentication (scram-sha-256)
 * with a random password. `stop()` stops the server (immediate shutdown)
 * and removes the directory; `await using` does it for you.
 *
 * PostgreSQL refuses to run as root: when this process is root (CI), the
 * cluster runs as the `postgres` user (Debian's package creates it) through
 * `setpriv`, which execs (no process in between to forward signals). The binaries come from `$SOCKLAB_PG_BIN`, or the highest
 * `/usr/lib/postgresql/<version>/bin` (Debian's layout), or `PATH`.
 *
 * As a script it starts a cluster, prints its URL on stdout, and stops and
 * removes it on Ctrl-C / SIGTERM:
 *
 * ```sh
 * deno run --allow-all scripts/lib/pg_cluster.ts [--listen 10.231.0.1]
 * ```
 *
 * @module
 */
import { LineReader } from "../../mod/proc/lines.ts";
import { freeTcpPort } from "../../mod/net/ports.ts";

/** A running cluster. */
export interface PgCluster extends AsyncDisposable {
  /** `postgres://socklab:<password>@127.0.0.1:<port>/socklab` */
  readonly url: string;
  readonly port: number;
  readonly password: string;
  /** The temporary directory (data, log, unix socket). */
  readonly dir: string;
  /** The server's process id (the postmaster, a child of this process). */
  readonly pid: number;
  /** What the server logged so far. */
  log(): string;
  /** The URL of the same database through another listen address. */
  urlFor(host: string): string;
  /** A fresh, empty database in this cluster; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stop the server and remove the directory (idempotent). */
  stop(): Promise<void>;
}

export interface PgClusterOptions {
  /** Extra addresses to listen on (each must exist on this host), e.g. a veth end. */
  listen?: string[];
  /** Networks (CIDR) allowed to connect besides 127.0.0.1, e.g. `10.231.0.0/30`. */
  allow?: string[];
  /** Keep fsync and synchronous commits on (a benchmark); default off (tests). */
  durable?: boolean;
  /** max_connections (default 100). */
  maxConnections?: number;
}

const USER = "socklab";

/** Where the PostgreSQL server binaries are, or an error that says what to install. */
export function pgBinDir(): string {
  const env = Deno.env.get("SOCKLAB_PG_BIN");
  if (env) return env;
  const exists = (path: string) => {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  };
  const versions: number[] = [];
  try {
    for (const e of Deno.readDirSync("/usr/lib/postgresql")) {
      if (/^\d+$/.test(e.name)) versions.push(Number(e.name));
    }
  } catch { /* not Debian's layout */ }
  for (const v of versions.sort((a, b) => b - a)) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (exists(`${dir}/initdb`)) return dir;
  }
  for (const p of (Deno.env.get("PATH") ?? "").split(":")) {
    if (p && exists(`${p}/initdb`)) return p;
  }
  throw new Error(
    "PostgreSQL server binaries not found (install Debian's postgresql, or set SOCKLAB_PG_BIN)",
  );
}

async function uidOf(user: string): Promise<{ uid: number; gid: number }> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`PostgreSQL cannot run as root and there is no '${user}' user to run it`);
}

async function run(argv: string[], what: string): Promise<string> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`${what} failed: ${text.trim().split("\n").slice(-3).join(" ")}`);
  }
  return text;
}

/** Start a private cluster. Throws with the reason if it cannot. */
export async function startPgCluster(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = pgBinDir();
  const root = Deno.uid() === 0;
  // setpriv execs (no process in between): the server is this process's child.
  const asUser = root
    ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
    : [];
  const dir = await Deno.makeTempDir({ prefix: "socklab-pg-" });
  const data = `${dir}/data`;
  const password = Array.from(crypto.getRandomValues(new Uint8Array(12)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  let server: { child: Deno.ChildProcess; log: LineReader; port: number } | undefined;
  try {
    if (root) {
      const { uid, gid } = await uidOf("postgres");
      await Deno.chown(dir, uid, gid);
    }
    await Deno.writeTextFile(`${dir}/pw`, password + "\n");
    if (root) {
      const { uid, gid } = await uidOf("postgres");
      await Deno.chown(`${dir}/pw`, uid, gid);
    }
    await run([
      ...asUser,
      `${bin}/initdb`,
      "-D",
      data,
      "-U",
      USER,
      "--auth=scram-sha-256",
      `--pwfile=${dir}/pw`,
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ], "initdb");
    await Deno.remove(`${dir}/pw`);
    const hba = ["local all all scram-sha-256", "host all all 127.0.0.1/32 scram-sha-256"];
    for (const net of opts.allow ?? []) hba.push(`host all all ${net} scram-sha-256`);
    await Deno.writeTextFile(`${data}/pg_hba.conf`, hba.join("\n") + "\n");
    const durable = opts.durable ?? false;
    const listen = ["127.0.0.1", ...(opts.listen ?? [])].join(",");
    const conf = [
      `listen_addresses = '${listen}'`,
      `unix_socket_directories = '${dir}'`,
      `max_connections = ${opts.maxConnections ?? 100}`,
      "shared_buffers = 32MB",
      `fsync = ${durable ? "on" : "off"}`,
      `synchronous_commit = ${durable ? "on" : "off"}`,
      `full_page_writes = ${durable ? "on" : "off"}`,
      "log_min_messages = warning",
      "log_connections = off",
    ];
    await Deno.writeTextFile(`${data}/postgresql.conf`, conf.join("\n") + "\n", { append: true });

    let lastError = "";
    for (let attempt = 0; attempt < 5 && !server; attempt++) {
      const port = freeTcpPort();
      const child = new Deno.Command(asUser[0] ?? `${bin}/postgres`, {
        args: [
          ...asUser.slice(1),
          ...(asUser.length ? [`${bin}/postgres`] : []),
          "-D",
          data,
          "-p",
          String(port),
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        env: { LC_ALL: "C" },
      }).spawn();
      const log = new LineReader(child.stderr, { maxBytes: 1 << 20 });
      const exited = child.status.then((s) => ({ exited: s.code }));
      const ready = log.waitFor(/ready to accept connections/, 60_000).then(() => null);
      const first = await Promise.race([ready, exited]).catch((e) => ({ error: String(e) }));
      if (first === null) {
        server = { child, log, port };
        break;
      }
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await log.done;
      lastError = log.lines.slice(-2).join(" ");
      if (!/already in use|could not bind/i.test(log.text)) break;
    }
    if (!server) throw new Error(`postgres did not start: ${lastError}`);
    const { child, log, port } = server;
    const urlFor = (host: string, db = USER) =>
      `postgres://${USER}:${password}@${host}:${port}/${db}`;
    let stopping: Promise<void> | undefined;
    const stop = () =>
      stopping ??= (async () => {
        try {
          child.kill("SIGQUIT"); // immediate shutdown: the data is thrown away
        } catch { /* exited */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* exited */ }
        }, 10_000);
        await child.status;
        clearTimeout(timer);
        await log.done;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
    const createDatabase = async (name: string) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name: ${name}`);
      await run([
        `${bin}/psql`,
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        urlFor("127.0.0.1", "postgres"),
        "-c",
        `CREATE DATABASE ${name}`,
      ], "CREATE DATABASE");
      return urlFor("127.0.0.1", name);
    };
    try {
      await createDatabase(USER);
    } catch (e) {
      await stop();
      throw e;
    }
    return {
      url: urlFor("127.0.0.1"),
      port,
      password,
      dir,
      pid: child.pid,
      log: () => log.text,
      urlFor: (host) => urlFor(host),
      createDatabase,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

if (import.meta.main) {
  const listen: string[] = [];
  const allow: string[] = [];
  const args = [...Deno.args];
  while (args.length) {
    const a = args.shift()!;
    if (a === "--listen" && args.length) listen.push(args.shift()!);
    else if (a === "--allow" && args.length) allow.push(args.shift()!);
    else {
      console.error(`usage: pg_cluster.ts [--listen ADDR]... [--allow CIDR]...`);
      Deno.exit(2);
    }
  }
  const pg = await startPgCluster({ listen, allow });
  console.log(pg.url);
  console.error(`PostgreSQL in ${pg.dir} (pid ${pg.pid}); Ctrl-C stops and removes it`);
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  await pg.stop();
  Deno.exit(0);
}

/**
 * Grading part 5: the student's secure PMU (`<certificate> <key>`), which
 * must serve TLS on localhost:5003. The grader connects like the course's
 * Part5_PDC: IPv4, the certificate chain checked against the lab CA, the host
 * name not checked (students' certificates carried arbitrary names), then
 * `CMD_short:0`.
 *
 * Without --cert/--key/--ca, a CA and a certificate for the program are made
 * on the fly with `socklab ca` (openssl).
 *
 * @module
 */
import { settledWithin } from "../deadline.ts";
import { splitAll } from "../pmu/splitter.ts";

import { Sandbox } from "../proc/sandbox.ts";
import { makeTestIdentity } from "../tls/ca.ts";
import { connectSecure, lenientClose, loadCaCert } from "../tls/client.ts";
import { checkPmuMessages } from "./checks.ts";
import {
  captureRun,
  describeEnd,
  type GradablePart,
  type GradeContext,
  KEPT,
  programRun,
  showOutput,
} from "./part.ts";
import type { TestResult } from "./report.ts";
import { errorMessage } from "../errors.ts";

const PORT = 5003;

interface Material {
  cert: string;
  key: string;
  ca: string;
  cleanup: () => Promise<void>;
}

/** The program's certificate and key, and the CA to check them with. */
async function material(ctx: GradeContext): Promise<Material> {
  const { cert, key, ca } = ctx.options;
  if (cert || key || ca) {
    if (!cert || !key || !ca) throw new Error("--cert, --key and --ca go together");
    return { cert, key, ca, cleanup: () => Promise.resolve() };
  }
  const dir = await Deno.makeTempDir({ prefix: "socklab-grade5-" });
  try {
    return { ...await makeTestIdentity(dir), cleanup: () => Deno.remove(dir, { recursive: true }) };
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}

/**
 * Connect like Part5_PDC, retrying while nothing listens yet (the program is
 * starting) until `deadline`. Returns the connection or why there is none.
 */
async function connect(
  caCert: string,
  caFile: string,
  deadline: number,
  alive: () => boolean,
): Promise<Deno.TlsConn | string> {
  while (true) {
    try {
      return await connectSecure({
        address: "127.0.0.1",
        port: PORT,
        name: "localhost",
        caCert,
        caFile,
        hostnameCheck: false,
        // The handshake too has a deadline: a listener that never speaks TLS must not hold grade.
        timeoutMs: Math.max(1000, deadline - Date.now()),
      });
    } catch (e) {
      const why = errorMessage(e);
      const refused = /connection refused/.test(why);
      if (!refused) return why;
      if (!alive()) return "the program exited before listening on localhost:5003";
      if (Date.now() > deadline) return `nothing listens on 127.0.0.1:${PORT}`;
      await new Promise((r) => setTimeout(r, 25)); // a refused connect is cheap: retry soon
    }
  }
}

/**
 * Send CMD_short:0 and read until the server closes, or 2 s pass without data
 * (Part5_PDC never waited for a close), or {@link KEPT.stream} bytes came.
 */
async function exchange(
  conn: Deno.TlsConn,
): Promise<{ lines: string[]; closed: boolean; error?: string }> {
  const c = lenientClose(conn);
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let closed = false;
  let error: string | undefined;
  try {
    await c.write(new TextEncoder().encode("CMD_short:0"));
    const buf = new Uint8Array(1024);
    const overall = Date.now() + 10_000;
    while (Date.now() < overall) {
      let t: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<"idle">((r) => t = setTimeout(() => r("idle"), 2000));
      const n = await Promise.race([c.read(buf), idle]);
      clearTimeout(t);
      if (n === "idle") break;
      if (n === null) {
        closed = true;
        break;
      }
      chunks.push(buf.slice(0, n));
      kept += n;
      if (kept >= KEPT.stream) {
        error = `the server sent more than ${KEPT.stream} bytes: grade read no further`;
        break;
      }
    }
  } catch (e) {
    error = errorMessage(e);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const lines = splitAll(chunks).map((p) => p.kind === "message" ? p.text : p.text.trim()).filter(
    Boolean,
  );
  return { lines, closed, error };
}

export const part5: GradablePart = {
  name: "part5",
  prototype: "<certificate> <key>",
  summary: "the secure PMU serves CMD_short:0 over TLS on localhost:5003",
  async run(ctx) {
    const m = await material(ctx);
    const tests: TestResult[] = [];
    const stopCapture = await captureRun(ctx, "secure-pmu", {
      proto: "tcp",
      port: PORT,
      host: "127.0.0.1",
    });
    try {
      const caCert = await loadCaCert(m.ca);
      // Isolated, the program sees its certificate and key (never the CA key) at the same paths.
      const files = { [m.cert]: m.cert, [m.key]: m.key };
      await using sb = new Sandbox(programRun(ctx, [m.cert, m.key], { files }));
      let exited = false;
      void sb.result.then(() => exited = true);
      const deadline = Date.now() + Math.min(ctx.timeLimitMs, 10_000);

      const first = await connect(caCert, m.ca, deadline, () => !exited);
      if (typeof first === "string") {
        const r = await sb.stop();
        showOutput(ctx, "secure-pmu", r);
        const end = r.exitedByItself ? `; the program ${describeEnd(r)}` : "";
        const fail = { passed: false, scored: true, detail: `${first}${end}` };
        return [
          { name: "TLS on localhost:5003, certificate of the lab CA", ...fail },
          { name: "answers CMD_short:0", passed: false, scored: true, detail: "no TLS connection" },
          {
            name: "serves a second connection",
            passed: false,
            scored: false,
            detail: "no TLS connection",
          },
        ];
      }
      tests.push({
        name: "TLS on localhost:5003, certificate of the lab CA",
        passed: true,
        scored: true,
        detail: "handshake done, chain checked against the CA",
      });
      const one = await exchange(first);
      const v = checkPmuMessages(one.lines, undefined, 1);
      tests.push({
        name: "answers CMD_short:0",
        passed: v.passed,
        scored: true,
        detail: v.detail + (one.error ? `; then: ${one.error}` : ""),
      });
      // Advice: the course's client connected once; a server that served one
      // connection and exited got full marks.
      const name = "serves a second connection";
      const second = await connect(caCert, m.ca, Date.now() + 3000, () => !exited);
      if (typeof second === "string") {
        // A server exiting after its first client may still hold its listening socket for
        // a moment (the handshake then fails): give it a second to be seen exiting.
        await settledWithin(sb.result, 1000);
        tests.push({
          name,
          passed: false,
          scored: false,
          detail: `${
            exited ? "the program exited after the first connection" : second
          }: a server usually serves clients in a loop`,
        });
      } else {
        const two = await exchange(second);
        const v2 = checkPmuMessages(two.lines, undefined, 1);
        tests.push({ name, passed: v2.passed, scored: false, detail: v2.detail });
      }
      showOutput(ctx, "secure-pmu", await sb.stop());
    } finally {
      await stopCapture();
      await m.cleanup();
    }
    return tests;
  },
};

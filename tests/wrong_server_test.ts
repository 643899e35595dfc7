/**
 * A PDC at the wrong server (issue 30): each of pdc, secure-pdc and ws-pdc pointed at the
 * other two protocols' servers says what the port speaks and which client to use, in one
 * line on stderr, with stdout empty and exit 1; the flood comes out byte for byte.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { floodText } from "../mod/pmu/mod.ts";
import { ROOT, runSocklab, startServer } from "../scripts/lib/proc.ts";

const CERTS = join(ROOT, "certs");

/** The three servers of parts 2, 5 and 6 on free ports of 127.0.0.1. */
async function servers() {
  const common = ["--host", "127.0.0.1", "--count", "3"];
  return await Promise.all([
    startServer(["pmu", ...common]),
    startServer([
      "secure-pmu",
      join(CERTS, "localhost.crt"),
      join(CERTS, "localhost.key"),
      ...common,
    ]),
    startServer(["ws-pmu", ...common]),
  ]);
}

/** The PDC `client` to `port`, with the command CMD_short:0. */
function pdc(client: "pdc" | "secure-pdc" | "ws-pdc", port: number) {
  const p = String(port);
  return runSocklab(
    client === "secure-pdc"
      ? ["secure-pdc", "--port", p, "CMD_short:0", join(CERTS, "ca.crt")]
      : [client, "127.0.0.1", p, "CMD_short:0"],
  );
}

Deno.test("each PDC at another part's server names what it speaks and the client to use", async () => {
  const [plain, tls, ws] = await servers();
  await using _p = plain.proc;
  await using _t = tls.proc;
  await using _w = ws.proc;
  const cases = [
    [
      "pdc",
      ws.port,
      /the answer is HTTP \("HTTP\/1\.1 400 Bad Request"\), not the PMU protocol: .*\(use ws-pdc\)/,
    ],
    [
      "pdc",
      tls.port,
      /the answer is a TLS alert, not the PMU protocol: this port speaks TLS \(use secure-pdc\)/,
    ],
    [
      "secure-pdc",
      plain.port,
      /the answer is the plain PMU's "Wrong command\.", not TLS: .*\(use pdc\)/,
    ],
    [
      "secure-pdc",
      ws.port,
      /the answer is HTTP \("HTTP\/1\.1 400 Bad Request"\), not TLS: .*\(use ws-pdc\)/,
    ],
    [
      "ws-pdc",
      plain.port,
      /the answer is the plain PMU's "Wrong command\.", not HTTP .*\(use pdc\)/,
    ],
    [
      "ws-pdc",
      tls.port,
      /the answer is a TLS alert, not HTTP .*: this port speaks TLS \(use secure-pdc\)/,
    ],
  ] as const;
  const results = await Promise.all(cases.map(([client, port]) => pdc(client, port)));
  results.forEach((r, i) => {
    const [client, , want] = cases[i];
    assert.equal(r.code, 1, `${client} -> ${cases[i][1]}: ${r.stderr}`);
    assert.equal(r.stdout, "", client);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^socklab ${client}: error: `));
    assert.match(lines[0], want);
  });
  // And each at its own server: the three messages, one a line.
  const right = await Promise.all([
    pdc("pdc", plain.port),
    pdc("secure-pdc", tls.port),
    pdc("ws-pdc", ws.port),
  ]);
  for (const r of right) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "This is PMU data 0\nThis is PMU data 1\nThis is PMU data 2\n");
  }
});

Deno.test("pdc, secure-pdc and ws-pdc print the flood byte for byte, with nothing added", async () => {
  const [plain, tls, ws] = await servers();
  await using _p = plain.proc;
  await using _t = tls.proc;
  await using _w = ws.proc;
  const ca = join(CERTS, "ca.crt");
  const results = await Promise.all([
    runSocklab(["pdc", "127.0.0.1", String(plain.port), "CMD_floodme"]),
    runSocklab(["secure-pdc", "--port", String(tls.port), "CMD_floodme", ca]),
    runSocklab(["ws-pdc", "127.0.0.1", String(ws.port), "CMD_floodme"]),
  ]);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 57_344);
    assert.equal(r.stdout, floodText());
  }
});

Deno.test("secure-pdc with its arguments swapped says the order (usage error)", async () => {
  const r = await runSocklab(["secure-pdc", "lab-ca/ca.crt", "CMD_short:0"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^socklab secure-pdc: error: the command comes first, then the CA certificate: socklab secure-pdc CMD_short:0 lab-ca\/ca\.crt\n/,
  );
});

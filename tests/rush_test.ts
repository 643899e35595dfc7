/**
 * A short deadline rush in CI: 20 students through the real HTTP API
 * against serve on PostgreSQL with two worker machines (namespaces), one of
 * them killed in the middle and started again. Nothing may be lost or
 * graded twice into two results; speed is reported by the rush, never
 * asserted here.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DENO_FLAGS } from "../mod/cli/flags.ts";
import { ROOT, runProc } from "../scripts/lib/proc.ts";
import { netnsUnavailable } from "./helpers/netns.ts";
import { pgUnavailable } from "./helpers/pg.ts";
import type { ShapeReport } from "../scripts/rush/report.ts";

const UNAVAILABLE = netnsUnavailable() ?? pgUnavailable();
const IN_CI = Deno.env.get("CI") === "true";
const NAME =
  "a 20-student rush with a worker killed mid-way loses nothing and grades nothing twice";

Deno.test({
  name: UNAVAILABLE && !IN_CI ? `${NAME} (skipped: ${UNAVAILABLE})` : NAME,
  ignore: UNAVAILABLE !== null && !IN_CI,
  async fn() {
    if (UNAVAILABLE) throw new Error(`CI needs namespaces and PostgreSQL: ${UNAVAILABLE}`);
    const r = await runProc([
      Deno.execPath(),
      "run",
      ...DENO_FLAGS,
      "--config",
      ROOT + "deno.json",
      ROOT + "scripts/rush.ts",
      "--students",
      "20",
      "--window",
      "8",
      "--shapes",
      "pg-kill",
      "--restart-after",
      "3",
      "--lease",
      "2",
      "--time-limit",
      "2",
      "--drain-timeout",
      "120",
      "--no-write",
      "--json",
    ], { timeoutMs: 240_000 });
    const info = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
    assert.equal(r.code, 0, r.stderr);
    const [shape] = info.reports as ShapeReport[];
    const f = shape.figures;
    assert.ok(f.accepted >= 20, `accepted ${f.accepted}\n${r.stderr}`);
    assert.equal(f.results + f.failed, f.accepted, "every accepted submission has one outcome");
    assert.equal(f.lost, 0);
    assert.equal(f.duplicated, 0);
    assert.equal(shape.errors, 0);
    assert.equal(shape.api.done + shape.api.failed, f.accepted, "the API shows each one finished");
    assert.ok(shape.drained);
    assert.match(r.stderr, /SIGKILL worker machine-1/);
    assert.match(r.stderr, /starting machine-1 again/);
  },
});

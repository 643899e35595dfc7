import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };
import { ROOT, runProc } from "../scripts/lib/proc.ts";
import { Missing, requirePython, requireTool } from "./helpers/requires.ts";

const SETUP = `${ROOT}scripts/setup.sh`;

Deno.test("`deno task test` starts with its setup step, then caches npm packages, then tests", () => {
  // npm packages must be in Deno's cache before a test enters a private namespace (no registry).
  assert.match(
    config.tasks.test,
    /^sh scripts\/setup\.sh && (\S+=\S+ )*deno install && (\S+=\S+ )*deno test /,
  );
});

Deno.test(".ci/run calls the same setup before the README's test command", async () => {
  const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
  const setup = ci.indexOf("scripts/setup.sh");
  assert.ok(setup >= 0, ".ci/run calls scripts/setup.sh");
  assert.ok(setup < ci.indexOf("task test"), "before the tests");
});

Deno.test("setup lists every peer the suite needs and, when it cannot install, says what to in one line", async () => {
  const text = await Deno.readTextFile(SETUP);
  const list = text.match(/^for pkg in (.*); do$/m)?.[1].split(" ");
  assert.deepEqual(list?.sort(), [
    "bubblewrap",
    "caddy",
    "chromium",
    "curl",
    "hyperfine", // the bench's anchors (scripts/bench/env.ts)
    "iproute2",
    "nodejs",
    "openssl",
    "postgresql",
    "python3-websocket",
    "python3-websockets",
    "socat",
    "systemd",
    "tcpdump",
  ]);
  // No openssl, bwrap or chromium on this PATH; SOCKLAB_SETUP=check installs nothing.
  const r = await runProc(["/bin/sh", SETUP], {
    env: { PATH: "/nonexistent", SOCKLAB_SETUP: "check" },
  });
  assert.equal(r.code, 0, "setup never fails the run by itself");
  assert.equal(r.stdout, "");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^setup: missing (\S+ )*openssl\b.*: .*apt-get install (\S+ )*openssl\b/);
});

Deno.test("a test that needs a missing peer fails with one line naming the package", async () => {
  const err = await requirePython("no_such_module_socklab", "python3-no-such").catch((e) => e);
  assert.ok(err instanceof Missing);
  assert.equal(
    err.stack,
    "Missing: requires a python3 with the module 'no_such_module_socklab': install the Debian " +
      "package python3-no-such (as root: scripts/setup.sh, or apt-get install python3-no-such)",
  );
  assert.throws(
    () => requireTool("no-such-tool-socklab", "no-such"),
    /^Missing: requires 'no-such-tool-socklab': install the Debian package no-such /,
  );
  // Found: a python that has the module, whichever python3 is first on PATH.
  const python = await requirePython("json", "python3");
  const r = await runProc([python, "-c", "import json; print('ok')"]);
  assert.equal(r.stdout, "ok\n");
});

/**
 * The deployment examples in docs/, tried for real: the systemd unit passes
 * `systemd-analyze verify` without a warning, and Caddy, run with
 * docs/Caddyfile as it is (its site and upstream set to local addresses),
 * carries the service: the API, a web sign-in (its Origin check sees the
 * host the browser used), and /metrics refused without the TA's token (the
 * proxy's X-Forwarded-For makes the request remote).
 */
import assert from "node:assert/strict";
import { freeTcpPort } from "../mod/net/ports.ts";
import { Proc, ROOT, runProc } from "../scripts/lib/proc.ts";
import { requireTool } from "./helpers/requires.ts";
import { makeCourse, postSubmission, serveInProcess, webSignIn } from "./helpers/service.ts";

Deno.test("docs/socklab.service: systemd-analyze verify finds nothing to say", async () => {
  const analyze = requireTool("systemd-analyze", "systemd");
  const dir = await Deno.makeTempDir({ prefix: "socklab-unit-" });
  try {
    // verify wants ExecStart's program to exist: an executable stands in for the binary.
    await Deno.writeTextFile(`${dir}/socklab`, "#!/bin/sh\n", { mode: 0o755 });
    const unit = await Deno.readTextFile(`${ROOT}docs/socklab.service`);
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/socklab serve /m);
    await Deno.writeTextFile(
      `${dir}/socklab.service`,
      unit.replaceAll("/usr/local/bin/socklab", `${dir}/socklab`),
    );
    const r = await runProc([analyze, "verify", `${dir}/socklab.service`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stdout + r.stderr).trim(), "", "no warning (an unknown key is one)");
    // The check can fail: a misspelt option is reported.
    await Deno.writeTextFile(
      `${dir}/socklab.service`,
      unit.replaceAll("/usr/local/bin/socklab", `${dir}/socklab`).replace(
        "ProtectHome=",
        "ProtectHom=",
      ),
    );
    const typo = await runProc([analyze, "verify", `${dir}/socklab.service`]);
    assert.match(typo.stderr, /Unknown key 'ProtectHom'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs/Caddyfile in front of serve: API, web sign-in, /metrics needs the TA", async () => {
  const caddy = requireTool("caddy", "caddy");
  await using course = await makeCourse(["alice"]);
  await using service = await serveInProcess(course);
  const port = freeTcpPort("127.0.0.1");
  const site = `http://127.0.0.1:${port}`;
  const home = await Deno.makeTempDir({ prefix: "socklab-caddy-" });
  const env = {
    SOCKLAB_SITE: site,
    SOCKLAB_UPSTREAM: `127.0.0.1:${service.port}`,
    HOME: home,
    XDG_DATA_HOME: home,
    XDG_CONFIG_HOME: home,
  };
  const config = `${ROOT}docs/Caddyfile`;
  const proxy = new Proc([caddy, "run", "--config", config, "--adapter", "caddyfile"], { env });
  try {
    await proxy.stderr.waitFor(/serving initial configuration/, 20_000);
    const health = await fetch(`${site}/healthz`);
    assert.deepEqual(await health.json(), { db: "ok", workers: 0, queue: 0 });

    const script = { script: { name: "PDC.py", data: "print(1)\n" } };
    const up = await postSubmission(site, course.tokens.alice, { kind: "part2", files: script });
    assert.equal(up.status, 201, JSON.stringify(up.body));

    const signIn = await webSignIn(site, course.tokens.alice, { origin: site });
    assert.match(signIn.setCookie, /^socklab_session=/);

    const anon = await fetch(`${site}/metrics`);
    assert.equal(anon.status, 401, "through the proxy, /metrics is not local");
    await anon.body?.cancel();
    const ta = await fetch(`${site}/metrics`, {
      headers: { authorization: `Bearer ${course.ta}` },
    });
    assert.equal(ta.status, 200);
    assert.match(await ta.text(), /^socklab_queue_depth\{part="part2"\} 1$/m);
    const direct = await fetch(`${service.url}/metrics`);
    assert.equal(direct.status, 200, "on the machine itself it is");
    await direct.body?.cancel();

    const big = await postSubmission(site, course.tokens.alice, {
      kind: "part3",
      files: { script: { name: "big.py", data: "#".repeat(3 * 1024 * 1024) } },
    }).catch((e) => ({ status: String(e), body: {} }));
    assert.notEqual(big.status, 201, "a body past the proxy's cap is not accepted");
  } finally {
    await proxy.stop(5_000);
    await Deno.remove(home, { recursive: true });
  }
});

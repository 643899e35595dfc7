import assert from "node:assert/strict";
import { runSocklab, spawnSocklab } from "../scripts/lib/proc.ts";
import { netnsTest } from "./helpers/netns.ts";

// lab uses the fixed lab ports: always inside a private namespace.

netnsTest(
  "lab starts every service on its lab port, each answers a client, Ctrl-C stops all",
  async (ns) => {
    await using lab = spawnSocklab(["lab"], { prefix: ns.prefix });
    await lab.stderr.waitFor(/^lab ready: \d+ service/, 20_000);
    assert.match(lab.stderr.text, /^service\s+part\s+protocol\s+address$/m);
    assert.match(lab.stderr.text, /^echo\s+1\.2\s+TCP\s+0\.0\.0\.0:5002$/m);
    assert.match(lab.stderr.text, /^hello\s+1\.1\s+UDP\s+0\.0\.0\.0:50007$/m);
    assert.match(lab.stderr.text, /^pmu\s+2\s+TCP\s+0\.0\.0\.0:5003$/m);
    assert.match(lab.stderr.text, /^ws-pmu\s+6\s+WebSocket\s+0\.0\.0\.0:5006$/m);
    assert.match(lab.stderr.text, /^pmu-udp\s+3\s+UDP, IPv4\/IPv6 alternating\s+0\.0\.0\.0:5004$/m);
    assert.match(lab.stderr.text, /^tv\s+4\s+UDP multicast\s+224\.1\.1\.1:10505$/m);

    const echo = await runSocklab(["echo-client", "--host", "127.0.0.1", "lab echo"], {
      prefix: ns.prefix,
    });
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, "lab echo\n");
    const hello = await runSocklab(["hello-send", "--host", "127.0.0.1", "lab hello"], {
      prefix: ns.prefix,
    });
    assert.equal(hello.code, 0);
    await lab.stderr.waitFor(/^\[hello\] From: 127\.0\.0\.1:\d+ Received: lab hello$/);

    for (const client of ["pdc", "ws-pdc"]) {
      const r = await runSocklab([
        client,
        "127.0.0.1",
        client === "pdc" ? "5003" : "5006",
        "CMD_short:0",
      ], {
        prefix: ns.prefix,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^This is PMU data 0\nThis is PMU data 1\n/);
    }

    const udp = await runSocklab(["pdc-udp", "localhost", "5004", "--timeout", "0.3"], {
      prefix: ns.prefix,
    });
    assert.equal(udp.code, 0, udp.stderr);
    assert.match(udp.stdout, /^OFFSET:\d+$/m);

    await using rx = spawnSocklab(["receiver", "224.1.1.1", "10505"], { prefix: ns.prefix });
    await rx.stdout.waitFor(/^swcmTV/, 10_000);

    const st = await lab.stop();
    assert.equal(st.code, 0);
    assert.match(
      lab.stderr.text,
      /^lab stopped \(SIGTERM\): hello: received 1 datagram\(s\); echo: served 1 connection/m,
    );
  },
);

netnsTest(
  "lab --only / --skip choose services, and a taken port names the service and the fix",
  async (ns) => {
    await using echo = spawnSocklab(["echo-server", "--host", "0.0.0.0"], { prefix: ns.prefix });
    await echo.listening();
    const taken = await runSocklab(["lab"], { prefix: ns.prefix });
    assert.equal(taken.code, 1);
    assert.match(
      taken.stderr,
      /^socklab lab: error: echo \(lab part 1\.2\) cannot start: tcp port 5002 is already in use.*socklab lab --skip echo$/m,
    );

    await using lab = spawnSocklab(["lab", "--skip", "echo"], { prefix: ns.prefix });
    await lab.stderr.waitFor(/^lab ready: \d+ service/, 20_000);
    assert.doesNotMatch(lab.stderr.text, /^echo /m);

    const bad = await runSocklab(["lab", "--only", "pmux"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--only: 'pmux' is not a service/);
  },
);

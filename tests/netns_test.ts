import assert from "node:assert/strict";
import { runProc, runSocklab, spawnSocklab } from "../scripts/lib/proc.ts";
import { DUAL_STACK_HOSTS, netnsTest } from "./helpers/netns.ts";

netnsTest("a private namespace has lo up with a multicast route, and nothing else", async (ns) => {
  const links = await runProc(["ip", "-o", "link", "show"], { prefix: ns.prefix });
  assert.equal(links.code, 0);
  const names = links.stdout.trim().split("\n").map((l) => l.split(":")[1].trim());
  assert.deepEqual(names, ["lo"]);
  assert.match(links.stdout, /MULTICAST/);
  assert.match(links.stdout, /UP/);
  const routes = await runProc(["ip", "route", "show"], { prefix: ns.prefix });
  assert.match(routes.stdout, /^224\.0\.0\.0\/4 dev lo/m);
  assert.doesNotMatch(routes.stdout, /default/);
});

netnsTest("socklab runs inside the namespace on the lab's fixed ports", async (ns) => {
  // Port 50007 is the lab's; inside a private namespace it cannot clash with anything.
  await using recv = spawnSocklab(["hello-recv"], { prefix: ns.prefix });
  await recv.listening();
  const r = await runSocklab(["hello-send", "inside"], { prefix: ns.prefix });
  assert.equal(r.code, 0, r.stderr);
  await recv.stdout.waitFor(/^Received: inside$/);
});

netnsTest(
  "a namespace can have its own /etc/hosts with localhost on both loopbacks",
  async (ns) => {
    const r = await runProc(["getent", "ahosts", "localhost"], { prefix: ns.prefix });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^127\.0\.0\.1\s/m);
    assert.match(r.stdout, /^::1\s/m);
  },
  { hosts: DUAL_STACK_HOSTS },
);

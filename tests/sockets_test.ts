import assert from "node:assert/strict";
import { formatSocketTable, parseIgmp, parseProcNet } from "../mod/net/sockets.ts";

const TCP4 =
  `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:138A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:138A 0100007F:D431 01 00000000:00000002 00:00000000 00000000  1000        0 12346 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D432 0100007F:138A 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
garbage line
`;

const TCP6 =
  `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1393 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1393 0000000000000000FFFF00000100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 223 1 0000000000000000 100 0 0 10 0
   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 224 1 0000000000000000 100 0 0 10 0
`;

const UDP4 =
  `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:C357 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 333 2 0000000000000000 0
`;

Deno.test("parseProcNet decodes IPv4 addresses, ports, states and queues", () => {
  const rows = parseProcNet(TCP4, "tcp", 4);
  assert.equal(rows.length, 3, "the garbage line is skipped");
  assert.deepEqual(
    rows.map((
      r,
    ) => [r.state, `${r.localAddress}:${r.localPort}`, `${r.peerAddress}:${r.peerPort}`]),
    [
      ["LISTEN", "127.0.0.1:5002", "0.0.0.0:0"],
      ["ESTABLISHED", "127.0.0.1:5002", "127.0.0.1:54321"],
      ["TIME_WAIT", "127.0.0.1:54322", "127.0.0.1:5002"],
    ],
  );
  assert.equal(rows[1].recvQ, 2);
  assert.equal(rows[1].uid, 1000);
});

Deno.test("parseProcNet decodes IPv6, IPv4-mapped and compressed addresses", () => {
  const rows = parseProcNet(TCP6, "tcp", 6);
  assert.deepEqual(rows.map((r) => r.localAddress), ["::1", "::ffff:127.0.0.1", "2001:db8::1"]);
  assert.equal(rows[0].localPort, 5011);
  assert.equal(rows[1].peerPort, 0xc000);
});

Deno.test("parseProcNet shows UDP sockets as UNCONN like ss", () => {
  const [r] = parseProcNet(UDP4, "udp", 4);
  assert.deepEqual([r.proto, r.state, r.localAddress, r.localPort], [
    "udp",
    "UNCONN",
    "0.0.0.0",
    50007,
  ]);
});

Deno.test("formatSocketTable aligns columns and brackets IPv6", () => {
  const lines = formatSocketTable(parseProcNet(TCP6, "tcp", 6).slice(0, 1));
  assert.match(lines[0], /^Netid {2}State\s+Recv-Q/);
  assert.match(lines[1], /^tcp\s+LISTEN\s+0\s+0\s+\[::1\]:5011\s+\[::\]:\*$/);
});

Deno.test("parseIgmp lists the groups joined on every interface, once each", () => {
  const igmp = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n" +
    "1\tlo        :     2      V3\n" +
    "\t\t\t\t010101E0     1 0:00000000\t\t0\n" +
    "\t\t\t\t010000E0     1 0:00000000\t\t0\n" +
    "4\teth0      :     1      V3\n" +
    "\t\t\t\t010000E0     1 0:00000000\t\t0\n";
  assert.deepEqual(parseIgmp(igmp).sort(), ["224.0.0.1", "224.1.1.1"]);
  assert.deepEqual(parseIgmp(""), []);
});

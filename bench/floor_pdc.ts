/**
 * The runtime's floor for `deno task bench`'s stream measurement: the least a Deno client can
 * do to fetch a flood (connect, send the command, copy every read to stdout until EOF, in
 * 128 KiB reads like `socat -b 131072`), and nothing else. What `socklab pdc` costs above it is
 * socklab's own.
 *
 * Usage: deno run -A bench/floor_pdc.ts <host> <port> <command>
 *
 * @module
 */
const [hostname, port, command] = Deno.args;
const conn = await Deno.connect({ hostname, port: Number(port) });
await conn.write(new TextEncoder().encode(command));
const buf = new Uint8Array(128 * 1024);
for (;;) {
  const n = await conn.read(buf);
  if (n === null) break;
  for (let off = 0; off < n;) off += Deno.stdout.writeSync(buf.subarray(off, n));
}
conn.close();

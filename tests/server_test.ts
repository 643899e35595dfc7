import assert from "node:assert/strict";
import { serverHandle } from "../mod/net/server.ts";
import { startEchoServer } from "../mod/tcp/echo.ts";

Deno.test("serverHandle: close() aborts, stops and drains once; later calls wait for the same end", async () => {
  const steps: string[] = [];
  const stopping = new AbortController();
  let end!: () => void;
  const closed = new Promise<void>((resolve) => end = resolve);
  const server = serverHandle({
    name: "t",
    address: "127.0.0.1:1",
    port: 1,
    closed,
    stopping,
    stop() {
      steps.push(`stop (aborted: ${stopping.signal.aborted})`);
      end();
    },
    drain: () => Promise.resolve(steps.push("drain")),
    summary: () => "s",
  });
  await Promise.all([server.close(), server.close()]);
  await server.close();
  assert.deepEqual(steps, ["stop (aborted: true)", "drain"]);
});

Deno.test("a Server is AsyncDisposable: leaving an `await using` block closes it", async () => {
  let port: number;
  {
    await using server = await startEchoServer({ hostname: "127.0.0.1", port: 0 });
    port = server.port;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
  }
  await assert.rejects(
    () => Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});

/**
 * Storms that must not run in the main namespace (multicast: a receiver's
 * join and every datagram stay inside a private one): run scripts/chaos.ts
 * itself inside a fresh namespace for those servers and read its JSON.
 *
 * @module
 */
import { denoRunArgv, ROOT, runProc } from "../lib/proc.ts";
import { Netns } from "../lib/netns.ts";
import type { StormResult } from "./storm.ts";

export async function stormsInNetns(
  names: string[],
  opts: { reduced: boolean; seed: number },
): Promise<StormResult[]> {
  await using ns = await Netns.create();
  const r = await runProc([
    ...ns.prefix,
    ...denoRunArgv(ROOT + "scripts/chaos.ts", [
      "--in-netns",
      "--json",
      "--only",
      names.join(","),
      "--seed",
      String(opts.seed),
      ...(opts.reduced ? ["--reduced"] : []),
    ]),
  ], { timeoutMs: 180_000 });
  try {
    return (JSON.parse(r.stdout) as { results: StormResult[] }).results;
  } catch {
    throw new Error(`chaos in ${ns.name} exited ${r.code} without results:\n${r.stderr}`);
  }
}

/**
 * What the rush's students upload: for each kind, the good and broken
 * student-style scripts of tests/fixtures/students (the same the grading
 * tests use), and three hostile programs. The hostile ones are BOUNDED (this
 * machine is shared): the "fork bomb" stops at 60 processes, the daemon
 * sleeps 300 s; both carry the marker {@link HOSTILE_MARK} on their command
 * line so the rush can count (and stop) any the service left behind.
 *
 * @module
 */
import { makeRequest } from "../../mod/tls/ca.ts";
import type { Quality, RushKind } from "./plan.ts";

const FIXTURES = new URL("../../tests/fixtures/students/", import.meta.url);

/** On the command line of every process a hostile program leaves running. */
export const HOSTILE_MARK = "socklab-rush-hostile";

export const HOSTILE: Record<string, string> = {
  "endless output": `import sys
while True:
    sys.stdout.write("x" * 4096 + "\\n")
`,
  "fork bomb (bounded: 60 processes)": `import os, sys, time
for i in range(60):
    try:
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", "${HOSTILE_MARK}"])
    except OSError:
        break
time.sleep(300)
`,
  "daemon": `import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", "${HOSTILE_MARK}"])
    os._exit(0)
print("started a daemon", flush=True)
`,
};

/** Good and broken fixtures per kind (ca-sign is handled apart: a CSR). */
const SCRIPTS: Record<Exclude<RushKind, "ca-sign">, { good: string[]; broken: string[] }> = {
  "part2": {
    good: ["part2_good.py"],
    broken: ["part2_fixed_n.py", "part2_partial_flood.py", "part2_records18.py"],
  },
  "part3": { good: ["part3_good.py"], broken: ["part3_ipv4_only.py", "part3_no_retransmit.py"] },
  "part4-receiver": { good: ["part4_receiver_good.py"], broken: ["part4_receiver_nojoin.py"] },
  "part4-sender": {
    good: ["part4_sender_good.py"],
    broken: ["part4_sender_once.py", "part4_sender_separator.py"],
  },
  "part5": { good: ["part5_good.py"], broken: ["part5_plain.py"] },
  // No broken part 6 fixture: a part 2 client is a part 6 client that never speaks WebSocket.
  "part6": { good: ["part6_good.py"], broken: ["part2_good.py"] },
};

/** One upload: form fields (files as bytes). */
export interface Upload {
  kind: RushKind;
  fields: Record<string, string>;
  files: Record<string, { name: string; bytes: Uint8Array }>;
  /** What it is, for the report (fixture name or hostile kind). */
  label: string;
}

/** The student's identity for part 5 and ca-sign: one key, its CSR, and (once signed) the certificate. */
export interface Identity {
  key: Uint8Array;
  csr: Uint8Array;
  /** Signed by the course CA through a ca-sign submission (set by the player). */
  cert?: Uint8Array;
}

/** Make the key and request the rush's students share (openssl, once). */
export async function makeIdentity(dir: string): Promise<Identity> {
  await makeRequest({ key: `${dir}/rush.key`, csr: `${dir}/rush.csr`, cn: "localhost" });
  return {
    key: await Deno.readFile(`${dir}/rush.key`),
    csr: await Deno.readFile(`${dir}/rush.csr`),
  };
}

const cache = new Map<string, Uint8Array>();
async function fixture(name: string): Promise<Uint8Array> {
  let b = cache.get(name);
  if (!b) cache.set(name, b = await Deno.readFile(new URL(name, FIXTURES)));
  return b;
}

/** The upload for a planned submission; `n` chooses among the variants. */
export async function uploadFor(
  kind: RushKind,
  quality: Quality,
  n: number,
  id: Identity,
  sciper: string,
): Promise<Upload> {
  if (kind === "ca-sign") {
    // A broken request is caught at upload (not PEM): refused, nothing queued.
    const csr = quality === "good"
      ? id.csr
      : new TextEncoder().encode("not a certificate request\n");
    return {
      kind,
      fields: {},
      files: { csr: { name: "request.csr", bytes: csr } },
      label: quality === "good" ? "request.csr" : "a file that is not PEM",
    };
  }
  let label: string;
  let script: Uint8Array;
  if (quality === "hostile") {
    const names = Object.keys(HOSTILE);
    label = names[n % names.length];
    script = new TextEncoder().encode(HOSTILE[label]);
  } else {
    const list = SCRIPTS[kind][quality];
    label = list[n % list.length];
    script = await fixture(label);
  }
  const files: Upload["files"] = { script: { name: "student.py", bytes: script } };
  if (kind === "part5") {
    files.cert = { name: "server.crt", bytes: id.cert ?? new Uint8Array() };
    files.key = { name: "server.key", bytes: id.key };
  }
  return { kind, fields: kind === "part4-sender" ? { sciper } : {}, files, label };
}

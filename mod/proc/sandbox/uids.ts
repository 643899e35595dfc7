/**
 * The uids jailed programs run as: one of a reserved range per job, held
 * while the job runs, so that two jobs at once never share a user and its
 * kernel counters (inotify instances, message queues, RLIMIT_NPROC, pipe
 * pages). A uid is held by an flock(2) on its file in {@link UID_LOCKS}:
 * released when the job ends, or when its process dies however it dies.
 *
 * @module
 */
import { errorMessage } from "../../errors.ts";

/**
 * The reserved range: above every login and system account (Debian's end at
 * 65535; useradd's login uids at 60000) and below the subordinate uids of
 * user namespaces (useradd's from 100000). A uid of /etc/passwd is skipped.
 */
export const JAIL_UIDS = { first: 70_000, count: 256 };

/** Where the uids' lock files live (root's own, not world-writable). */
export const UID_LOCKS = "/run/socklab/uids";

/** A uid held for one job: `release()` (or the process's end) gives it back. */
export interface UidLease {
  uid: number;
  release(): void;
}

/** The uids of /etc/passwd in the range. */
function accounts(): Set<number> {
  const taken = new Set<number>();
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const uid = Number(line.split(":")[2]);
      if (uid >= JAIL_UIDS.first && uid < JAIL_UIDS.first + JAIL_UIDS.count) taken.add(uid);
    }
  } catch { /* no /etc/passwd: nothing to skip */ }
  return taken;
}

/** Hold the first free uid of {@link JAIL_UIDS}; throws, in one line, when none is free. */
export function leaseUid(): UidLease {
  try {
    Deno.mkdirSync(UID_LOCKS, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new Error(`cannot make ${UID_LOCKS} for the jobs' uids: ${errorMessage(e)}`);
  }
  const taken = accounts();
  for (let uid = JAIL_UIDS.first; uid < JAIL_UIDS.first + JAIL_UIDS.count; uid++) {
    if (taken.has(uid)) continue;
    const f = Deno.openSync(`${UID_LOCKS}/${uid}`, { create: true, write: true });
    if (f.tryLockSync(true)) {
      let held = true;
      return {
        uid,
        release: () => {
          if (held) f.close();
          held = false;
        },
      };
    }
    f.close();
  }
  const last = JAIL_UIDS.first + JAIL_UIDS.count - 1;
  throw new Error(`every uid of ${JAIL_UIDS.first}-${last} is held by a running job`);
}

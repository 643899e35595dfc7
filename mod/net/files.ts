/**
 * Files named on the command line (certificates, keys, a flood, a script): read only from a
 * regular file and only up to a size cap. A FIFO would block the open forever, `/dev/zero`
 * would grow the process without bound; both are refused at once in one line.
 *
 * @module
 */
import { errorMessage, RunError } from "../errors.ts";

/** Certificates, keys, requests, scripts: far below this. */
export const DEFAULT_MAX_INPUT_BYTES = 1 << 20;

/** An OS error's reason alone: no `(os error N)`, no repeated path. */
export function osReason(e: unknown): string {
  const m = errorMessage(e);
  return m.replace(/\s*\(os error \d+\).*$/, "").replace(/:\s*$/, "");
}

function kind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "is a directory";
  if (info.isFifo) return "is a FIFO (named pipe), not a regular file";
  if (info.isCharDevice) return "is a character device, not a regular file";
  if (info.isBlockDevice) return "is a block device, not a regular file";
  if (info.isSocket) return "is a socket, not a regular file";
  return "is not a regular file";
}

function sizeText(n: number): string {
  return n >= 1 << 20 && n % (1 << 20) === 0 ? `${n >> 20} MiB` : `${n} bytes`;
}

/**
 * The bytes of the regular file `path`, at most `maxBytes`; anything else is a RunError
 * `<what> <path>: <reason>` (no such file, permission denied, a directory, a FIFO, a device,
 * too large).
 */
export async function readInput(
  path: string,
  what: string,
  maxBytes = DEFAULT_MAX_INPUT_BYTES,
): Promise<Uint8Array> {
  const fail = (why: string) => new RunError(`${what} ${path}: ${why}`);
  const reason = (e: unknown) => {
    if (e instanceof Deno.errors.NotFound) return fail("no such file");
    if (e instanceof Deno.errors.PermissionDenied) return fail("permission denied");
    if (e instanceof Deno.errors.IsADirectory) return fail("is a directory");
    return fail(osReason(e));
  };
  // stat before open: opening a FIFO for reading blocks until a writer comes.
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw reason(e);
  }
  if (!info.isFile) throw fail(kind(info));
  if (info.size > maxBytes) {
    throw fail(`too large (${info.size} bytes; at most ${sizeText(maxBytes)})`);
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw reason(e);
  }
  try {
    // The file may have been swapped or grown since the stat: check again, read within the cap.
    const now = await file.stat();
    if (!now.isFile) throw fail(kind(now));
    let buf = new Uint8Array(Math.min(now.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw fail(`too large (more than ${sizeText(maxBytes)})`);
        const more = new Uint8Array(Math.min(buf.length * 2, maxBytes + 1));
        more.set(buf);
        buf = more;
      }
      const r = await file.read(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    return buf.slice(0, n);
  } catch (e) {
    throw e instanceof RunError ? e : reason(e);
  } finally {
    file.close();
  }
}

/** {@link readInput} as UTF-8 text. */
export async function readInputText(
  path: string,
  what: string,
  maxBytes = DEFAULT_MAX_INPUT_BYTES,
): Promise<string> {
  return new TextDecoder().decode(await readInput(path, what, maxBytes));
}

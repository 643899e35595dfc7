/**
 * Checking an upload before anything is queued: the kind, the files each
 * kind takes, sizes, UTF-8 scripts, PEM certificates, keys and requests
 * (parsed by openssl; a request's key must have at least 2048 bits), the
 * sciper. A refusal is an {@link UploadError}: an HTTP status and one
 * sentence for the student.
 *
 * @module
 */
import { basename, join } from "node:path";
import { openssl } from "../tls/ca.ts";
import { HttpError } from "./http.ts";
import { KIND_FILES } from "./job.ts";
import { isKind, KINDS, type NewSubmission, type Policy, type StoredFile } from "./store/store.ts";

/** A refused upload: an HTTP status and one sentence for the student. */
export class UploadError extends HttpError {
  override name = "UploadError";
  /** `field`: the form field the refusal is about (kind, script, cert, key, csr, sciper). */
  constructor(
    status: number,
    message: string,
    readonly field?: string,
    headers: Record<string, string> = {},
  ) {
    super(status, message, headers);
  }
}

/** Extra bytes a multipart body may carry beyond its files (boundaries, fields). */
export const MULTIPART_OVERHEAD = 64 * 1024;

/** A request's minimum key size, bits. */
export const MIN_KEY_BITS = 2048;

const DEFAULT_NAMES = { script: "script.py", cert: "cert.pem", key: "key.pem", csr: "request.csr" };

/** A size in words: `300 KiB`, `1 MiB`. */
export function size(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / 1024 / 1024} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}

/** How long a request body may take to arrive, ms (a 1 MiB upload at 10 KB/s takes 100 s). */
export const BODY_TIMEOUT_MS = 300_000;

/**
 * The body of a request, refused (413) past `cap` bytes without reading it
 * all. A body that has not all arrived within `timeoutMs` is refused (408),
 * one cut by the client is a 400, and `signal` (the service stopping) ends
 * the read with a 503: a slow or stalled client cannot hold the server, or
 * its shutdown, forever.
 */
export async function readCapped(
  req: Request,
  cap: number,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<Uint8Array> {
  const tooBig = () =>
    new UploadError(
      413,
      `the upload is larger than the limit of ${size(cap - MULTIPART_OVERHEAD)}`,
    );
  const stopping = () => new UploadError(503, "the service is stopping: send it again in a minute");
  if (opts.signal?.aborted) {
    await req.body?.cancel().catch(() => {});
    throw stopping();
  }
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > cap) {
    await req.body?.cancel().catch(() => {});
    throw tooBig();
  }
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  const timeoutMs = opts.timeoutMs ?? BODY_TIMEOUT_MS;
  let timedOut = false;
  const stop = () => void reader.cancel().catch(() => {});
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  opts.signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        chunk = { done: true, value: undefined };
        if (!timedOut && !opts.signal?.aborted) {
          throw new UploadError(400, "the upload was cut before its end: send it again");
        }
      }
      if (opts.signal?.aborted) throw stopping();
      if (timedOut) {
        throw new UploadError(
          408,
          `the upload did not arrive within ${Math.round(timeoutMs / 1000)} s: send it again`,
        );
      }
      const { done, value } = chunk;
      if (done) break;
      total += value.length;
      if (total > cap) {
        await reader.cancel().catch(() => {});
        throw tooBig();
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", stop);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * A POST body, read once up to `cap` bytes (else an UploadError: 413, 408,
 * 400 or 503, see {@link readCapped}), and its form (null if it is not one).
 */
export async function readForm(
  req: Request,
  cap: number,
  signal?: AbortSignal,
): Promise<FormData | null> {
  const bytes = await readCapped(req, cap, { signal });
  return await new Response(bytes as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": req.headers.get("content-type") ?? "" },
  }).formData().catch(() => null);
}

/** A file name safe to write in the job's directory, or the field's default. */
function safeName(raw: string | undefined, fallback: string): string {
  const b = basename(raw ?? "");
  // `output` is the archive's folder of results.
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/.test(b) && b !== "output" ? b : fallback;
}

function isUtf8Text(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const PEM = {
  cert: { label: /-----BEGIN CERTIFICATE-----/, what: "a PEM certificate" },
  key: { label: /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/, what: "a PEM private key" },
  csr: { label: /-----BEGIN (NEW )?CERTIFICATE REQUEST-----/, what: "a PEM certificate request" },
} as const;

/** Ask openssl whether `bytes` is what `field` must be; returns openssl's text for a CSR. */
async function checkPem(field: "cert" | "key" | "csr", f: StoredFile): Promise<void> {
  const { label, what } = PEM[field];
  const text = isUtf8Text(f.bytes) ? new TextDecoder().decode(f.bytes) : "";
  if (!label.test(text)) throw new UploadError(415, `${f.name} is not ${what}`, field);
  const dir = await Deno.makeTempDir({ prefix: "socklab-upload-" });
  try {
    const path = join(dir, "in.pem");
    await Deno.writeFile(path, f.bytes);
    const args = field === "cert"
      ? ["x509", "-in", path, "-noout"]
      : field === "key"
      ? ["pkey", "-in", path, "-noout", "-passin", "pass:"]
      : ["req", "-in", path, "-noout", "-verify", "-text"];
    let out: string;
    try {
      out = await openssl(args, { what: "reading it" });
    } catch {
      throw new UploadError(415, `${f.name} is not ${what} that openssl can read`, field);
    }
    if (field === "csr") {
      const bits = Number(out.match(/Public-Key: \((\d+) bit\)/)?.[1] ?? 0);
      if (bits < MIN_KEY_BITS) {
        throw new UploadError(
          400,
          `the key of ${f.name} has ${
            bits || "an unknown number of"
          } bits; at least ${MIN_KEY_BITS} are needed`,
          field,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Turn a multipart form into a submission for `userId`, or throw an
 * {@link UploadError}. Files are stored in the kind's order (script, cert,
 * key / csr).
 */
export async function checkUpload(
  form: FormData,
  userId: string,
  policy: Policy,
): Promise<NewSubmission> {
  const kind = String(form.get("kind") ?? "").trim();
  if (!kind) {
    throw new UploadError(
      400,
      `say which part with the field 'kind' (${KINDS.join(", ")})`,
      "kind",
    );
  }
  if (!isKind(kind)) {
    throw new UploadError(
      400,
      `'${kind.slice(0, 40)}' is not a part (${KINDS.join(", ")})`,
      "kind",
    );
  }
  const files: StoredFile[] = [];
  let total = 0;
  for (const field of KIND_FILES[kind]) {
    const v = form.get(field);
    if (v === null || (typeof v !== "string" && v.size === 0 && !v.name)) {
      throw new UploadError(400, `${kind} needs the file '${field}'`, field);
    }
    const bytes = typeof v === "string"
      ? new TextEncoder().encode(v)
      : new Uint8Array(await v.arrayBuffer());
    const given = typeof v === "string" ? "" : v.name;
    let name = safeName(given, DEFAULT_NAMES[field]);
    while (files.some((f) => f.name === name)) name = `${field}-${name}`;
    if (bytes.length === 0) throw new UploadError(400, `${name} is empty`, field);
    if (bytes.length > policy.maxScriptBytes) {
      throw new UploadError(
        413,
        `${name} is ${size(bytes.length)}; the limit is ${size(policy.maxScriptBytes)} a file`,
        field,
      );
    }
    total += bytes.length;
    if (total > policy.maxTotalBytes) {
      throw new UploadError(
        413,
        `the files add up to more than ${size(policy.maxTotalBytes)}`,
        field,
      );
    }
    // A name it was not saved under is said back to the student (at most 200 characters).
    files.push(
      given && given !== name ? { name, bytes, givenName: given.slice(0, 200) } : { name, bytes },
    );
  }
  const script = KIND_FILES[kind].indexOf("script");
  if (script >= 0 && !isUtf8Text(files[script].bytes)) {
    const { name, bytes } = files[script];
    throw new UploadError(
      415,
      bytes.includes(0)
        ? `${name} is not a text file (UTF-8) but binary`
        // Text with a letter saved as Latin-1/Windows-1252: Python 3 would refuse it too.
        : `${name} is not UTF-8 text (an accented letter in another encoding?): save it as UTF-8`,
      "script",
    );
  }
  for (const [i, field] of KIND_FILES[kind].entries()) {
    if (field !== "script") await checkPem(field, files[i]);
  }
  let sciper: string | undefined;
  if (kind === "part4-sender") {
    sciper = String(form.get("sciper") ?? "").trim();
    if (!/^\d{6}$/.test(sciper)) {
      throw new UploadError(
        400,
        `part4-sender needs your sciper: 6 digits in the field 'sciper'`,
        "sciper",
      );
    }
  }
  return { userId, kind, sciper, files };
}

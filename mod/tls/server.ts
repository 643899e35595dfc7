/**
 * The server side of part 5's TLS, around Deno's rustls: the secure PMU's certificate and
 * key (a bad file is one line naming it, checked before the port is bound), what the
 * certificate says for the log, the handshake of each accepted connection bounded in time,
 * and the secure PMU itself (part 2's PMU server over TLS).
 *
 * @module
 */
import { PendingConnection, type PmuServerOptions, startPmuServer } from "../tcp/pmu.ts";
import type { Server } from "../net/server.ts";
import { X509Certificate } from "node:crypto";
import { errorMessage, RunError } from "../errors.ts";

import { PEM_CERT, PEM_KEY } from "./ca.ts";
import { readInputText } from "../net/files.ts";

/** A server's certificate (chain) and private key, PEM. */
export interface Identity {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** Read the secure PMU's certificate and key files; a missing or wrong file is a RunError naming it. */
export async function loadIdentity(certFile: string, keyFile: string): Promise<Identity> {
  const cert = await readInputText(certFile, "certificate");
  if (!PEM_CERT.test(cert)) {
    throw new RunError(
      `certificate ${certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` +
        (PEM_KEY.test(cert) ? "; it is a private key: swap the two arguments?" : ""),
    );
  }
  const key = await readInputText(keyFile, "key");
  if (!PEM_KEY.test(key)) {
    throw new RunError(
      `key ${keyFile} holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)` +
        (PEM_CERT.test(key) ? "; it is a certificate: swap the two arguments?" : ""),
    );
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key)) {
    throw new RunError(
      `key ${keyFile} is encrypted with a passphrase; remove it: openssl rsa -in ${keyFile} -out plain_key.pem`,
    );
  }
  return { cert, key, certFile, keyFile };
}

/**
 * The error Deno.listenTls throws for a certificate/key pair, as a RunError
 * naming the files (null if it is not about them).
 */
export function identityError(e: unknown, id: Identity): RunError | null {
  const m = errorMessage(e);
  if (/KeyMismatch|keys may not be consistent/i.test(m)) {
    return new RunError(`certificate ${id.certFile} and key ${id.keyFile} do not match`);
  }
  if (/UnsupportedCertVersion/.test(m)) {
    return new RunError(
      `certificate ${id.certFile} is an X.509 v1 certificate; TLS here (rustls) needs v3: ` +
        `have it signed again with 'socklab ca sign'`,
    );
  }
  if (/No certificates found/i.test(m)) {
    return new RunError(`certificate ${id.certFile}: no usable certificate in it (${m})`);
  }
  if (/No keys found|key/i.test(m) && !/cert/i.test(m)) {
    return new RunError(`key ${id.keyFile}: not a usable private key (${m})`);
  }
  if (e instanceof Deno.errors.InvalidData || /certificate|der|pem/i.test(m)) {
    return new RunError(`certificate ${id.certFile} / key ${id.keyFile}: ${m}`);
  }
  return null;
}

/**
 * What a server certificate says, for the log: one line (subject, issuer, end of validity,
 * names) and warnings a student can act on (expired, not yet valid, not for localhost).
 */
export function describeServerCert(pem: string, now = new Date()): {
  line: string;
  warnings: string[];
} {
  let c: X509Certificate;
  try {
    c = new X509Certificate(pem);
  } catch {
    return { line: "(unreadable by node:crypto)", warnings: [] };
  }
  const oneLine = (dn: string) => dn.split("\n").join(", ");
  const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, "Z");
  const names = c.subjectAltName?.replace(/IP Address:/g, "IP:") ?? "none (no subjectAltName)";
  const line = `subject ${oneLine(c.subject)}; issuer ${oneLine(c.issuer)}; valid until ` +
    `${c.validToDate.toISOString().slice(0, 10)}; names ${names}`;
  const warnings: string[] = [];
  if (c.validToDate < now) {
    warnings.push(`it expired on ${iso(c.validToDate)}: clients will reject it`);
  } else if (c.validFromDate > now) {
    warnings.push(
      `it is not valid before ${iso(c.validFromDate)}: clients will reject it`,
    );
  }
  if (!c.checkHost("localhost") && !c.checkIP("127.0.0.1")) {
    warnings.push(
      "it is not for localhost or 127.0.0.1: clients that check the host name will reject it " +
        "(secure-pdc --no-hostname-check does not check it)",
    );
  }
  return { line, warnings };
}

/**
 * Check that rustls accepts the identity (a matching key, an X.509 v3
 * certificate) before the server binds its port: a throwaway listener on
 * `hostname`, port 0. A RunError names the file.
 */
export function checkIdentity(id: Identity, hostname: string): void {
  let l: Deno.TlsListener;
  try {
    l = Deno.listenTls({ hostname, port: 0, cert: id.cert, key: id.key });
  } catch (e) {
    const err = identityError(e, id);
    if (err) throw err;
    return; // an address problem: the real listen reports it
  }
  l.close();
}

/**
 * Run the server side of the TLS handshake on an accepted connection, for at
 * most `timeoutMs` (a client that connects and says nothing must not hold a
 * session forever) or until `signal` aborts. A failed handshake (a plain-TCP
 * client, a client that rejects the certificate, one that vanishes) is an
 * Error whose message is the reason in one line; the caller logs it and goes on.
 * A handshake still running at the timeout is a {@link PendingConnection}: Deno
 * cannot close a TLS connection before its handshake ends (the descriptor stays
 * whatever `close()` says), so the caller keeps counting it until it settles.
 */
export async function serverHandshake(
  conn: Deno.Conn,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const tls = conn as Deno.TlsConn;
  if (typeof tls.handshake !== "function") return;
  const hs = tls.handshake();
  hs.catch(() => {}); // rejected when the peer leaves, or when the connection is closed
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<"timeout" | "abort">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, timeoutMs));
    onAbort = () => resolve("abort");
    signal?.addEventListener("abort", onAbort);
    if (signal?.aborted) onAbort();
  });
  try {
    const r = await Promise.race([hs.then(() => null), stop]);
    if (r === "abort") {
      try {
        conn.close();
      } catch { /* already closed */ }
      throw new Error("TLS handshake failed: server shutting down");
    }
    if (r === "timeout") {
      throw new PendingConnection(
        `TLS handshake failed: no TLS handshake within ${timeoutMs / 1000} s ` +
          `(its slot stays taken until the peer finishes it or leaves)`,
        hs,
      );
    }
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("TLS handshake failed")) throw e;
    throw new Error(`TLS handshake failed: ${handshakeFailure(e)}`);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/** Why a client's handshake failed, as the server sees it. */
export function handshakeFailure(e: unknown): string {
  const m = errorMessage(e);
  if (/InvalidContentType|corrupt message|HTTP request|not a TLS|InvalidMessage/i.test(m)) {
    return "not a TLS client (it sent plain text to this TLS port)";
  }
  const alert = m.match(/received fatal alert: (\w+)/);
  if (alert) return `the client rejected the certificate (alert ${alert[1]})`;
  if (e instanceof Deno.errors.UnexpectedEof || /unexpected end of file/.test(m)) {
    return "the client closed the connection during the handshake";
  }
  return m;
}

/**
 * The secure PMU (part 5): part 2's PMU server over TLS with `identity`,
 * after checking that rustls accepts it; each session starts with a TLS
 * handshake bounded by the idle timeout. The CLI, `demo` and tests start it
 * here.
 */
export function startSecurePmu(
  opts: Omit<PmuServerOptions, "tls" | "prepare"> & { identity: Identity },
): Promise<Server> {
  const { identity, ...rest } = opts;
  checkIdentity(identity, opts.hostname);
  const handshakeMs = (opts.idleTimeout ?? 10) * 1000;
  return startPmuServer({
    ...rest,
    tls: { cert: identity.cert, key: identity.key },
    prepare: (conn, signal) => serverHandshake(conn, handshakeMs, signal),
  });
}

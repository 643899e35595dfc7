/**
 * The client side of part 5's TLS, around Deno's rustls: the lab CA's certificate a client
 * trusts, the verifying connection (the host name check that `--no-hostname-check` skips),
 * rustls's errors turned into one reason a student can act on, and the end of a stream
 * that Python's ssl closes without close_notify.
 *
 * @module
 */
import { errorMessage, RunError } from "../errors.ts";
import { hostPort } from "../net/address.ts";
import { connectError } from "../net/errors.ts";
import { PEM_CERT } from "./ca.ts";
import { readInputText } from "../net/files.ts";
import { withRead } from "../net/conn.ts";
import { within } from "../deadline.ts";
import { foreignAnswer } from "../pmu/mod.ts";

/** Read the CA certificate a client trusts; a missing or wrong file is a RunError naming it. */
export async function loadCaCert(caFile: string): Promise<string> {
  const pem = await readInputText(caFile, "CA certificate");
  if (!PEM_CERT.test(pem)) {
    throw new RunError(
      `CA certificate ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  }
  // A corrupt certificate would surface only at the handshake, as if the server were at
  // fault: check every certificate in the file now. (node:crypto is loaded here only: it
  // costs every command's start-up when imported at the top, bench 5b.)
  const { X509Certificate } = await import("node:crypto");
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new RunError(`CA certificate ${caFile} is corrupt: no -----END CERTIFICATE----- line`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (e) {
      const which = blocks.length > 1 ? ` (certificate ${i + 1} of ${blocks.length})` : "";
      throw new RunError(
        `CA certificate ${caFile} is corrupt${which}: not a readable X.509 certificate ` +
          `(${errorMessage(e)})`,
      );
    }
  });
  return pem;
}

/** `DnsName("a"), IpAddress(10.0.0.1)` from rustls -> `a, 10.0.0.1`. */
function rustlsNames(list: string): string {
  const names = [...list.matchAll(/DnsName\("([^"]*)"\)|IpAddress\(([^)]*)\)/g)].map((m) =>
    m[1] ?? m[2]
  );
  return names.length ? names.join(", ") : list;
}

/** Unix seconds -> ISO date-time without milliseconds. */
function isoTime(seconds: string): string {
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/**
 * Why rustls rejected the server (or the handshake failed), in one line:
 * unknown issuer, expired, not yet valid, wrong name, v1 certificate, not TLS.
 */
export function tlsReason(e: unknown, ctx: { name: string; caFile: string }): string {
  const m = errorMessage(e);
  if (/UnknownIssuer/.test(m)) {
    return `certificate rejected: unknown issuer (the server's certificate does not lead to the CA in ${ctx.caFile})`;
  }
  let r = m.match(/certificate expired: .*not valid after (\d+)/);
  if (r) return `certificate rejected: expired (not valid after ${isoTime(r[1])})`;
  r = m.match(/not valid yet: .*not valid before (\d+)/);
  if (r) return `certificate rejected: not yet valid (not valid before ${isoTime(r[1])})`;
  if (/invalid peer certificate: Expired\b/.test(m)) return "certificate rejected: expired";
  r = m.match(/not valid for name "([^"]*)"; certificate is only valid for (.*)$/);
  if (r) {
    return `certificate rejected: wrong name (it is for ${rustlsNames(r[2])}, not ${r[1]}; ` +
      `--no-hostname-check skips this check)`;
  }
  if (/not valid for name .*not valid for any names/.test(m)) {
    return `certificate rejected: wrong name (it has no subjectAltName, so it is valid for no ` +
      `name, not ${ctx.name}; --no-hostname-check skips this check)`;
  }
  if (/invalid peer certificate: BadSignature/.test(m)) {
    return `certificate rejected: bad signature (it names a CA like the one in ${ctx.caFile} ` +
      `as its issuer, but that CA's key did not sign it)`;
  }
  if (/UnsupportedCertVersion/.test(m)) {
    return "certificate rejected: the server's certificate is X.509 v1 (rustls accepts v3 only)";
  }
  if (/invalid peer certificate: (.*)$/.test(m)) {
    return `certificate rejected: ${m.replace(/^.*invalid peer certificate: /, "")}`;
  }
  if (/InvalidContentType|corrupt message/.test(m)) {
    return "the server does not speak TLS (it answered in plain text)";
  }
  if (e instanceof Deno.errors.UnexpectedEof || /unexpected end of file/.test(m)) {
    return "the server closed the connection during the TLS handshake";
  }
  if (/received fatal alert: (\w+)/.test(m)) {
    return `TLS handshake failed: the server sent the alert ${m.match(/alert: (\w+)/)![1]}`;
  }
  return `TLS handshake failed: ${m}`;
}

/**
 * {@link tlsReason}, and with `identifyPlain`, for a server that answered in plain text, what
 * it speaks and the client to use (`foreignAnswer`): the plain PMU (pdc) or HTTP (ws-pdc).
 */
async function tlsFailure(e: unknown, opts: SecureConnectOptions): Promise<string> {
  const reason = tlsReason(e, opts);
  if (!opts.identifyPlain || !/does not speak TLS/.test(reason)) return reason;
  const head = await plainHead(opts.address, opts.port);
  return (head && foreignAnswer(head, "tls")) ?? reason;
}

/**
 * What a server that does not speak TLS sends first, seen on a second, plain connection
 * (Deno's TLS keeps the bytes it rejected): it is sent bytes that no protocol accepts, so
 * a PMU answers `Wrong command.` and an HTTP server a 400, at once. Null if nothing
 * comes within `ms`.
 */
async function plainHead(address: string, port: number, ms = 2000): Promise<Uint8Array | null> {
  const connecting = Deno.connect({ hostname: address, port });
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await within(connecting, ms, "connect");
    await conn.write(new TextEncoder().encode("?\r\n\r\n"));
    const buf = new Uint8Array(64);
    const n = await within(conn.read(buf), ms, "read");
    return n ? buf.subarray(0, n) : null;
  } catch {
    connecting.then((c) => c === conn || c.close(), () => {});
    return null;
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

export interface SecureConnectOptions {
  /** Address to connect to (an IP literal). */
  address: string;
  port: number;
  /** The name the certificate must be valid for (the host as the user gave it). */
  name: string;
  /** PEM of the CA certificate to trust. */
  caCert: string;
  /** The CA file's path, for messages. */
  caFile: string;
  /** Check that the certificate is valid for `name` (default true). */
  hostnameCheck?: boolean;
  /** Give up when the TCP connect and the handshake together take longer (default: no limit). */
  timeoutMs?: number;
  /**
   * When the server answers in plain text, look once more on a plain connection to name
   * what it speaks (secure-pdc; off for grade, whose student server must see one client).
   */
  identifyPlain?: boolean;
}

/**
 * Connect over TCP, then run the TLS handshake with the CA's certificate.
 * Resolves once the server is verified; a refused connection or a rejected
 * server is a RunError with the reason.
 */
export async function connectSecure(opts: SecureConnectOptions): Promise<Deno.TlsConn> {
  // A deadline over both steps: a listener that accepts and never speaks TLS
  // (or never accepts) must not hold the caller.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => {
    if (opts.timeoutMs !== undefined) timer = setTimeout(() => r("late"), opts.timeoutMs);
  });
  const lateError = () =>
    new RunError(
      `${hostPort(opts.name, opts.port)}: no TLS connection within ${opts.timeoutMs! / 1000} s`,
    );
  const closeLater = (p: Promise<Deno.Conn>) =>
    p.then((c) => {
      try {
        c.close();
      } catch { /* closed */ }
    }, () => {});
  try {
    let tcp: Deno.TcpConn;
    const connecting = Deno.connect({ hostname: opts.address, port: opts.port });
    try {
      const c = await Promise.race([connecting, late]);
      if (c === "late") {
        void closeLater(connecting);
        throw lateError();
      }
      tcp = c;
    } catch (e) {
      if (e instanceof RunError) throw e;
      throw connectError(e, opts.name, opts.port);
    }
    let tls: Deno.TlsConn | undefined;
    try {
      tls = await Deno.startTls(tcp, {
        hostname: opts.name,
        caCerts: [opts.caCert],
        unsafelyDisableHostnameVerification: opts.hostnameCheck === false,
      });
      if (await Promise.race([tls.handshake(), late]) === "late") throw lateError();
      return tls;
    } catch (e) {
      try {
        (tls ?? tcp).close();
      } catch { /* already closed */ }
      if (e instanceof RunError) throw e;
      throw new RunError(`${hostPort(opts.name, opts.port)}: ${await tlsFailure(e, opts)}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** True for rustls's "peer closed connection without sending TLS close_notify". */
export function isMissingCloseNotify(e: unknown): boolean {
  return /without sending TLS close_notify/.test(errorMessage(e));
}

/**
 * The connection, with a TCP close that was not preceded by TLS close_notify read as the
 * end of the stream. Python's ssl (the students' secure_pmu.py) and `openssl s_server`
 * close that way; for the PMU protocol, where the server closes once it has said
 * everything, it is the normal end, not an attack. `onMissing` is told when it happens.
 */
export function lenientClose(conn: Deno.TlsConn, onMissing?: () => void): Deno.TlsConn {
  const read = async (p: Uint8Array): Promise<number | null> => {
    try {
      return await conn.read(p);
    } catch (e) {
      if (!isMissingCloseNotify(e)) throw e;
      onMissing?.();
      return null;
    }
  };
  return withRead(conn, read);
}

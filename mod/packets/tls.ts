/**
 * TLS records of one direction's byte stream, with no I/O: each record's type, version and
 * length, the handshake messages it starts (ClientHello with the versions it offers and its
 * SNI, ServerHello with the version and cipher suite chosen, Certificate with the subject,
 * issuer and validity of each certificate when it is in clear, i.e. TLS 1.2 and older).
 * In TLS 1.3 everything after the ServerHello is encrypted (the certificate too): the first
 * ApplicationData record of each side is named as its encrypted handshake. Parse the server's
 * stream first: the client's side needs the version it chose.
 * @module
 */
import { X509Certificate } from "node:crypto";
import type { Item } from "./items.ts";

const CONTENT: Record<number, string> = {
  20: "ChangeCipherSpec",
  21: "Alert",
  22: "Handshake",
  23: "ApplicationData",
};

const HANDSHAKE: Record<number, string> = {
  0: "HelloRequest",
  1: "ClientHello",
  2: "ServerHello",
  4: "NewSessionTicket",
  8: "EncryptedExtensions",
  11: "Certificate",
  12: "ServerKeyExchange",
  13: "CertificateRequest",
  14: "ServerHelloDone",
  15: "CertificateVerify",
  16: "ClientKeyExchange",
  20: "Finished",
};

const SUITES: Record<number, string> = {
  0x1301: "TLS_AES_128_GCM_SHA256",
  0x1302: "TLS_AES_256_GCM_SHA384",
  0x1303: "TLS_CHACHA20_POLY1305_SHA256",
  0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  0xcca8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  0xcca9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
  0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256",
  0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384",
};

/** `TLS 1.2` for 0x0303 and so on. */
export function versionName(v: number): string {
  if (v === 0x0300) return "SSL 3.0";
  if (v >= 0x0301 && v <= 0x0304) return `TLS 1.${v - 0x0301}`;
  return `0x${v.toString(16).padStart(4, "0")}`;
}

/** A cipher suite's IANA name, or its number. */
export function suiteName(s: number): string {
  return SUITES[s] ?? `0x${s.toString(16).padStart(4, "0")}`;
}

/** What the handshake told, for the summary. */
export interface TlsFacts {
  /** Versions the ClientHello offers (supported_versions, else its legacy version). */
  offered?: string[];
  sni?: string;
  /** The version the ServerHello chose. */
  version?: string;
  cipherSuite?: string;
  certificates?: { subject: string; issuer: string; validFrom: string; validTo: string }[];
}

/** True if `b` starts like a TLS record (a known content type and a 3.x version). */
export function looksLikeTls(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] in CONTENT && b[1] === 3 && b[2] <= 4;
}

class Reader {
  off = 0;
  constructor(readonly b: Uint8Array) {}
  get left(): number {
    return this.b.length - this.off;
  }
  u8(): number {
    if (this.left < 1) throw new RangeError("short");
    return this.b[this.off++];
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u24(): number {
    return (this.u8() << 16) | this.u16();
  }
  bytes(n: number): Uint8Array {
    if (this.left < n) throw new RangeError("short");
    this.off += n;
    return this.b.subarray(this.off - n, this.off);
  }
  vec(lenBytes: 1 | 2 | 3): Uint8Array {
    const n = lenBytes === 1 ? this.u8() : lenBytes === 2 ? this.u16() : this.u24();
    return this.bytes(n);
  }
}

function extensions(r: Reader): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  if (r.left < 2) return out;
  const ext = new Reader(r.vec(2));
  while (ext.left >= 4) out.set(ext.u16(), ext.vec(2));
  return out;
}

function clientHello(body: Uint8Array, facts: TlsFacts): string {
  const r = new Reader(body);
  const legacy = r.u16();
  r.bytes(32);
  r.vec(1);
  const suites = r.vec(2).length / 2;
  r.vec(1);
  const ext = extensions(r);
  const sv = ext.get(43);
  const offered: string[] = [];
  if (sv) {
    const list = new Reader(sv).vec(1);
    for (let i = 0; i + 1 < list.length; i += 2) {
      const v = (list[i] << 8) | list[i + 1];
      if ((v & 0x0f0f) !== 0x0a0a) offered.push(versionName(v)); // skip GREASE
    }
  } else {
    offered.push(versionName(legacy));
  }
  const sniExt = ext.get(0);
  if (sniExt) {
    const list = new Reader(new Reader(sniExt).vec(2));
    if (list.u8() === 0) facts.sni = new TextDecoder().decode(list.vec(2));
  }
  facts.offered = offered;
  return `ClientHello (offers ${offered.join(", ")}; ${suites} cipher suites${
    facts.sni ? `; SNI ${facts.sni}` : ""
  })`;
}

function serverHello(body: Uint8Array, facts: TlsFacts): string {
  const r = new Reader(body);
  let version = r.u16();
  r.bytes(32);
  r.vec(1);
  const suite = r.u16();
  r.u8();
  const sv = extensions(r).get(43);
  if (sv && sv.length === 2) version = (sv[0] << 8) | sv[1];
  facts.version = versionName(version);
  facts.cipherSuite = suiteName(suite);
  return `ServerHello (${facts.version}, ${facts.cipherSuite})`;
}

function oneLine(s: string): string {
  return s.split("\n").join(", ");
}

function certificate(body: Uint8Array, facts: TlsFacts): string {
  const r = new Reader(body);
  const list = new Reader(r.vec(3));
  const certs: NonNullable<TlsFacts["certificates"]> = [];
  while (list.left >= 3) {
    const der = list.vec(3);
    try {
      const c = new X509Certificate(der);
      certs.push({
        subject: oneLine(c.subject),
        issuer: oneLine(c.issuer),
        validFrom: c.validFrom,
        validTo: c.validTo,
      });
    } catch {
      certs.push({ subject: "?", issuer: "?", validFrom: "?", validTo: "?" });
    }
  }
  facts.certificates = certs;
  const first = certs[0];
  return `Certificate (${certs.length} cert${certs.length === 1 ? "" : "s"}${
    first
      ? `; subject ${first.subject}; issuer ${first.issuer}; valid ${first.validFrom} to ${first.validTo}`
      : ""
  })`;
}

function handshakeMessage(type: number, body: Uint8Array, facts: TlsFacts): string {
  const name = HANDSHAKE[type] ?? `handshake type ${type}`;
  try {
    if (type === 1) return clientHello(body, facts);
    if (type === 2) return serverHello(body, facts);
    if (type === 11) return certificate(body, facts);
  } catch {
    return `${name} (malformed)`;
  }
  return name;
}

/**
 * The TLS records of one direction's stream, as items at their byte offsets. `encrypted`
 * says from which point handshake records are encrypted (after this direction's
 * ChangeCipherSpec in TLS 1.2; TLS 1.3 sends them as ApplicationData anyway).
 */
export function tlsItems(stream: Uint8Array, facts: TlsFacts): Item[] {
  const items: Item[] = [];
  let off = 0;
  let encrypted = false;
  let hs = new Uint8Array(); // handshake bytes not yet parsed into messages
  // TLS 1.3: the first ApplicationData record of each side carries the rest of its handshake.
  let hidden = facts.version === "TLS 1.3"; // the client's side: known from the server's
  let server = false;
  while (off + 5 <= stream.length && looksLikeTls(stream.subarray(off))) {
    const type = stream[off];
    const version = (stream[off + 1] << 8) | stream[off + 2];
    const len = (stream[off + 3] << 8) | stream[off + 4];
    const end = off + 5 + len;
    const body = stream.subarray(off + 5, Math.min(end, stream.length));
    const parts: string[] = [];
    if (type === 22 && !encrypted) {
      const joined = new Uint8Array(hs.length + body.length);
      joined.set(hs);
      joined.set(body, hs.length);
      let p = 0;
      while (p + 4 <= joined.length) {
        const mlen = (joined[p + 1] << 16) | (joined[p + 2] << 8) | joined[p + 3];
        if (p + 4 + mlen > joined.length) break;
        parts.push(handshakeMessage(joined[p], joined.subarray(p + 4, p + 4 + mlen), facts));
        p += 4 + mlen;
      }
      hs = joined.slice(p);
      if (hs.length && !parts.length) parts.push(`${HANDSHAKE[joined[0]] ?? "message"} (part)`);
    } else if (type === 22) {
      parts.push("encrypted handshake message");
    } else if (type === 21 && !encrypted && body.length >= 2) {
      parts.push(`${body[0] === 2 ? "fatal" : "warning"} ${body[1]}`);
    }
    if (type === 22 && !server && parts.some((p) => p.startsWith("ServerHello"))) {
      server = true;
      hidden = facts.version === "TLS 1.3";
    }
    if (type === 23 && hidden) {
      parts.push(
        server
          ? "encrypted handshake (EncryptedExtensions, Certificate, CertificateVerify, Finished)"
          : "encrypted handshake (Finished)",
      );
      hidden = false;
    }
    if (type === 20) encrypted = true;
    const detail = parts.length ? `: ${parts.join(", ")}` : "";
    items.push({
      start: off,
      end: Math.min(end, stream.length),
      label: `TLS ${CONTENT[type]} ${versionName(version)} len=${len}${detail}`,
      kind: CONTENT[type],
    });
    off = end;
  }
  return items;
}

/**
 * Addresses: formatting `host:port` the way every log line and error shows
 * it, and name resolution through the system resolver (getaddrinfo, so
 * /etc/hosts is honoured: `localhost` never leaves the host).
 *
 * @module
 */
import { errorMessage, RunError } from "../errors.ts";

/** `127.0.0.1:5003`, `[::1]:5003`. */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** `host:port` of a Deno network address. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return hostPort(addr.hostname, addr.port);
  }
  return "path" in addr ? String(addr.path) : String(addr);
}

/** 16 bytes as an IPv6 address in its RFC 5952 text form (`::1`, `fe80::1:2`). */
export function ipv6String(b: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i] << 8) | b[i + 1]);
  // The longest run (2 or more) of zero words becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** A dotted-quad IPv4 literal, each part 0..255 without leading zeros (as node:net's isIPv4). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * 4 for an IPv4 literal, 6 for an IPv6 literal (with an optional `%zone`), 0 for a name: what
 * node:net's isIP says (tests/address_test.ts compares them), without loading node:net, which
 * costs ~15 ms at every start of a command (issue 29). IPv6 is checked by the platform's URL
 * host parser (RFC 4291's text forms, embedded IPv4 included).
 */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (IPV4.test(host)) return 4;
  const [addr, zone, ...more] = host.split("%");
  if (more.length > 0 || !/^[0-9A-Fa-f:.]+$/.test(addr) || !addr.includes(":")) return 0;
  if (zone !== undefined && !/^[0-9a-zA-Z\-.:]+$/.test(zone)) return 0;
  return URL.canParse(`http://[${addr}]/`) ? 6 : 0;
}

export interface Resolved {
  address: string;
  family: 4 | 6;
}

/**
 * All addresses of `host` (literals are returned as they are), optionally of
 * one family. Throws an Error naming the host when it has none.
 */
export async function resolveHost(host: string, family?: 4 | 6): Promise<Resolved[]> {
  const lit = ipFamily(host);
  if (lit) {
    if (family && lit !== family) {
      throw new Error(`${host} is an IPv${lit} address, not IPv${family}`);
    }
    return [{ address: host, family: lit }];
  }
  let found: Resolved[];
  try {
    // Loaded here, for names only: node:dns costs every start that imports it.
    const { lookup } = await import("node:dns/promises");
    const all = await lookup(host, { all: true, family: family ?? 0 });
    found = all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  } catch {
    found = [];
  }
  if (found.length === 0) {
    throw new Error(`cannot resolve '${host}'${family ? ` to an IPv${family} address` : ""}`);
  }
  const seen = new Set<string>();
  return found.filter((a) => !seen.has(a.address) && seen.add(a.address));
}

/** A syntactically valid DNS host name (RFC 1123 labels: letters, digits and inner hyphens,
 * 1..63 characters each, 253 in all; an optional final dot). */
export function isHostName(name: string): boolean {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  return n.split(".").every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/**
 * True if `host` is an IP literal or a syntactically valid host name ({@link isHostName}).
 * Lets a client reject a malformed name at once instead of asking the resolver.
 */
export function isValidHost(host: string): boolean {
  return ipFamily(host) !== 0 || isHostName(host);
}

/** The IPv4 address of `host` for the lab's AF_INET sockets, or a RunError. */
export async function ipv4Of(host: string): Promise<string> {
  try {
    return (await resolveHost(host, 4))[0].address;
  } catch (e) {
    throw new RunError(errorMessage(e));
  }
}

/** The address a server binds: an IP literal as given, a name's IPv4 address. */
export async function bindAddress(host: string): Promise<string> {
  return ipFamily(host) ? host : await ipv4Of(host);
}

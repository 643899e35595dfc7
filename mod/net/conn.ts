/**
 * A connection seen through another `read`: the PDCs' wrappers (the PMU check of the first
 * bytes, TLS's lenient end of stream) change how it reads and nothing else.
 *
 * @module
 */

/** `conn` with its `read` replaced by `read`; every other member is the connection's own. */
export function withRead<C extends Deno.Conn>(
  conn: C,
  read: (p: Uint8Array) => Promise<number | null>,
): C {
  return new Proxy(conn, {
    get(target, key) {
      if (key === "read") return read;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

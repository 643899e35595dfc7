/**
 * The seccomp filter of jailed programs: a classic BPF program (as
 * `bwrap --seccomp FD` reads it, an array of struct sock_filter) written with
 * labels and assembled here. What it refuses is three lists of system call
 * names (refused, refused with CLONE_NEWUSER, "not implemented") and a table
 * of their numbers per architecture: refusing one more call is one name and
 * its numbers.
 *
 * @module
 */

/** Classic BPF opcodes (linux/bpf_common.h), the few the filter uses. */
export const BPF = {
  /** A = the 32-bit word at offset k of struct seccomp_data (BPF_LD | BPF_W | BPF_ABS). */
  LD: 0x20,
  /** Jump if A == k (BPF_JMP | BPF_JEQ | BPF_K). */
  JEQ: 0x15,
  /** Jump if A >= k (BPF_JMP | BPF_JGE | BPF_K). */
  JGE: 0x35,
  /** Jump if A & k (BPF_JMP | BPF_JSET | BPF_K). */
  JSET: 0x45,
  /** Return k (BPF_RET | BPF_K). */
  RET: 0x06,
} as const;

/** seccomp return actions (linux/seccomp.h): allow, or fail the call with errno (low 16 bits). */
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ERRNO = 0x00050000;

/** Offsets in struct seccomp_data: nr, arch, args[0] (its low 32 bits on little-endian). */
const NR = 0, ARCH = 4, ARG0 = 16;
const EPERM = 1, ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;
/** x32 system calls on x86_64 have this bit set in their number (__X32_SYSCALL_BIT). */
const X32 = 0x40000000;

/**
 * One instruction before assembly: opcode, the label a jump goes to when its
 * test holds (null: not a jump; when it fails, the next instruction), and k.
 */
export type Instruction = [code: number, jumpIfTrue: string | null, k: number];

/**
 * Assemble instructions and labels (a string marks the place of the next
 * instruction) into struct sock_filter bytes: code u16, jt u8, jf u8 (always
 * 0: the next instruction), k u32, little-endian. Jumps go forward only (BPF
 * allows nothing else), at most 255 instructions.
 */
export function assembleBpf(program: (Instruction | string)[]): Uint8Array {
  const at = new Map<string, number>();
  const code: Instruction[] = [];
  for (const p of program) typeof p === "string" ? at.set(p, code.length) : code.push(p);
  const out = new DataView(new ArrayBuffer(code.length * 8));
  code.forEach(([op, label, k], i) => {
    const jt = label === null ? 0 : (at.get(label) ?? -1) - i - 1;
    if (!(jt >= 0 && jt <= 255)) throw new Error(`BPF: no label '${label}' ahead of ${i}`);
    out.setUint16(i * 8, op, true);
    out.setUint8(i * 8 + 2, jt);
    out.setUint8(i * 8 + 3, 0);
    out.setUint32(i * 8 + 4, k, true);
  });
  return new Uint8Array(out.buffer);
}

/** The system calls the filter knows by name. */
type Syscall =
  | "add_key"
  | "request_key"
  | "keyctl"
  | "io_uring_setup"
  | "io_uring_enter"
  | "io_uring_register"
  | "unshare"
  | "clone"
  | "clone3";

/** Refused (EPERM) whatever their arguments. */
const REFUSED: Syscall[] = [
  "add_key",
  "request_key",
  "keyctl",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
];
/** Refused (EPERM) when their first argument, the flags, asks for a new user namespace. */
const REFUSED_NEWUSER: Syscall[] = ["unshare", "clone"];
/** ENOSYS: the flags are in memory a filter cannot read, so libc falls back to clone. */
const NOT_IMPLEMENTED: Syscall[] = ["clone3"];

/** Each architecture's AUDIT_ARCH_* and system call numbers (asm/unistd.h). */
const ABI: Record<string, { audit: number; nr: Record<Syscall, number> }> = {
  x86_64: {
    audit: 0xc000003e,
    nr: {
      add_key: 248,
      request_key: 249,
      keyctl: 250,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      unshare: 272,
      clone: 56,
      clone3: 435,
    },
  },
  aarch64: {
    audit: 0xc00000b7,
    nr: {
      add_key: 217,
      request_key: 218,
      keyctl: 219,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
      unshare: 97,
      clone: 220,
      clone3: 435,
    },
  },
};

/**
 * The seccomp filter (classic BPF, as `bwrap --seccomp` reads it) every jailed
 * program runs under, or null on an architecture it does not know. It refuses
 * (EPERM) what the namespaces do not separate:
 * - the kernel's keyrings (add_key, request_key, keyctl): a user keyring
 *   outlives the run, so a key one job leaves would be read by the next job
 *   given the same uid;
 * - io_uring (setup, enter, register): its own path to files and sockets,
 *   around what the other calls are checked for, and a frequent source of
 *   kernel bugs (Docker's and Android's filters refuse it too);
 * - new user namespaces (unshare or clone with CLONE_NEWUSER): root inside one
 *   opens the kernel's less-guarded paths (mounts, netfilter, veths);
 *   clone3, whose flags a filter cannot read, fails with ENOSYS (libc then uses clone);
 * - any other ABI (i386 through int 0x80, x32), whose numbers differ.
 */
export function seccompFilter(arch: string = Deno.build.arch): Uint8Array | null {
  const abi = ABI[arch];
  if (!abi) return null;
  const { LD, JEQ, JGE, JSET, RET } = BPF;
  const jumps = (names: Syscall[], label: string) =>
    names.map((n): Instruction => [JEQ, label, abi.nr[n]]);
  return assembleBpf([
    [LD, null, ARCH],
    [JEQ, "native", abi.audit],
    [RET, null, SECCOMP_RET_ERRNO | EPERM],
    "native",
    [LD, null, NR],
    [JGE, "deny", X32],
    ...jumps(REFUSED, "deny"),
    ...jumps(REFUSED_NEWUSER, "flags"),
    ...jumps(NOT_IMPLEMENTED, "nosys"),
    [RET, null, SECCOMP_RET_ALLOW],
    "flags",
    [LD, null, ARG0],
    [JSET, "deny", CLONE_NEWUSER],
    [RET, null, SECCOMP_RET_ALLOW],
    "nosys",
    [RET, null, SECCOMP_RET_ERRNO | ENOSYS],
    "deny",
    [RET, null, SECCOMP_RET_ERRNO | EPERM],
  ]);
}

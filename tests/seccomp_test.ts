/**
 * The seccomp filter of jailed programs, byte by byte: its instructions are
 * decoded (struct sock_filter: code u16, jt u8, jf u8, k u32, little-endian)
 * and run by a small classic-BPF interpreter here on the struct seccomp_data
 * the kernel would give it. The system call numbers and AUDIT_ARCH values are
 * the kernel's (asm/unistd.h, linux/audit.h), written out here rather than
 * read from the module, so a wrong number in the module fails.
 * tests/isolation_test.ts runs the real filter under bubblewrap.
 */
import assert from "node:assert/strict";
import { assembleBpf, seccompFilter } from "../mod/proc/sandbox/seccomp.ts";

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

function decode(bytes: Uint8Array): Insn[] {
  assert.equal(bytes.length % 8, 0, "a whole number of 8-byte instructions");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => ({
    code: v.getUint16(i * 8, true),
    jt: v.getUint8(i * 8 + 2),
    jf: v.getUint8(i * 8 + 3),
    k: v.getUint32(i * 8 + 4, true),
  }));
}

/** What the kernel hands the filter: the call's number, the ABI and the arguments. */
interface SeccompData {
  nr: number;
  arch: number;
  args?: number[];
}

/** The 32-bit word at `offset` of struct seccomp_data (nr, arch, ip u64, args u64[6]). */
function word(d: SeccompData, offset: number): number {
  const v = new DataView(new ArrayBuffer(64));
  v.setInt32(0, d.nr, true);
  v.setUint32(4, d.arch, true);
  (d.args ?? []).forEach((a, i) => v.setBigUint64(16 + i * 8, BigInt(a), true));
  return v.getUint32(offset, true);
}

/** Run a classic BPF program the way seccomp does; only the opcodes a filter of ours may use. */
function run(prog: Insn[], d: SeccompData): number {
  let a = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 4096; pc++, steps++) {
    const { code, jt, jf, k } = prog[pc];
    const jump = (cond: boolean) => pc += cond ? jt : jf;
    if (code === 0x20) a = word(d, k); // LD W ABS
    else if (code === 0x15) jump(a === k); // JEQ K
    else if (code === 0x35) jump(a >= k); // JGE K
    else if (code === 0x45) jump((a & k) !== 0); // JSET K
    else if (code === 0x06) return k; // RET K
    else throw new Error(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
  }
  throw new Error("ran off the end of the program");
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050000 | 1;
const ENOSYS = 0x00050000 | 38;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;

const ABIS = {
  x86_64: {
    audit: 0xc000003e,
    refused: {
      add_key: 248,
      request_key: 249,
      keyctl: 250,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
    },
    unshare: 272,
    clone: 56,
    clone3: 435,
    allowed: { read: 0, write: 1, socket: 41, connect: 42, execve: 59, openat: 257 },
  },
  aarch64: {
    audit: 0xc00000b7,
    refused: {
      add_key: 217,
      request_key: 218,
      keyctl: 219,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
    },
    unshare: 97,
    clone: 220,
    clone3: 435,
    allowed: { read: 63, write: 64, socket: 198, connect: 203, execve: 221, openat: 56 },
  },
};

for (const [arch, abi] of Object.entries(ABIS)) {
  Deno.test(`seccomp (${arch}): the architecture is checked first`, () => {
    const prog = decode(seccompFilter(arch)!);
    assert.deepEqual(prog[0], { code: 0x20, jt: 0, jf: 0, k: 4 }, "load seccomp_data.arch");
    assert.equal(prog[1].code, 0x15, "compare it");
    assert.equal(prog[1].k, abi.audit, "with this ABI's AUDIT_ARCH");
    assert.deepEqual(prog[2], { code: 0x06, jt: 0, jf: 0, k: EPERM }, "anything else refused");
    // Another ABI's numbers never reach the syscall checks, e.g. i386 (int 0x80) or the other arch.
    for (const other of [0x40000003, 0xc000003e, 0xc00000b7].filter((a) => a !== abi.audit)) {
      for (const nr of [0, 1, 56, 220, 272]) {
        assert.equal(run(prog, { nr, arch: other }), EPERM, `arch 0x${other.toString(16)}`);
      }
    }
  });

  Deno.test(`seccomp (${arch}): each refused call leads to EPERM, clone3 to ENOSYS`, () => {
    const prog = decode(seccompFilter(arch)!);
    for (const [name, nr] of Object.entries(abi.refused)) {
      assert.equal(run(prog, { nr, arch: abi.audit }), EPERM, name);
      assert.equal(run(prog, { nr, arch: abi.audit, args: [CLONE_NEWUSER] }), EPERM, name);
    }
    assert.equal(run(prog, { nr: abi.clone3, arch: abi.audit }), ENOSYS, "clone3");
    for (const [name, nr] of Object.entries(abi.allowed)) {
      assert.equal(run(prog, { nr, arch: abi.audit, args: [CLONE_NEWUSER] }), ALLOW, name);
    }
  });

  Deno.test(`seccomp (${arch}): unshare and clone are refused only a new user namespace`, () => {
    const prog = decode(seccompFilter(arch)!);
    for (const nr of [abi.unshare, abi.clone]) {
      for (const flags of [CLONE_NEWUSER, CLONE_NEWUSER | CLONE_NEWNET | 0x11]) {
        assert.equal(run(prog, { nr, arch: abi.audit, args: [flags] }), EPERM, `${nr} ${flags}`);
      }
      for (const flags of [0, CLONE_NEWNET, 0x11, 0x01200011]) {
        assert.equal(run(prog, { nr, arch: abi.audit, args: [flags] }), ALLOW, `${nr} ${flags}`);
      }
    }
  });
}

Deno.test("seccomp (x86_64): x32 calls (bit 30 of the number) are refused", () => {
  const prog = decode(seccompFilter("x86_64")!);
  for (const nr of [0x40000000, 0x40000000 + 1, 0x40000000 + 59]) {
    assert.equal(run(prog, { nr, arch: 0xc000003e }), EPERM, `0x${nr.toString(16)}`);
  }
});

Deno.test("seccomp: an unknown architecture gets no filter", () => {
  assert.equal(seccompFilter("riscv64"), null);
});

Deno.test("seccomp: the assembler resolves labels forward and refuses any other jump", () => {
  const prog = decode(assembleBpf([[0x15, "b", 7], [0x06, null, 1], "b", [0x06, null, 2]]));
  assert.deepEqual(prog, [
    { code: 0x15, jt: 1, jf: 0, k: 7 },
    { code: 0x06, jt: 0, jf: 0, k: 1 },
    { code: 0x06, jt: 0, jf: 0, k: 2 },
  ]);
  assert.equal(run(prog, { nr: 0, arch: 7 }), 1); // A = nr: 0 != 7
  assert.throws(() => assembleBpf(["back", [0x06, null, 0], [0x15, "back", 0]]), /no label/);
  assert.throws(() => assembleBpf([[0x15, "nowhere", 0]]), /no label 'nowhere'/);
});

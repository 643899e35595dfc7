#!/bin/sh
# What the test suite and `deno task bench` need beyond Deno, the one list of it:
# `deno task test` runs this first, and .ci/run calls it. The bench's anchors
# (socat, hyperfine, python3-websockets, nodejs: the tools people would use
# instead, measured beside socklab) are here too, so that a fresh machine has
# every row of bench/RESULTS.md; the bench stops naming any that is missing.
# As root on Debian/Ubuntu it installs what is missing (apt-get update once, only then) and prints one line saying
# what it installed; otherwise it prints one line of what is missing and how to
# install it, and the tests that need it fail saying the same (tests/helpers/
# requires.ts). It never fails the run by itself. It starts no service.
#
# SOCKLAB_SETUP=check: only report what is missing, install nothing.
set -u

# package: the test that shows it is there
has() {
  case "$1" in
  openssl) command -v openssl ;;
  iproute2) command -v ip || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] ;;
  # Debian's python3-* modules are for /usr/bin/python3, whatever python3 is first on PATH.
  python3-websocket) /usr/bin/python3 -c 'import websocket' ;;
  bubblewrap) command -v bwrap ;;
  tcpdump) command -v tcpdump || [ -x /usr/sbin/tcpdump ] || [ -x /usr/bin/tcpdump ] ;;
  postgresql) for f in /usr/lib/postgresql/*/bin/postgres; do [ -x "$f" ] && return 0; done; return 1 ;;
  chromium) command -v chromium || command -v chromium-browser ;;
  curl) command -v curl ;;
  systemd) command -v systemd-analyze ;;
  caddy) command -v caddy ;;
  # The bench's anchors (scripts/bench/env.ts probes the same).
  socat) command -v socat ;;
  hyperfine) command -v hyperfine ;;
  python3-websockets) /usr/bin/python3 -c 'import websockets' ;;
  nodejs) command -v node ;;
  esac
}

need=""
for pkg in openssl iproute2 python3-websocket bubblewrap tcpdump postgresql chromium curl systemd caddy socat hyperfine python3-websockets nodejs; do
  has "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
[ -z "$need" ] && exit 0
need="${need# }"

if [ "${SOCKLAB_SETUP:-}" = check ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing $need: the tests that need them will fail; install them as root: apt-get install $need (or run scripts/setup.sh as root)" >&2
  exit 0
fi

log="${TMPDIR:-/tmp}/socklab-setup.$$.log"
# shellcheck disable=SC2086 # one word per package
if apt-get update -qq >"$log" 2>&1 &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >>"$log" 2>&1; then
  echo "setup: installed $need" >&2
  rm -f "$log"
else
  echo "setup: could not install $need (apt-get failed, see $log): the tests that need them will fail" >&2
fi
exit 0

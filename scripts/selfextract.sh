#!/bin/sh
# socklab @VERSION@, self-unpacking build (scripts/build.ts, `deno task compile`
# without the denort runtime). This file is this script, then the socklab bundle
# (@JS_SIZE@ bytes), then the deno @DENO_VERSION@ executable (@DENO_SIZE@ bytes).
# The first start copies both, checked by cksum, into a per-user cache keyed by
# their sha256; every start then execs deno on the bundle with socklab's flags.
# Needs only /bin/sh and @TOOLS@.
# SOCKLAB_CACHE=DIR picks the cache folder (default $XDG_CACHE_HOME/socklab,
# ~/.cache/socklab, or /tmp/socklab-UID without a home).
key=@KEY@
total=@TOTAL@ # bytes in this file (the number is padded to a fixed width)
js_size=@JS_SIZE@
js_sum='@JS_CKSUM@'
deno_size=@DENO_SIZE@
deno_sum='@DENO_CKSUM@'

die() {
  echo "socklab: error: $*" >&2
  exit 1
}

# The size of file $1 (no read of its content), or nothing.
size_of() {
  # shellcheck disable=SC2046 # split ls's fields on purpose
  set -- $(ls -lnL -- "$1" 2>/dev/null)
  echo "${5:-}"
}

# The owner uid of $1.
owner_of() {
  # shellcheck disable=SC2046
  set -- $(ls -lndL -- "$1" 2>/dev/null)
  echo "${3:-}"
}

# The cache folder, in $base: writable, and ours (set here, not echoed: a $(...) forks).
cache_base() {
  if [ -n "${SOCKLAB_CACHE:-}" ]; then
    base=$SOCKLAB_CACHE
    return
  fi
  case "${XDG_CACHE_HOME:-}" in
    /*) base=$XDG_CACHE_HOME/socklab && return ;;
  esac
  case "${HOME:-}" in
    /*) if [ -d "$HOME" ] && [ -w "$HOME" ]; then
      base=$HOME/.cache/socklab
      return
    fi ;;
  esac
  base=${TMPDIR:-/tmp}/socklab-$(id -u)
}

# Every start asks this: one ls for both sizes (each fork costs at every start). ls lists
# deno before socklab.js; the size is the fifth field of each line.
is_unpacked() {
  [ -f "$1/ok" ] && [ -x "$1/deno" ] || return 1
  sizes=$(ls -lnL -- "$1/deno" "$1/socklab.js" 2>/dev/null) || return 1
  {
    read -r _ _ _ _ d _
    read -r _ _ _ _ j _
  } <<SIZES
$sizes
SIZES
  [ "$d" = "$deno_size" ] && [ "$j" = "$js_size" ]
}

unpack() {
  for tool in @TOOLS@; do
    command -v "$tool" >/dev/null 2>&1 || die "cannot unpack: '$tool' is missing (coreutils)"
  done
  [ "$(size_of "$0")" = "$total" ] || die "$0 is not $total bytes long: copy it again"
  # Readable by every user (e.g. a sandbox that re-executes socklab under another uid).
  [ -d "${1%/*}" ] || { mkdir -p "${1%/*}" && chmod 755 "${1%/*}"; } 2>/dev/null
  mkdir -p "$1" 2>/dev/null || die "cannot create $1 (set SOCKLAB_CACHE to a writable folder)"
  [ "$(owner_of "$1")" = "$(id -u)" ] || die "$1 belongs to another user (set SOCKLAB_CACHE)"
  chmod 755 "$1" || die "cannot chmod $1"
  tmp="$1/.unpack.$$"
  trap 'rm -f "$tmp.js" "$tmp.deno" "$tmp.ok"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  tail -c $((js_size + deno_size)) "$0" | head -c "$js_size" >"$tmp.js" &&
    tail -c "$deno_size" "$0" >"$tmp.deno" ||
    die "cannot write to $1 (disk full?)"
  [ "$(cksum <"$tmp.js")" = "$js_sum" ] && [ "$(cksum <"$tmp.deno")" = "$deno_sum" ] ||
    die "$0 is damaged (checksum mismatch): copy it again"
  chmod 644 "$tmp.js" && chmod 755 "$tmp.deno" || die "cannot chmod files in $1"
  # Each rename replaces a whole file atomically: a copy starting meanwhile sees
  # the old file or the new one, never a partial one; "ok" goes last.
  echo "$js_sum $deno_sum" >"$tmp.ok" && chmod 644 "$tmp.ok" &&
    mv -f "$tmp.js" "$1/socklab.js" && mv -f "$tmp.deno" "$1/deno" && mv -f "$tmp.ok" "$1/ok" ||
    die "cannot write to $1"
  trap - EXIT INT TERM
}

cache_base
dir="$base/$key"
is_unpacked "$dir" || unpack "$dir"
DENO_NO_UPDATE_CHECK=1
# The bundle unpacks its pieces into the same cache (scripts/build.ts, startBundle).
SOCKLAB_CACHE=$base
export DENO_NO_UPDATE_CHECK SOCKLAB_CACHE
exec "$dir/deno" run --no-config @FLAGS@ "$dir/socklab.js" "$@"

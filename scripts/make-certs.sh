#!/usr/bin/env bash
# Remake certs/: the demo lab CA and a certificate for localhost signed by it,
# through `socklab ca` (openssl underneath). PUBLIC TEST MATERIAL: the private
# keys are committed on purpose, for the tests and `socklab demo`; never use
# them for anything else.
#
#   scripts/make-certs.sh            # remake certs/ (replaces what is there)
#   SOCKLAB=/path/to/socklab scripts/make-certs.sh   # with the binary
#   CERTS_DIR=/tmp/x DENO=/path/to/deno scripts/make-certs.sh   # elsewhere, another deno
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${SOCKLAB:-}" ]]; then
  socklab() { "$SOCKLAB" "$@"; }
else
  socklab() {
    DENO_NO_UPDATE_CHECK=1 "${DENO:-deno}" run --unstable-net --allow-all --no-prompt main.ts "$@"
  }
fi
dir=${CERTS_DIR:-certs}
mkdir -p "$dir"
# The demo CA, valid 10 years.
socklab ca init --dir "$dir" --cn "socklab demo CA (public test material)" --days 3650 --force
# The secure PMU's key and request, then the certificate: X.509 v3 for localhost,
# 127.0.0.1 and ::1, valid 10 years.
rm -f "$dir/localhost.key"
socklab ca request --key "$dir/localhost.key" --csr "$dir/localhost.csr" --cn localhost
socklab ca sign "$dir/localhost.csr" --dir "$dir" --out "$dir/localhost.crt" --days 3650
rm -f "$dir/localhost.csr"
# Readable by everyone: it is public test material (openssl writes keys 0600).
chmod 644 "$dir"/*.key
openssl verify -CAfile "$dir/ca.crt" "$dir/localhost.crt"

#!/usr/bin/env bash
# Signs one dynaBOARD -> HipChat request (docs/signing.md) and prints its two headers.
#
#   DYNABOARD_SIGNING_KEY=... sign.sh METHOD PATH_AND_QUERY [BODY_FILE|-] [TIMESTAMP]
#
# PATH_AND_QUERY exactly as sent (percent-encoded); the body is BODY_FILE's bytes, or stdin
# when BODY_FILE is "-" or left out (/dev/null: no body); TIMESTAMP defaults to now.
# Needs bash and openssl. openssl takes the key as an argument, which other users of the
# machine can see (ps) while it runs: on a shared machine use sign.py or sign.php.
set -euo pipefail

key=${DYNABOARD_SIGNING_KEY:-}
[[ -n $key ]] || { echo "sign.sh: set DYNABOARD_SIGNING_KEY to the signing key" >&2; exit 1; }
(($# >= 2 && $# <= 4)) || { echo "usage: sign.sh METHOD PATH_AND_QUERY [BODY_FILE|-] [TIMESTAMP]" >&2; exit 1; }
method=$1 path=$2 body_file=${3:--} timestamp=${4:-$(date +%s)}
[[ $body_file == - ]] && body_file=/dev/stdin

# v1:<timestamp>:<METHOD>:<path and ?query>:<raw body>. The body goes through cat, never
# through a shell variable, so its bytes (trailing newlines, NUL) are signed unchanged.
hex=$({ printf 'v1:%s:%s:%s:' "$timestamp" "$method" "$path"; cat -- "$body_file"; } |
  openssl dgst -sha256 -hmac "$key" -r | cut -d' ' -f1)

echo "X-Dynaboard-Timestamp: $timestamp"
echo "X-Dynaboard-Signature: v1=$hex"

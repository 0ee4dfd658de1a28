#!/usr/bin/env bash
# The contract run (schemathesis against the local stack; see run.py).
#
#   .venv/bin/python infra/local/stack.py test -- bash infra/local/contract/run.sh   # a fresh test stack
#   bash infra/local/contract/run.sh                                                 # against `make run`
#
# Takes the stack's variables from the environment (stack.py test exports them), else from
# .local/stack.env. Writes target/contract/summary.{json,md}; exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
if [[ -z "${API_BASE_URL:-}" && -f "$root/.local/stack.env" ]]; then
  set -a; . "$root/.local/stack.env"; set +a
fi
exec "$root/.venv/bin/python" "$root/infra/local/contract/run.py" "$@"

#!/usr/bin/env bash
# Type-checks every fuzz target on the default (stable) toolchain: no nightly, no cargo-fuzz,
# no sanitizer. fuzz/ is its own workspace, outside the root's `cargo clippy --workspace`, so
# without this a change in `shared` can break a target unnoticed until the next fuzzing run.
#
#   fuzz/check.sh
#
# `cargo check --all-targets` on fuzz/Cargo.toml: libfuzzer-sys builds on stable (its build
# script compiles libFuzzer with the C++ compiler) and the targets are checked as the binaries
# cargo fuzz builds. Uses CARGO_TARGET_DIR when set, else target/ (dependencies shared with the
# root workspace's checks where their features agree). fuzz/Cargo.lock is updated when a
# dependency of `shared` changed. Exits non-zero when a target does not compile.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

target_dir=${CARGO_TARGET_DIR:-$root/target}
targets=$(sed -n '/^\[\[bin\]\]/{n;s/^name = "\(.*\)"$/\1/p}' fuzz/Cargo.toml | tr '\n' ' ')
cmd=(cargo check --manifest-path fuzz/Cargo.toml --all-targets --target-dir "$target_dir")

echo "fuzz/check.sh: $(cargo --version), targets: ${targets% }"
echo "fuzz/check.sh: ${cmd[*]}"
start=$SECONDS
status=0
"${cmd[@]}" || status=$?
secs=$((SECONDS - start))
if [ "$status" -ne 0 ]; then
  echo "fuzz/check.sh: FAILED (exit $status, ${secs}s): a fuzz target does not compile" >&2
  exit "$status"
fi
echo "fuzz/check.sh: ok, the fuzz targets type-check (${secs}s)"

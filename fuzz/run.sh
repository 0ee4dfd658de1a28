#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a set time each, one after the other, and
# fails when any of them finds a crash (a panic, a failed assertion, a timeout, out of memory).
#
#   fuzz/run.sh [target...]
#
#   FUZZ_SECONDS    seconds per target (libFuzzer -max_total_time), default 60
#   FUZZ_SANITIZER  address (cargo fuzz's default) or none, default address
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a crash, default 10
#   FUZZ_TOOLCHAIN  the nightly toolchain cargo fuzz needs, default nightly
#
# cargo-fuzz (crates.io, pinned below) is installed into target/tools if it is not there.
# Builds go to target/fuzz-build/<sanitizer>. Each target's corpus grows in
# target/fuzz-corpus/<target>; the committed seeds in fuzz/corpus/<target> are read, never
# written. A crashing input is saved in fuzz/artifacts/<target>/ (git-ignored). Per target it
# prints the executions, the time and the crashes (libFuzzer's final stats), and writes
# target/fuzz-summary.md.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
timeout=${FUZZ_TIMEOUT:-10}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
tools=$root/target/tools
build_dir=$root/target/fuzz-build/$sanitizer
summary=$root/target/fuzz-summary.md
logs=$root/target/fuzz-logs

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  echo "cargo fuzz needs a nightly toolchain: rustup toolchain install $toolchain" >&2
  exit 1
fi
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$tools" --quiet
fi
export PATH="$tools/bin:$PATH"

fuzz=(cargo "+$toolchain" fuzz)
build_opts=(--sanitizer "$sanitizer" --target-dir "$build_dir")

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("${fuzz[@]}" list)
fi

echo "building ${targets[*]} (sanitizer: $sanitizer)"
start=$SECONDS
"${fuzz[@]}" build "${build_opts[@]}"
build_secs=$((SECONDS - start))
echo "built in ${build_secs}s"

mkdir -p "$logs"
{
  echo "# Fuzzing summary"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
    "$(rustup run "$toolchain" rustc --version), cargo-fuzz $CARGO_FUZZ_VERSION, sanitizer $sanitizer," \
    "${seconds}s per target, build ${build_secs}s."
  echo
  echo "| target | time (s) | executions | exec/s | corpus (inputs) | crashes | result |"
  echo "|---|---:|---:|---:|---:|---:|---|"
} >"$summary"

final_stat() { # final_stat <name> <log>: a value of libFuzzer's final stats
  sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=()
for t in "${targets[@]}"; do
  corpus=$root/target/fuzz-corpus/$t
  seeds=$root/fuzz/corpus/$t
  artifacts=$root/fuzz/artifacts/$t
  mkdir -p "$corpus" "$seeds" "$artifacts"
  dict=()
  [ -f "fuzz/dicts/$t.dict" ] && dict=("-dict=fuzz/dicts/$t.dict")
  before=$(find "$artifacts" -type f | sort)
  log=$logs/$t.log
  echo "== $t: ${seconds}s"
  start=$SECONDS
  status=0
  "${fuzz[@]}" run "${build_opts[@]}" "$t" "$corpus" "$seeds" -- \
    -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1 || status=$?
  secs=$((SECONDS - start))
  new=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed '/^$/d')
  crashes=$(printf '%s' "$new" | grep -c . || true)
  execs=$(final_stat number_of_executed_units "$log")
  rate=$(final_stat average_exec_per_sec "$log")
  units=$(find "$corpus" -type f | wc -l)
  if [ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $status)"
    failed+=("$t")
    [ "$crashes" -eq 0 ] && crashes="?"
  fi
  printf '%-14s %5ss  %12s executions  %8s exec/s  %6s corpus  crashes: %s  %s\n' \
    "$t" "$secs" "${execs:-?}" "${rate:-?}" "$units" "$crashes" "$result"
  echo "| $t | $secs | ${execs:-?} | ${rate:-?} | $units | $crashes | $result |" >>"$summary"
  if [ "$result" != ok ]; then
    grep -m 1 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log" | sed 's/^/    /' || true
    for a in $new; do
      echo "    input: $a  (reproduce: cargo +$toolchain fuzz run ${build_opts[*]} $t $a)"
      echo "- \`$t\`: \`$a\`" >>"$summary"
    done
    echo "    log: $log"
  fi
done

echo
echo "summary: $summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]}" >&2
  exit 1
fi

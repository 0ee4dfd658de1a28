# dynaBOARD ↔ HipChat — the README's two commands are `make run` and `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The Lambda functions (package = binary = the template's BuildProperties.Binary).
FUNCTIONS := settings connection-check chat-request event-notification token-expiry-reminder

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: bench soak help run test check build venv php lint package fuzz fmt invoke clean

help:
	@echo "make run     start the local stack (moto, HipChat simulator, functions, gateway), seed a demo partner, print example calls"
	@echo "make test    lint, then every test tier against a fresh local stack; stops what it started"
	@echo "make check   the inner loop: fmt, clippy, and every test that needs no local stack (~2 min after a small change)"
	@echo "make invoke FN=settings EVENT=events/settings.get.json   invoke one function with a freshly signed event (needs make run)"
	@echo "make package release arm64 zips of the five functions (target/lambda/<fn>/bootstrap.zip), sizes printed"
	@echo "make bench   release builds measured: cold init vs a bare hello-world, warm latency and overhead, upstream calls, zip sizes, peak RSS (target/bench/)"
	@echo "make soak    SOAK_SECONDS (300) of SOAK_CLIENTS (16) clients through the local gateway with HipChat faults: exactly once, one room per user, settings versions, RSS/fds (target/soak/)"
	@echo "make fuzz    run each cargo-fuzz target for FUZZ_SECONDS (default 60; needs the nightly toolchain)"
	@echo "make fmt     format the code"

# Python venv with moto, cfn-lint and cargo-lambda (first use, or when requirements change).
$(STAMP): infra/local/requirements.txt
	@command -v python3 >/dev/null || { echo "python3 is required (apt-get install python3 python3-venv)"; exit 1; }
	@python3 -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing python3-venv"; \
	  (apt-get update -qq && apt-get install -y -qq python3-venv) >/dev/null; \
	  python3 -m venv $(VENV); }
	$(VENV)/bin/pip install -q --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -r infra/local/requirements.txt
	@touch $@

venv: $(STAMP)

# PHP for the PHP reference signer's test (shared/tests/signers.rs): php-cli, only when php is missing.
php:
	@command -v php >/dev/null || { echo "php not found; installing php-cli (about 15 s)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends php-cli) >/dev/null; }

# Debug binaries for the local stack: the functions (run by cargo lambda watch), the
# local gateway and the signing helper `call`.
build:
	cargo build --workspace --bins

run: venv build
	$(PY) infra/local/stack.py run

# The inner loop: no venv, no stack, no release build. The tests that need the local stack are
# #[ignore]d with the reason, so they show as ignored here; make test runs them.
check:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	cargo test --workspace --quiet

lint: venv
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/cfn-lint infra/template.yaml
	$(VENV)/bin/openapi-spec-validator infra/openapi.yaml
	@# The fuzz targets are their own workspace (cargo-fuzz): type-checked here on stable so
	@# that they cannot stop compiling unnoticed (make fuzz runs them on nightly).
	bash fuzz/check.sh

# Release builds for Lambda (arm64, Amazon Linux 2023), as the template deploys them: one
# cargo invocation for all five functions (zig from the cargo-lambda wheel links them).
package: venv
	cargo lambda build --release --arm64 --output-format zip $(addprefix -p ,$(FUNCTIONS))
	@for f in $(FUNCTIONS); do \
	  z=target/lambda/$$f/bootstrap.zip; \
	  test -s "$$z" || { echo "missing $$z"; exit 1; }; \
	  stat -c %s "$$z" | awk -v f="$$f" -v z="$$z" '{ printf "%-24s %9d bytes  %5.2f MiB  %s\n", f, $$1, $$1 / 1048576, z }'; \
	done

test: venv php lint package
	cargo build --workspace --bins --tests --quiet
	@# Last, the binaries as `cargo lambda watch` runs them (without dev-dependency features),
	@# so the watcher starts them without rebuilding.
	cargo build --workspace --bins --quiet
	@# Then the contract run (schemathesis through a signing proxy; infra/local/contract), after
	@# the cargo tests because it fills the HipChat simulator with rooms. Its seed is fixed so
	@# that make test is repeatable; CONTRACT_SEED= (empty) draws a fresh one.
	CONTRACT_SEED=$${CONTRACT_SEED-2074316113} $(PY) infra/local/stack.py test -- bash -c \
	  'cargo test --workspace -- --include-ignored && bash infra/local/contract/run.sh'

# Performance (not part of make test; docs/performance.md): x86_64 release builds of the
# functions, a bare lambda_runtime hello-world, the gateway and the simulator, measured by
# infra/local/bench against moto and the simulator. Results: target/bench/results.{md,json}.
# BENCH_ARGS passes options (e.g. BENCH_ARGS="--cold-runs 50 --warm-runs 500").
bench: venv package
	cargo build --release --quiet $(foreach f,$(FUNCTIONS),-p $(f)) -p bench-hello -p bench -p local-gateway -p hipchat-sim
	$(PY) infra/local/stack.py bench -- target/release/bench $(BENCH_ARGS)

# Soak (not part of make test; docs/reliability.md "Soak"): a fresh local stack with the debug
# builds `make run` uses, then SOAK_SECONDS (default 300) of SOAK_CLIENTS (default 16) clients
# through the gateway while the HipChat simulator injects faults (infra/local/soak). Also
# SOAK_PARTNERS, SOAK_MAX_REQUESTS, SOAK_WARMUP_SECONDS, SOAK_SEED. Results: target/soak/results.{md,json}.
soak: venv build
	$(PY) infra/local/stack.py soak -- target/debug/soak

# The cargo-fuzz targets in fuzz/ (signature, settings, service hours, event), one after the
# other for FUZZ_SECONDS each; not part of make test. Summary: target/fuzz-summary.md.
fuzz:
	bash fuzz/run.sh

fmt:
	cargo fmt --all

# Invoke one function through `cargo lambda watch` with a freshly signed event. Events that
# are not HTTP requests (the reminder's scheduled event) and *bad-signature* ones go as they are.
invoke: build
	@test -f .local/stack.env || { echo "start the stack first: make run"; exit 1; }
	@test -n "$${FN:-}" -a -n "$${EVENT:-}" || { echo "usage: make invoke FN=settings EVENT=events/settings.get.json"; \
	  echo "       make invoke FN=token-expiry-reminder EVENT=events/token-expiry-reminder.scheduled.json"; exit 1; }
	@set -a; . .local/stack.env; set +a; \
	  case "$(EVENT)" in *bad-signature*|*token-expiry-reminder*) cp "$(EVENT)" .local/event.json ;; \
	    *) target/debug/call --sign-event "$(EVENT)" > .local/event.json ;; esac; \
	  cargo lambda invoke "$(FN)" --invoke-address 127.0.0.1 --invoke-port "$$LAMBDA_PORT" --data-file .local/event.json

clean:
	rm -rf .local

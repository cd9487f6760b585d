#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the integration tests against real
# PostgreSQL servers the tests start themselves. Installs missing system packages first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# Tests open many sockets (hundreds of clients, several servers at once).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --test-threads 4 --no-fail-fast "$@"
    cargo test --workspace --locked --doc
else
    cargo test --workspace --locked "$@"
fi

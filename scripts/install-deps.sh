#!/usr/bin/env bash
# Installs what the test suite needs on Debian/Ubuntu: PostgreSQL 15 server binaries (initdb,
# pg_ctl, postgres, pgbench, psql), the drivers the driver tests use (pgjdbc, psycopg 3,
# asyncpg, node-postgres), headless Chromium for the status page test and moto (a local AWS
# Secrets Manager) for the aws feature's tests. Skips what is already there.
set -euo pipefail

have_pg() {
    for dir in "${PG_BIN:-}" /usr/lib/postgresql/*/bin; do
        [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pgbench" ] && return 0
    done
    return 1
}

missing=()
have_pg && command -v psql >/dev/null || missing+=(postgresql-15 postgresql-client-15)
command -v runuser >/dev/null || missing+=(util-linux)
# The TLS tests send SIGHUP to the sluice binary with kill(1).
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || missing+=(procps)
# The token tests make Sluice's Ed25519 signing key as the docs say: openssl genpkey.
command -v openssl >/dev/null || missing+=(openssl)
# Driver tests: pgjdbc for Java (the JDK itself is on the machine), Node.js for node-postgres.
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v npm >/dev/null || missing+=(nodejs npm)
# The status page test loads the admin listener's page in headless Chromium.
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]}; run this script as root or install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
    echo "cargo is missing: install Rust from https://rustup.rs" >&2
    exit 1
fi

# Python drivers for the driver tests (psycopg 3, asyncpg).
if ! python3 -c "import psycopg, asyncpg" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "psycopg[binary]>=3.1" "asyncpg>=0.29"
fi

# moto's server for the AWS Secrets Manager tests (it brings boto3, which they use for IAM).
if ! python3 -c "import moto.server, boto3" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "moto[server]>=5"
fi

# node-postgres for the driver tests.
drivers="$(dirname "$0")/../crates/sluice/tests/drivers"
if [ ! -d "$drivers/node_modules/pg" ]; then
    (cd "$drivers" && npm ci --no-audit --no-fund --silent)
fi

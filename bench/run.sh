#!/usr/bin/env bash
# Side-by-side benchmark: pgbench directly, through PgBouncer and through Sluice, interleaved in
# one run, reported as ratios (see docs/benchmarks.md). Extra arguments go to lab.py, e.g.
#   bench/run.sh --duration 5 --repeats 1 --scale 1 --idle-clients 500 --out smoke.md
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer
    else
        echo "install PgBouncer first: apt-get install pgbouncer" >&2
        exit 1
    fi
fi
# Debian's package starts a system-wide PgBouncer; the lab starts its own.
systemctl stop pgbouncer 2>/dev/null || service pgbouncer stop 2>/dev/null || true

cargo build --release --locked -p sluice
ulimit -n "$(ulimit -Hn)"
exec python3 bench/lab.py \
    --pgbouncer "$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" --pgcat "" --pgdog "" \
    --custom "sluice:15436:$PWD/bench/sluice-lab.sh {port} {pg_port} {user} {password} {pool_size} {threads} {workdir}" \
    "$@"

#!/usr/bin/env bash
# Starts Sluice for bench/lab.py: writes a config from the lab's placeholders, then execs Sluice
# (exec keeps the PID the lab measures CPU and memory of).
# usage: sluice-lab.sh PORT PG_PORT USER PASSWORD POOL_SIZE THREADS WORKDIR
# (SLUICE_THREADS overrides the worker thread count, for experiments.)
set -euo pipefail
port=$1 pg_port=$2 user=$3 password=$4 pool_size=$5 threads=$6 workdir=$7
here=$(cd "$(dirname "$0")/.." && pwd)
cat > "$workdir/sluice.toml" <<TOML
[proxy]
listen = "127.0.0.1:$port"
worker_threads = ${SLUICE_THREADS:-$threads}
max_client_connections = 20000

[database]
hosts = ["127.0.0.1:$pg_port"]
max_connections = $pool_size
max_connections_percent = 100
max_idle_connections_percent = 100

[[users]]
name = "$user"
password = "$password"

[log]
filter = "warn"
log_connections = false
TOML
exec "${SLUICE_BIN:-$here/target/release/sluice}" --config "$workdir/sluice.toml"

#!/usr/bin/env bash
# The server-side floor of bench:store's runOnceOverBare: pgbench, prepared statements, every statement
# of a transaction pipelined into one message, so Node and round trips are out of the picture.
# Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/store-floor/run.sh [clients=16] [seconds=10] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")"
: "${DATABASE_URL:?set DATABASE_URL to a server where a scratch database may be created}"
clients=${1:-16} seconds=${2:-10} rounds=${3:-3}
db="idem_store_floor_$$"
server_url="$DATABASE_URL"
db_url=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$server_url" "$db")
psql -q "$server_url" -c "CREATE DATABASE $db"
trap 'psql -q "$server_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
DATABASE_URL="$db_url" LOG_LEVEL=warn npx --no-install tsx ../../src/cli/db-migrate.ts >/dev/null
psql -q "$db_url" -c 'CREATE TABLE bench_effects (id bigserial PRIMARY KEY, tag text NOT NULL, amount int NOT NULL)'
tps() { pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "$1" "$db_url" 2>/dev/null | awk '/^tps = /{print $3}'; }
echo "clients $clients, ${seconds}s per run, $rounds rounds; tps and bare/this (the latency ratio at a fixed client count)"
for r in $(seq "$rounds"); do
  bare=$(tps bare.sql); once=$(tps key-once.sql); claim=$(tps claim-only.sql); full=$(tps run-once.sql)
  node -e 'const [b,o,c,f,r]=process.argv.slice(1).map(Number); const x=(t)=>`${t.toFixed(0)} (${(b/t).toFixed(2)})`; console.log(`round ${r}: bare ${b.toFixed(0)}  key-once ${x(o)}  claim-only ${x(c)}  run-once ${x(f)}`)' "$bare" "$once" "$claim" "$full" "$r"
done

#!/usr/bin/env bash
# Side by side with Sqitch (issue 5): the same three-tag schema history deployed with
# `sqitch deploy` and with cutover (`apply --rev vN` per tag), then `sqitch revert --to @v1`
# vs `cutover rollback --to v1`. Prints both wall times, the ratio, and checks that the
# schema-only dumps after the revert are equal (and equal to the schema right after v1).
#
#   bench/sqitch_compare.sh [path/to/cutover]    (default build/cutover; needs sqitch, PostgreSQL 15)
set -euo pipefail
cd "$(dirname "$0")/.."
cutover=$(realpath "${1:-build/cutover}")
pgbin=/usr/lib/postgresql/15/bin
command -v sqitch >/dev/null || { echo "sqitch is not installed (apt-get install sqitch libdbd-pg-perl)" >&2; exit 1; }

work=$(mktemp -d /tmp/cutover-sqitch-XXXXXX); chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
trap 'as_pg $pgbin/pg_ctl -D $work/pg -m immediate stop >/dev/null 2>&1 || true; rm -rf $work' EXIT
mkdir -p "$work/pg"; [ "$(id -u)" != 0 ] || chown postgres "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg" -U postgres --auth=trust >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
psql_su() { psql -h 127.0.0.1 -p "$port" -U postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
psql_su -c "CREATE DATABASE via_sqitch" -c "CREATE DATABASE via_cutover"
now() { date +%s.%N; }

# The history: three tags, each adding schema (tables, an index, a view, a column).
declare -A up down
up[1]="CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);"
down[1]="DROP TABLE IF EXISTS customers;"
up[2]="CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), cents int NOT NULL); CREATE INDEX orders_customer ON orders(customer_id);"
down[2]="DROP TABLE IF EXISTS orders;"
up[3]="ALTER TABLE customers ADD COLUMN name text; CREATE VIEW customer_totals AS SELECT customer_id, sum(cents) AS total FROM orders GROUP BY 1;"
down[3]="DROP VIEW IF EXISTS customer_totals; ALTER TABLE customers DROP COLUMN IF EXISTS name;"

# Sqitch project.
sq="$work/sqitch"; mkdir -p "$sq" && cd "$sq"
sqitch init shop --engine pg --target "db:pg://postgres@127.0.0.1:$port/via_sqitch" >/dev/null
for n in 1 2 3; do
  sqitch add "change_v$n" -n "v$n" >/dev/null
  echo "BEGIN; ${up[$n]} COMMIT;" > "deploy/change_v$n.sql"
  echo "BEGIN; ${down[$n]} COMMIT;" > "revert/change_v$n.sql"
  echo "SELECT 1;" > "verify/change_v$n.sql"
  sqitch tag "v$n" -n "v$n" >/dev/null
done

# cutover repository: the plan at each tag adds that tag's pg.sql step.
cr="$work/cutover"; mkdir -p "$cr" && cd "$cr" && git init -q
for n in 1 2 3; do
  { echo "version: 1"; echo "name: shop"; echo "steps:";
    for k in "$n"; do   # each release applies its own change
      echo "  - id: change-v$k"; echo "    type: pg.sql"; echo "    with:"
      echo "      dsn: postgresql://postgres@127.0.0.1:$port/via_cutover"
      echo "      up: \"${up[$k]}\""; echo "      down: \"${down[$k]}\""
    done; } > plan.yaml
  git add plan.yaml && git -c user.name=b -c user.email=b@example.test commit -qm "v$n" && git tag "v$n"
done

cd "$sq"; t0=$(now); sqitch deploy >/dev/null; t1=$(now)
sqitch_deploy=$(echo "$t1 - $t0" | bc)
cd "$cr"; t0=$(now)
"$cutover" apply plan.yaml --rev v1 --state "$work/state" -q >/dev/null
schema_v1=$(pg_dump -s -h 127.0.0.1 -p "$port" -U postgres via_cutover | grep -v -E '^(--|\\restrict|\\unrestrict)')
"$cutover" apply plan.yaml --rev v2 --state "$work/state" -q >/dev/null
"$cutover" apply plan.yaml --rev v3 --state "$work/state" -q >/dev/null
t1=$(now); cutover_deploy=$(echo "$t1 - $t0" | bc)

cd "$sq"; t0=$(now); sqitch revert --to @v1 -y >/dev/null; t1=$(now)
sqitch_revert=$(echo "$t1 - $t0" | bc)
cd "$cr"; t0=$(now); "$cutover" rollback --to v1 --state "$work/state" -q >/dev/null; t1=$(now)
cutover_revert=$(echo "$t1 - $t0" | bc)

dump() { pg_dump -s -N sqitch -h 127.0.0.1 -p "$port" -U postgres "$1" | grep -v -E '^(--|\\restrict|\\unrestrict)'; }
a=$(dump via_sqitch); b=$(dump via_cutover)
printf 'deploy v1..v3:  sqitch %.3fs   cutover %.3fs   ratio cutover/sqitch %.2fx\n' "$sqitch_deploy" "$cutover_deploy" "$(echo "$cutover_deploy / $sqitch_deploy" | bc -l)"
printf 'revert to v1:   sqitch %.3fs   cutover %.3fs   ratio cutover/sqitch %.2fx\n' "$sqitch_revert" "$cutover_revert" "$(echo "$cutover_revert / $sqitch_revert" | bc -l)"
if [ "$a" = "$b" ] && [ "$b" = "$schema_v1" ]; then echo "schema-only dumps after the revert: equal (and equal to the schema right after v1)"
else echo "schema-only dumps DIFFER"; diff <(echo "$a") <(echo "$b") | head -20; exit 1; fi

#!/usr/bin/env bash
# The main job, end to end, on a throwaway PostgreSQL cluster:
#   1. a server move (plans/server-move/plan.yaml) that succeeds and becomes release r1;
#   2. the same move again while the app's health check says "degraded": the check fails and
#      cutover rolls everything back — the new database and the connection registry are shown
#      to be exactly as they were before the second run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [ -z "${CUTOVER:-}" ]; then   # CUTOVER=path/to/cutover skips the build (development)
  scripts/setup.sh release
  CUTOVER="$repo/build/cutover"
fi
cutover=$CUTOVER
pgbin=/usr/lib/postgresql/15/bin

work=$(mktemp -d /tmp/cutover-demo-XXXXXX)
chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${http_pid:-}" ] && kill "$http_pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "throwaway PostgreSQL 15 on 127.0.0.1:$port ($work/pg)"
mkdir -p "$work/pg" && [ "$(id -u)" != 0 ] || chown postgres "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
  -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
psql_su() { as_pg psql -h "$work/pg" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
export HIVE_DB_PASSWORD="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
psql_su -c "CREATE ROLE hive LOGIN SUPERUSER PASSWORD '$HIVE_DB_PASSWORD'" -c "CREATE DATABASE hivesync_old OWNER hive"
psql_su -d hivesync_old <<'SQL'
CREATE TABLE customers (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, created timestamptz NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id),
                     amount_cents integer NOT NULL, note text);
INSERT INTO customers (email, created) SELECT 'user' || g || '@example.test', now() - g * interval '1 hour'
  FROM generate_series(1, 5000) g;
INSERT INTO orders (customer_id, amount_cents, note) SELECT 1 + g % 5000, (g * 37) % 10000, md5(g::text)
  FROM generate_series(1, 50000) g;
CREATE VIEW big_spenders AS SELECT customer_id, sum(amount_cents) AS total FROM orders GROUP BY 1 HAVING sum(amount_cents) > 100000;
SQL
echo "source hivesync_old: $(psql_su -d hivesync_old -c 'SELECT count(*) FROM customers') customers, $(psql_su -d hivesync_old -c 'SELECT count(*) FROM orders') orders"

say "the app: a connection registry and a health endpoint on :$http_port"
mkdir -p "$work/app/config" "$work/www"
cat > "$work/app/config/connection_registry.json" <<JSON
{
  "primary_backend_url": "postgresql://hive@127.0.0.1:$port/hivesync_old",
  "fallback_url": null,
  "pool": { "max": 20 }
}
JSON
echo '{"status": "ok"}' > "$work/www/health.json"
(cd "$work/www" && exec python3 -m http.server "$http_port" --bind 127.0.0.1 >/dev/null 2>&1) &
http_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$http_port/health.json" >/dev/null && break; sleep 0.1; done

plan=plans/server-move/plan.yaml
vars=(--var "work=$work" --var "pg_port=$port" --var "http_port=$http_port" --state "$work/state")

say "cutover plan: what would change (nothing is changed)"
"$cutover" plan "$plan" "${vars[@]}" || true

say "run 1: cutover apply (succeeds, becomes release r1)"
"$cutover" apply "$plan" "${vars[@]}" --tag first-move
echo "new hivesync_new: $(psql_su -d hivesync_new -c 'SELECT count(*) FROM customers') customers, $(psql_su -d hivesync_new -c 'SELECT count(*) FROM orders') orders"
cat "$work/app/config/connection_registry.json"

fingerprint() {
  echo "registry sha256: $(sha256sum < "$work/app/config/connection_registry.json" | cut -c1-16)"
  echo "hivesync_new: $(psql_su -d hivesync_new -c "SELECT count(*) || ' orders, checksum ' || left(md5(string_agg(o::text, ',' ORDER BY id)), 16) FROM orders o"), columns of customers: $(psql_su -d hivesync_new -c "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name='customers'")"
}
say "before run 2"
fingerprint > "$work/before.txt"; cat "$work/before.txt"
psql_su -d hivesync_old -c "INSERT INTO orders (customer_id, amount_cents, note) VALUES (1, 4200, 'written after r1')"

say "run 2: the app is degraded — the health check fails and cutover rolls back"
echo '{"status": "degraded"}' > "$work/www/health.json"
set +e
"$cutover" apply "$plan" "${vars[@]}"
code=$?
set -e
echo "exit code: $code (3 = a step failed and every completed step was rolled back)"

say "after run 2"
fingerprint > "$work/after.txt"; cat "$work/after.txt"
if cmp -s "$work/before.txt" "$work/after.txt" && [ "$code" = 3 ]; then
  printf '\033[32mthe new database and the registry are exactly as they were before run 2\033[0m\n'
else
  echo "MISMATCH: the rollback did not restore the state" >&2; exit 1
fi

say "cutover history"
"$cutover" history --state "$work/state"
echo
echo "run folders, journals and reports: $work/state/runs (kept with KEEP=1 scripts/demo.sh)"

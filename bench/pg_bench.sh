#!/usr/bin/env bash
# SPEC §9: pg.dump + pg.restore against hand-run `pg_dump -Fc` + `pg_restore`, in one run.
#   bench/pg_bench.sh [ROUNDS]        (default: 3 alternating rounds per database)
# Starts a throwaway PostgreSQL 15 cluster (initdb as `postgres` in bench/out/pg, a free
# loopback port, scram password auth for the benchmark role), creates two databases:
#   pgb     pgbench -i -s 10 (1M rows in pgbench_accounts)           target <= 1.10x hand
#   varied  2M rows of varied data (bigint, timestamptz, int, short text, md5 text,
#           numeric, small jsonb; ~370 MB)                              target <= 0.60x hand
# and alternates, ROUNDS times each:
#   hand:    pg_dump -Fc -f FILE SRC; createdb DST; pg_restore -d DST FILE
#   cutover: cutover apply of a plan pg.dump -> pg.restore (create_database: true), state
#            folder with its artifact store, checksums, journal and fsyncs included
# then prints the median times, the ratios and cutover's peak RSS (/usr/bin/time -v, target
# <= 64 MiB), and checks the restored copy's row counts. Uses the release build
# ./build/cutover (scripts/setup.sh release), or $CUTOVER.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bin=${CUTOVER:-$PWD/build/cutover}
pgbin=/usr/lib/postgresql/15/bin
[ -x "$bin" ] || { echo "pg_bench: $bin missing: run scripts/setup.sh release" >&2; exit 1; }
[ -x /usr/bin/time ] && command -v pgbench >/dev/null || { echo "pg_bench: needs time and pgbench" >&2; exit 1; }

out=$PWD/bench/out/pg
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() { as_pg "$pgbin/pg_ctl" -D "$out/data" -m immediate -w stop >/dev/null 2>&1 || true; }
[ -d "$out/data" ] && stop
rm -rf "$out"; mkdir -p "$out"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$out"
trap 'stop; rm -rf "$out/data" "$out"/*.dump "$out"/state*' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pgbin/initdb" -D "$out/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
as_pg sh -c "cat > '$out/data/pg_hba.conf'" <<EOF
local all all trust
host all all 127.0.0.1/32 scram-sha-256
EOF
as_pg sh -c "cat >> '$out/data/postgresql.conf'" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$out/data'
shared_buffers = 256MB
max_wal_size = 4GB
EOF
as_pg "$pgbin/pg_ctl" -D "$out/data" -l "$out/server.log" -w start >/dev/null
export PGPASSWORD=bench-Pa55word
su_psql() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$out/data" -p "$port" -U postgres "$@"; }
su_psql -d postgres -c "CREATE ROLE bench LOGIN CREATEDB PASSWORD '$PGPASSWORD'"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=bench

echo "pg_bench: creating pgb (pgbench -i -s 10) and varied (2M rows)"
createdb pgb
pgbench -i -s 10 -q pgb >/dev/null 2>&1
createdb varied
psql -X -q -v ON_ERROR_STOP=1 -d varied <<'SQL'
CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind int NOT NULL,
                     label text, digest text, amount numeric(12,2), meta jsonb);
INSERT INTO events
SELECT g, timestamptz '2020-01-01 00:00:00+00' + g * interval '7 seconds', g % 97,
       'label-' || (g % 1000), md5(g::text) || md5((g * 7)::text), (g % 100000) / 100.0,
       jsonb_build_object('n', g % 13, 'tag', 't' || (g % 31), 'ok', g % 2 = 0)
FROM generate_series(1, 2000000) g;
VACUUM ANALYZE events;
SQL
for db in pgb varied; do
  echo "  $db: $(psql -X -At -d $db -c "SELECT pg_size_pretty(pg_database_size('$db'))")"
done

plan() {  # plan DB
  cat > "$out/plan-$1.yaml" <<EOF
version: 1
name: pg-bench-$1
secrets:
  pw: { env: BENCH_PG_PASSWORD }
steps:
  - id: dump
    type: pg.dump
    with: { dsn: "postgresql://bench@127.0.0.1:$port/$1", password: "\${secrets.pw}" }
  - id: restore
    type: pg.restore
    with:
      dsn: "postgresql://bench@127.0.0.1:$port/$1_copy"
      password: "\${secrets.pw}"
      artifact: "\${steps.dump.outputs.artifact}"
      create_database: true
EOF
}

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A ratio
for db in pgb varied; do
  plan $db
  : > "$out/hand-$db.times"; : > "$out/cut-$db.times"; : > "$out/rss-$db"
  for r in $(seq "$rounds"); do
    dropdb --if-exists ${db}_copy 2>/dev/null; rm -f "$out/hand.dump"; sync
    t0=$(now)
    pg_dump -Fc -f "$out/hand.dump" $db
    createdb ${db}_copy
    pg_restore -d ${db}_copy "$out/hand.dump"
    t1=$(now)
    awk "BEGIN {print $t1 - $t0}" >> "$out/hand-$db.times"

    dropdb --if-exists ${db}_copy 2>/dev/null; rm -rf "$out/state"; sync
    t0=$(now)
    BENCH_PG_PASSWORD=$PGPASSWORD /usr/bin/time -v -o "$out/time.txt" \
      "$bin" apply "$out/plan-$db.yaml" --state "$out/state" --auto-approve -q >"$out/cutover.log" 2>&1 \
      || { cat "$out/cutover.log"; exit 1; }
    t1=$(now)
    awk "BEGIN {print $t1 - $t0}" >> "$out/cut-$db.times"
    awk -F: '/Maximum resident/ {print $2+0}' "$out/time.txt" >> "$out/rss-$db"
    echo "  $db round $r: hand $(tail -1 "$out/hand-$db.times")s, cutover $(tail -1 "$out/cut-$db.times")s"
  done
  # The copy cutover made holds what the source holds.
  for t in $(psql -X -At -d $db -c "SELECT tablename FROM pg_tables WHERE schemaname='public'"); do
    a=$(psql -X -At -d $db -c "SELECT count(*) FROM $t"); b=$(psql -X -At -d ${db}_copy -c "SELECT count(*) FROM $t")
    [ "$a" = "$b" ] || { echo "pg_bench: $db.$t has $a rows, the copy $b" >&2; exit 1; }
  done
  h=$(median < "$out/hand-$db.times"); c=$(median < "$out/cut-$db.times")
  rss=$(sort -n "$out/rss-$db" | tail -1)
  ratio[$db]=$(awk "BEGIN {printf \"%.3f\", $c / $h}")
  stored=$(du -sb "$out/state/artifacts" | cut -f1); hand_size=$(stat -c %s "$out/hand.dump")
  printf '%s: hand %.2fs, cutover %.2fs, ratio %.3fx; artifact %s MiB vs pg_dump -Fc %s MiB; peak RSS %d MiB\n' \
    "$db" "$h" "$c" "${ratio[$db]}" "$((stored / 1048576))" "$((hand_size / 1048576))" "$((rss / 1024))"
done
echo "pg_bench: pgbench scale 10 ratio ${ratio[pgb]}x (target <= 1.10), varied 2M rows ratio ${ratio[varied]}x (target <= 0.60)"

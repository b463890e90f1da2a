#!/usr/bin/env bash
# SPEC §9: `transfer` of a 1 GiB file to a loopback sshd against OpenSSH scp, in one run.
#   bench/transfer_bench.sh [ROUNDS] [SIZE_MIB]     (defaults: 3 rounds, 1024 MiB)
# Starts a throwaway sshd on 127.0.0.1 (generated keys, temp config), then alternates
# `scp` and `cutover apply` (a one-step transfer plan) ROUNDS times, and prints each side's
# median throughput, the ratio (target >= 0.9x scp) and cutover's peak RSS (target <= 64 MiB,
# from /usr/bin/time -v). Also measures `verify: false`, to show what the end-to-end sha256
# costs, and a download each way (scp from the host against `transfer` from the host; not a
# SPEC target, reported beside it). Uses the release build ./build/cutover (scripts/setup.sh release).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
size_mib=${2:-1024}
bin=${CUTOVER:-$PWD/build/cutover}
[ -x "$bin" ] || { echo "transfer_bench: $bin missing: run scripts/setup.sh release" >&2; exit 1; }
[ -x /usr/sbin/sshd ] && [ -x /usr/bin/time ] || { echo "transfer_bench: needs openssh-server and time" >&2; exit 1; }

out=$PWD/bench/out/transfer
rm -rf "$out"; mkdir -p "$out"
trap 'kill "$(cat "$out/sshd.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$out/src.bin" "$out"/dest* "$out"/dl-*' EXIT

# --- a loopback sshd ------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C '' -f "$out/host_key"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$out/client_key"
cp "$out/client_key.pub" "$out/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$out/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $out/host_key
PidFile $out/sshd.pid
AuthorizedKeysFile $out/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
Subsystem sftp internal-sftp
EOF
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
/usr/sbin/sshd -f "$out/sshd_config" -E "$out/sshd.log"
for _ in $(seq 50); do [ -s "$out/sshd.pid" ] && break; sleep 0.1; done
echo "[127.0.0.1]:$port $(cat "$out/host_key.pub")" > "$out/known_hosts"
user=$(id -un)
# Both tools start a remote shell (scp's `scp -t`, cutover's sha256sum and rename), so a slow
# ~/.bashrc (pyenv, conda...) would be timed as transfer. As root, log in as a throwaway user
# whose shell is /bin/sh instead; the copies land in a folder it may write.
dest_dir=$out
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null; then
  id cutover-bench >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh cutover-bench
  usermod -p '*' cutover-bench  # no password, but not locked: sshd refuses locked accounts
  user=cutover-bench
  dest_dir=$out/dest; mkdir -p "$dest_dir"; chmod 1777 "$dest_dir"
fi

echo "transfer_bench: writing a ${size_mib} MiB source file"
head -c "$((size_mib * 1048576))" /dev/urandom > "$out/src.bin"
sync
bytes=$(stat -c %s "$out/src.bin")

plan() {  # plan FILE VERIFY [SRC DEST]
  local src=${3:-$out/src.bin} dest=${4:-bench:$dest_dir/dest-cutover.bin}
  cat > "$1" <<EOF
version: 1
name: transfer-bench
hosts:
  bench:
    address: 127.0.0.1
    port: $port
    user: $user
    identity_file: $out/client_key
    host_key: strict
    known_hosts: $out/known_hosts
steps:
  - id: copy
    type: transfer
    with: { src: "$src", dest: "$dest", verify: $2 }
EOF
}
plan "$out/plan.yaml" true
plan "$out/plan-noverify.yaml" false
plan "$out/plan-download.yaml" true "bench:$out/src.bin" "$out/dl-cutover.bin"

now() { date +%s.%N; }
# Each run starts after the last one's deleted copy is gone from the disk: with ext4's
# `discard` (as here) freeing 1 GiB is written out for seconds after rm, into whichever run
# came next, and the write-back of a copy nobody fsynced (scp's) would land in the next run.
settle() { rm -rf "$@"; sync; }
ssh_opts=(-i "$out/client_key" -o BatchMode=yes -o StrictHostKeyChecking=yes
  -o UserKnownHostsFile="$out/known_hosts")
remote=$user@127.0.0.1
# timed_scp SETTLE FROM TO [SYNC_PATH]: seconds for scp FROM TO after removing SETTLE, then
# with SYNC_PATH a remote `sync` of it (durable on arrival, as cutover makes its copies).
timed_scp() {
  settle "$1"
  local t0; t0=$(now)
  scp -q -P "$port" "${ssh_opts[@]}" "$2" "$3"
  [ -z "${4:-}" ] || ssh -q -p "$port" "${ssh_opts[@]}" "$remote" "sync $4"
  echo "$(now) - $t0" | bc
}
scp_run() { timed_scp "$dest_dir/dest-scp.bin" "$out/src.bin" "$remote:$dest_dir/dest-scp.bin"; }
scp_sync_run() {
  timed_scp "$dest_dir/dest-scp.bin" "$out/src.bin" "$remote:$dest_dir/dest-scp.bin" \
    "$dest_dir/dest-scp.bin"
}
scp_download_run() { timed_scp "$out/dl-scp.bin" "$remote:$out/src.bin" "$out/dl-scp.bin"; }
cutover_run() {  # cutover_run PLAN -> "seconds rss_kib"
  settle "$dest_dir"/dest-cutover.bin* "$out"/dl-cutover.bin* "$out/state"
  /usr/bin/time -v -o "$out/time.txt" "$bin" apply "$1" --state "$out/state" --auto-approve \
    > "$out/apply.log" 2>&1 || { echo "transfer_bench: cutover apply failed:" >&2; cat "$out/apply.log" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/time.txt" |
    awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time.txt")
  # The step's log splits the copy: "the bytes in S s (R MB/s), then fsync ... in T s".
  local moving tail
  read -r moving tail < <(sed -n 's/.*the bytes in \([0-9.]*\) s (.*in \([0-9.]*\) s$/\1 \2/p' \
    "$out"/state/runs/*/log.txt | tail -1)
  echo "$wall $rss ${moving:-0} ${tail:-0}"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# One untimed round first: on this VM the first copies after a pause run up to twice as slow
# (CPU-bound cutover more than scp), which the medians of a few rounds do not absorb.
scp_run > /dev/null; cutover_run "$out/plan.yaml" > /dev/null
scp_times=(); sync_times=(); cut_times=(); nov_times=(); move_times=(); tail_times=(); peak=0
dl_scp_times=(); dl_cut_times=()
for r in $(seq "$rounds"); do
  s=$(scp_run); scp_times+=("$s")
  y=$(scp_sync_run); sync_times+=("$y")
  read -r c rss m t < <(cutover_run "$out/plan.yaml"); cut_times+=("$c"); [ "$rss" -gt "$peak" ] && peak=$rss
  move_times+=("$m"); tail_times+=("$t")
  read -r n rss _ _ < <(cutover_run "$out/plan-noverify.yaml"); nov_times+=("$n"); [ "$rss" -gt "$peak" ] && peak=$rss
  ds=$(scp_download_run); dl_scp_times+=("$ds")
  read -r dc rss _ _ < <(cutover_run "$out/plan-download.yaml"); dl_cut_times+=("$dc"); [ "$rss" -gt "$peak" ] && peak=$rss
  printf 'round %d: scp %.2fs, scp+sync %.2fs, cutover %.2fs (bytes %.2fs, fsync+sha256 %.2fs), cutover verify:false %.2fs; download: scp %.2fs, cutover %.2fs\n' \
    "$r" "$s" "$y" "$c" "$m" "$t" "$n" "$ds" "$dc"
done
cmp -s "$out/src.bin" "$dest_dir/dest-scp.bin" || { echo "transfer_bench: scp copy differs" >&2; exit 1; }
cmp -s "$out/src.bin" "$out/dl-cutover.bin" || { echo "transfer_bench: cutover's download differs" >&2; exit 1; }

scp_s=$(printf '%s\n' "${scp_times[@]}" | median)
sync_s=$(printf '%s\n' "${sync_times[@]}" | median)
cut_s=$(printf '%s\n' "${cut_times[@]}" | median)
nov_s=$(printf '%s\n' "${nov_times[@]}" | median)
move_s=$(printf '%s\n' "${move_times[@]}" | median)
tail_s=$(printf '%s\n' "${tail_times[@]}" | median)
dl_scp_s=$(printf '%s\n' "${dl_scp_times[@]}" | median)
dl_cut_s=$(printf '%s\n' "${dl_cut_times[@]}" | median)
mbps() { echo "scale=1; $bytes / 1000000 / $1" | bc; }
echo "size:                 $bytes bytes, $rounds rounds (medians)"
echo "scp:                  $(mbps "$scp_s") MB/s"
echo "scp + remote sync:    $(mbps "$sync_s") MB/s  (durable on arrival, like cutover)"
echo "cutover transfer:     $(mbps "$cut_s") MB/s  (whole apply: connect, fsync, rename, sha256 both ends)"
echo "cutover verify:false: $(mbps "$nov_s") MB/s"
echo "cutover, bytes only:  $(mbps "$move_s") MB/s  (from the step's log; then fsync + sha256 on the host: ${tail_s} s)"
echo "ratio vs scp:         $(echo "scale=2; $scp_s / $cut_s" | bc)x   (target >= 0.9x)"
echo "ratio verify:false:   $(echo "scale=2; $scp_s / $nov_s" | bc)x"
echo "ratio bytes only:     $(echo "scale=2; $scp_s / $move_s" | bc)x   (cutover's transfer of the bytes vs the whole scp)"
echo "ratio vs scp+sync:    $(echo "scale=2; $sync_s / $cut_s" | bc)x   (same durability)"
echo "cutover peak RSS:     $((peak / 1024)) MiB  (target <= 64 MiB)"
echo "download (not a target): scp $(mbps "$dl_scp_s") MB/s, cutover $(mbps "$dl_cut_s") MB/s, ratio $(echo "scale=2; $dl_scp_s / $dl_cut_s" | bc)x"

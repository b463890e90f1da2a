#!/usr/bin/env bash
# SPEC §9: the same local config/file change run by ansible-playbook and by cutover, in one run.
#   bench/ansible_compare.sh [FILES] [ROUNDS]     (default: 50 files, 3 alternating rounds)
# For each of FILES config files: replace a host name in an existing file, and write a new
# file with a given mode (2 x FILES tasks/steps). Each round resets the folder, then times
#   ansible:  ansible-playbook -c local (replace + copy modules, gather_facts off)
#   cutover:  cutover apply (file.replace + file.write; journal, checkpoints and fsyncs included)
# and checks both left the same bytes and modes. Then the dry runs, `ansible-playbook --check
# --diff` and `cutover plan`, are compared: the same files with the same removed and added
# lines. Prints the median times and the ratio (target: cutover >= 20x faster).
# Uses the release build ./build/cutover (scripts/setup.sh release), or $CUTOVER.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-50}
rounds=${2:-3}
bin=${CUTOVER:-$PWD/build/cutover}
[ -x "$bin" ] || { echo "ansible_compare: $bin missing: run scripts/setup.sh release" >&2; exit 1; }
command -v ansible-playbook >/dev/null || { echo "ansible_compare: needs ansible-playbook (apt-get install ansible-core)" >&2; exit 1; }

out=$PWD/bench/out/ansible
rm -rf "$out"; mkdir -p "$out"
work=$out/work
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False \
       ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_HOME=$out/ansible-home

reset() {
  rm -rf "$work"; mkdir -p "$work/conf"
  for i in $(seq "$files"); do
    printf '# app %d\nlisten = old.example.com:%d\nworkers = 4\nupstream = old.example.com\n' "$i" "$((8000 + i))" \
      > "$work/conf/app-$i.conf"
  done
}

{ echo "version: 1"; echo "name: ansible-compare"; echo "steps:"
  for i in $(seq "$files"); do
    cat <<EOF
  - id: host-$i
    type: file.replace
    with: { paths: "$work/conf/app-$i.conf", find: old.example.com, replace: new.example.com }
  - id: extra-$i
    type: file.write
    with: { path: "$work/conf/extra-$i.conf", content: "pool = $i\ntimeout = 30s\n", mode: "0640" }
EOF
  done; } > "$out/plan.yaml"

{ echo "- hosts: localhost"; echo "  gather_facts: false"; echo "  tasks:"
  for i in $(seq "$files"); do
    cat <<EOF
    - name: host-$i
      ansible.builtin.replace: { path: "$work/conf/app-$i.conf", regexp: 'old\\.example\\.com', replace: new.example.com }
    - name: extra-$i
      ansible.builtin.copy: { dest: "$work/conf/extra-$i.conf", content: "pool = $i\ntimeout = 30s\n", mode: "0640" }
EOF
  done; } > "$out/playbook.yml"

playbook() { ansible-playbook -i localhost, -c local "$@" "$out/playbook.yml"; }
snapshot() { (cd "$work" && find . -type f -printf '%p %m\n' | sort && find . -type f | sort | xargs sha256sum); }
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "ansible_compare: $files files, $((2 * files)) tasks/steps, $(ansible-playbook --version | head -1)"
ans_times=(); cut_times=()
for r in $(seq "$rounds"); do
  reset; sync
  t0=$(now); playbook > "$out/ansible.log" 2>&1 || { cat "$out/ansible.log"; exit 1; }; t1=$(now)
  ans_times+=("$(echo "$t1 - $t0" | bc)"); snapshot > "$out/after-ansible"
  reset; rm -rf "$out/state"; sync
  t0=$(now); "$bin" apply "$out/plan.yaml" --state "$out/state" --auto-approve -q > "$out/cutover.log" 2>&1 \
    || { cat "$out/cutover.log"; exit 1; }; t1=$(now)
  cut_times+=("$(echo "$t1 - $t0" | bc)"); snapshot > "$out/after-cutover"
  cmp -s "$out/after-ansible" "$out/after-cutover" \
    || { echo "ansible_compare: the two tools left different files:" >&2; diff "$out/after-ansible" "$out/after-cutover" >&2; exit 1; }
  echo "  round $r: ansible-playbook ${ans_times[-1]}s, cutover ${cut_times[-1]}s"
done

# Dry runs: each task/step (same names in both) with its removed and added lines, from each
# tool's diff output (ansible names a temp file, not the destination, in a copy's diff).
reset
playbook --check --diff > "$out/ansible-check.txt" 2>&1 || { cat "$out/ansible-check.txt"; exit 1; }
"$bin" plan "$out/plan.yaml" --no-checks --no-color > "$out/cutover-plan.txt" 2>&1 || { cat "$out/cutover-plan.txt"; exit 1; }
changes() {  # diff text -> "task-or-step-id<TAB>-line" / "...<TAB>+line", sorted
  awk '
    /^TASK \[/ { k = $0; sub(/^TASK \[/, "", k); sub(/\].*/, "", k); next }   # ansible task
    /^  [~+!-] [^ ]+ \(/ { k = $2; next }                                    # cutover step
    { sub(/^      /, "") }
    /^(\+\+\+|---) / { next }
    /^[-+]/ && k != "" { print k "\t" $0 }' "$1" | sort
}
changes "$out/ansible-check.txt" > "$out/ansible-changes.txt"
changes "$out/cutover-plan.txt" > "$out/cutover-changes.txt"
[ -s "$out/cutover-changes.txt" ] || { echo "ansible_compare: no diff lines in cutover's plan output" >&2; exit 1; }
if cmp -s "$out/ansible-changes.txt" "$out/cutover-changes.txt"; then
  echo "dry runs: the same diffs ($(wc -l < "$out/cutover-changes.txt") changed lines in $((2 * files)) files)"
else
  echo "dry runs differ:" >&2; diff "$out/ansible-changes.txt" "$out/cutover-changes.txt" | head -20 >&2; exit 1
fi

a=$(printf '%s\n' "${ans_times[@]}" | median); c=$(printf '%s\n' "${cut_times[@]}" | median)
printf 'ansible-playbook: %.2fs   cutover: %.3fs   cutover is %.1fx faster (target >= 20x)\n' \
  "$a" "$c" "$(echo "$a / $c" | bc -l)"

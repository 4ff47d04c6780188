#!/usr/bin/env bash
# The simulated demo (no OpenStack needed): builds freezer-dr, starts it as a daemon on a 4-node simulated cloud (the fake
# drivers: monitor, fencer, evacuator, file notifier), fails one node, and shows the recovery
# step by step with timings. Everything lives in a work folder (default /tmp/freezer-dr-demo).
# As root on Debian 12 it first installs the build dependencies.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${FDR_DEMO_DIR:-/tmp/freezer-dr-demo}
victim=${FDR_DEMO_VICTIM:-compute-2}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [[ $(id -u) == 0 ]]; then "$root/scripts/install-deps.sh" build; fi
say "building freezer-dr"
cmake -S "$root" -B "$root/build" -DFDR_BUILD_BENCH=OFF >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target freezer-dr >/dev/null
bin="$root/build/src/app/freezer-dr"

rm -rf "$work"
mkdir -p "$work"
cat >"$work/servers.yml" <<YAML
servers:
  - {id: 1, hostname: compute-1, ip-addr: 127.0.0.1, fencer-ip: 127.0.0.1, fencer-user: admin, fencer-password: demo-secret}
  - {id: 2, hostname: compute-2, ip-addr: 127.0.0.1, fencer-ip: 127.0.0.1, fencer-user: admin, fencer-password: demo-secret}
  - {id: 3, hostname: compute-3, ip-addr: 127.0.0.1, fencer-ip: 127.0.0.1, fencer-user: admin, fencer-password: demo-secret}
  - {id: 4, hostname: compute-4, ip-addr: 127.0.0.1, fencer-ip: 127.0.0.1, fencer-user: admin, fencer-password: demo-secret}
YAML
sed "s|@WORK@|$work|g" "$root/etc/freezer-dr-demo.conf.in" >"$work/freezer-dr.conf"
chmod 600 "$work/freezer-dr.conf" "$work/servers.yml"
: >"$work/down"

say "config: $work/freezer-dr.conf"
"$bin" --config-file "$work/freezer-dr.conf" validate

say "starting the daemon: freezer-dr run (log: $work/freezer-dr.log)"
"$bin" --config-file "$work/freezer-dr.conf" run >"$work/freezer-dr.log" 2>&1 &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true' EXIT
sleep 2
"$bin" --config-file "$work/freezer-dr.conf" check --dry-run 2>/dev/null | tail -n 1 || true

say "failing $victim: its monitors now report it down"
start=$(date +%s.%N)
echo "$victim" >"$work/down"
# Show each step as the daemon journals it, until the incident is done.
seen=""
for _ in $(seq 1 120); do
  phase=$("$bin" --config-file "$work/freezer-dr.conf" status --json 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["recent"]; print(r[0]["phase"] if r else "")')
  if [[ -n $phase && $phase != "$seen" ]]; then
    printf '  +%5.2f s  %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$phase"
    seen=$phase
  fi
  [[ $phase == done || $phase == fence-failed ]] && break
  sleep 0.2
done

say "freezer-dr status"
"$bin" --config-file "$work/freezer-dr.conf" status

say "what the fake cloud saw"
python3 - "$work/cloud.json" <<'PY'
import json, sys
cloud = json.load(open(sys.argv[1]))
for e in cloud.get("evacuations", []):
    print(f"  evacuated {e['instance']}: {e['from']} -> {e['to']}")
for host, s in sorted(cloud["services"].items()):
    print(f"  {host}: forced_down={s.get('forced_down')} disabled={s.get('disabled')}")
PY
say "notifications ($work/notifications.jsonl)"
python3 -c 'import json,sys
for line in open(sys.argv[1]):
    n = json.loads(line); print("  to", n["audience"], n["project_id"] or "", "-", n["subject"])' \
  "$work/notifications.jsonl"

say "stopping the daemon (SIGTERM)"
kill -TERM "$daemon"
wait "$daemon" || true
trap - EXIT
tail -n 3 "$work/freezer-dr.log"
cat <<TXT

Look around:
  $bin --config-file $work/freezer-dr.conf status         # incidents, per-instance outcome, timings
  sqlite3 $work/journal.db 'select seq, incident_id, kind from events'   # the journal
  cat $work/notifications.jsonl                           # what users and admins were told
Clean up: rm -rf $work
TXT

#!/usr/bin/env bash
# The main job.
#
#   scripts/demo.sh                      on the local OpenStack lab: installs what is missing
#                                        (Debian 12, as root), builds freezer-dr, brings the lab
#                                        up (lab/up.sh: Keystone, Nova with 3 fake compute hosts,
#                                        an ipmi_sim BMC per host, a capturing SMTP server), starts
#                                        freezer-dr as a daemon, crashes a host with servers on it
#                                        and shows the recovery step by step with timings
#   scripts/demo.sh --config FILE        runs the daemon against your cloud, as configured in FILE
#                                        (foreground; SIGTERM stops it)
#
# Environment: FDR_DEMO_VICTIM (default fake-host-2), FDR_DEMO_SERVERS (default 6).
# scripts/demo-simulated.sh is the same story on fake drivers, without OpenStack.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [[ $(id -u) == 0 ]]; then "$root/scripts/install-deps.sh" build fencing notifiers lab; fi
say "building freezer-dr"
cmake -S "$root" -B "$root/build" -DFDR_BUILD_BENCH=OFF >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target freezer-dr >/dev/null
bin="$root/build/src/app/freezer-dr"

if [[ ${1:-} == --config ]]; then
  [[ -n ${2:-} ]] || { echo "usage: scripts/demo.sh [--config FILE]" >&2; exit 2; }
  "$bin" --config-file "$2" validate
  say "freezer-dr run (your cloud, $2)"
  exec "$bin" --config-file "$2" run
fi
(($# == 0)) || { sed -n '3,14p' "$0" >&2; exit 2; }

state=${FDR_LAB_STATE:-/var/tmp/freezer-dr-lab}
say "bringing the OpenStack lab up (log: $state/log/up.log; a first start takes a few minutes)"
mkdir -p "$state/log"
if ! "$root/lab/up.sh" >"$state/log/up.log" 2>&1; then
  tail -n 30 "$state/log/up.log" >&2
  exit 1
fi
grep -E 'lab (already )?up' "$state/log/up.log" | tail -n 1
"$root/lab/status.sh" -q || { "$root/lab/status.sh"; exit 1; }

victim=${FDR_DEMO_VICTIM:-fake-host-2}
say "crashing $victim with ${FDR_DEMO_SERVERS:-6} servers on it; freezer-dr recovers them"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
FDR_BINARY=$bin "$root/lab/recover.sh" --host "$victim" --servers "${FDR_DEMO_SERVERS:-6}" | tee "$out" || rc=$?
run=$(sed -n 's/^RUN_DIR=//p' "$out")

say "where the servers are now"
"$root/lab/servers.sh" list fdr-recover

cat <<TXT

Look around:
  $bin --config-file $run/freezer-dr.conf status          # the incident: steps, per-server host and downtime
  $bin --config-file $run/freezer-dr.conf status --json   # the same, for scripts
  less $run/daemon.log                                    # what the daemon did, step by step
  ls $state/mail/                                         # the captured mail: NNNNNN.eml + .json each
  $root/lab/host.sh status $victim                        # the crashed host: BMC off, service forced down
  $root/lab/bmc/bmcsim.sh status                          # every host's BMC
Bring $victim back:  $root/lab/host.sh restore $victim
  (or as an operator would: with a daemon running on that config,
   $bin --config-file $run/freezer-dr.conf unfence $victim)
Tear the lab down:   $root/lab/down.sh           (add --purge to delete its state)
TXT
exit $rc

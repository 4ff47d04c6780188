#!/usr/bin/env bash
# One fake compute host as freezer-dr sees it: its nova-compute, its probe ports (management
# address 127.0.1.N and storage address 127.0.2.N, port $FDR_LAB_PORT_PROBE) and its IPMI BMC.
#   lab/host.sh kill    fake-host-N     crash the host: SIGKILL its nova-compute and probe ports
#                                       and drop every packet to its addresses (it answers
#                                       nothing, as a dead machine; the BMC keeps answering and
#                                       reads power on, as after a kernel panic)
#   lab/host.sh stop-service fake-host-N  stop only its probe ports' listener (the host lives: its
#                                       ports refuse, its nova-compute keeps reporting)
#   lab/host.sh cut-mgmt fake-host-N    drop the packets to its management address only (a live
#                                       host whose management network is cut: its storage address
#                                       and nova-compute go on); restore (or start) removes it
#   lab/host.sh start   fake-host-N     start its probe ports and nova-compute; wait for a heartbeat
#   lab/host.sh restore fake-host-N     back to service after a fence: BMC power on (its hook
#                                       starts the host), wait for the heartbeat, then clear
#                                       forced_down and enable the compute service
#   lab/host.sh status  fake-host-N     processes, BMC power and Nova's view; exit 0 iff all up
#   lab/host.sh power-hook fake-host-N  run by the host's BMC on every power change (BMC_POWER =
#                                       on|off): off kills the host, on starts it (detached)
# N alone is accepted for fake-host-N.
set -euo pipefail

# Power-off hook, fast path: ipmi_sim waits for its hook and answers nothing meanwhile, and a
# hook slower than the fencer's retransmission timeout (500 ms) gets the power-off resent. So
# this path uses bash builtins only: SIGKILL each process group recorded in the pid files
# ("PID PGID STARTTIME") whose process still has that start time, and return.
if [[ ${1:-} == power-hook && ${BMC_POWER:-} == off && ${2:-} =~ ^fake-host-[0-9]+$ ]]; then
  run=${FDR_LAB_STATE:-/var/tmp/freezer-dr-lab}/run
  for f in "$run/probe-$2.pid" "$run/nova-compute-$2.pid"; do
    [[ -s $f ]] || continue
    read -r pid pgid start <"$f" || continue
    [[ -r /proc/$pid/stat ]] || continue
    read -r stat <"/proc/$pid/stat" || continue
    read -r -a fields <<<"${stat##*) }"
    [[ ${fields[19]} == "$start" ]] && kill -KILL -- "-$pgid" 2>/dev/null
  done
  exit 0
fi

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,20p' "$0" >&2; exit 2; }
(($# == 2)) || usage
cmd=$1 h=$2
[[ $h =~ ^[0-9]+$ ]] && h=$(host_name "$h")
[[ -f $ETC/nova/compute-$h.conf ]] || die "unknown host $h (hosts come from FDR_LAB_HOSTS at lab/up.sh)"
probe=$(probe_proc "$h")

start_probe() {
  unblackhole_host "$h"
  pid_alive "$probe" && return 0
  start_bg "$probe" -- /usr/bin/python3 "$LAB_DIR/probe-listener.py" "$FDR_LAB_PORT_PROBE" \
    "$(mgmt_addr "$h")" "$(storage_addr "$h")"
  probe_up() { (exec 3<>"/dev/tcp/$(mgmt_addr "$h")/$FDR_LAB_PORT_PROBE") 2>/dev/null &&
    (exec 3<>"/dev/tcp/$(storage_addr "$h")/$FDR_LAB_PORT_PROBE") 2>/dev/null; }
  wait_until "$h probe ports" "$probe" "$FDR_LAB_TIMEOUT" probe_up
}

kill_host() {
  stop_procs --signal KILL --kill-after 5 "$probe" "$(compute_proc "$h")"
}

service_json() {
  api_try GET "$NOVA_URL/os-services?binary=nova-compute&host=$h" "" 2.53 | jq -c '.services[0] // empty'
}

restore() {
  local bmc power
  bmc=$(bmc_name "$h")
  power=$("$LAB_DIR/bmc/bmcsim.sh" query "$bmc" 2>/dev/null || true)
  if [[ $power == *off* ]]; then
    log "$h: BMC reads off: power on"
    "$LAB_DIR/bmc/bmcsim.sh" power "$bmc" 1 >/dev/null
  fi
  # The hook starts the host detached; start it here too (idempotent) and wait for the heartbeat.
  start_probe
  "$LAB_DIR/compute.sh" start "$h"
  ks_admin
  local svc id
  svc=$(service_json) || die "$h: no nova-compute service record"
  id=$(jq -r .id <<<"$svc")
  if [[ $(jq -r .forced_down <<<"$svc") == true ]]; then
    api PUT "$NOVA_URL/os-services/$id" '{"forced_down": false}' 2.53 >/dev/null
  fi
  if [[ $(jq -r .status <<<"$svc") != enabled ]]; then
    api PUT "$NOVA_URL/os-services/$id" '{"status": "enabled"}' 2.53 >/dev/null
  fi
  up() { [[ $(service_json | jq -r '.state + "/" + .status') == up/enabled ]]; }
  wait_until "$h service up and enabled" "$(compute_proc "$h")" "$FDR_LAB_TIMEOUT" up
  log "$h restored"
}

status() {
  local rc=0 p=down
  pid_alive "$probe" && p=up
  [[ $p == up ]] || rc=1
  printf '%s probe-ports=%s (%s, %s :%s) bmc: %s\n' "$h" "$p" "$(mgmt_addr "$h")" \
    "$(storage_addr "$h")" "$FDR_LAB_PORT_PROBE" \
    "$("$LAB_DIR/bmc/bmcsim.sh" query "$(bmc_name "$h")" 2>&1 || true)"
  "$LAB_DIR/compute.sh" status "$h" || rc=1
  return $rc
}

# start and restore hold the host's lock: the BMC hook's detached start and a restore never start
# the host twice
lock() { exec 9>"$RUN/host-$h.lock"; flock 9; }

case $cmd in
  kill) blackhole_host "$h"; kill_host; log "$h killed (its addresses answer nothing)" ;;
  cut-mgmt) blackhole_addr "$(mgmt_addr "$h")"; log "$h: management address $(mgmt_addr "$h") answers nothing" ;;
  stop-service) stop_procs --signal KILL --kill-after 5 "$probe"; log "$h: probe ports closed" ;;
  start) lock; start_probe; "$LAB_DIR/compute.sh" start "$h" ;;
  restore) lock; restore ;;
  status) status ;;
  power-hook)
    case ${BMC_POWER:-} in
      off) kill_host ;;  # (fake-host-N names take the fast path at the top)
      on) setsid -f "$0" start "$h" </dev/null >>"$LOG/host-$h.log" 2>&1 ;;
      *) die "power-hook: BMC_POWER must be on or off, got '${BMC_POWER:-}'" ;;
    esac
    ;;
  *) usage ;;
esac

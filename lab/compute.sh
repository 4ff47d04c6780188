#!/usr/bin/env bash
# Control one fake host's nova-compute (for failure tests and the demo).
#   lab/compute.sh stop   fake-host-N [--graceful]  SIGKILL its process group (a host crash);
#                                                   --graceful: SIGTERM, KILL after 30 s
#   lab/compute.sh start  fake-host-N               start it; wait until its service heartbeats
#                                                   (state up, unless the service is forced down)
#   lab/compute.sh restart fake-host-N
#   lab/compute.sh status fake-host-N               process + os-services view; exit 0 iff up
#   lab/compute.sh list                             status of every fake host
# N alone is accepted for fake-host-N. Processes are found by their pid file, never by name.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,10p' "$0" >&2; exit 2; }
(($# >= 1)) || usage
cmd=$1; shift

service_json() { # $1 host -> the nova-compute service record (2.53) or empty
  api_try GET "$NOVA_URL/os-services?binary=nova-compute&host=$1" "" 2.53 | jq -c '.services[0] // empty'
}
show() { # $1 host
  local h=$1 proc p=- svc
  proc=$(compute_proc "$h")
  pid_alive "$proc" && p=$(pid_of "$proc")
  svc=$(service_json "$h" || true)
  printf '%-14s process=%-4s pid=%-7s service: state=%s status=%s forced_down=%s updated_at=%s\n' "$h" \
    "$([[ $p != - ]] && echo up || echo down)" "$p" \
    "$(jq -r '.state // "?"' <<<"${svc:-{\}}")" "$(jq -r '.status // "?"' <<<"${svc:-{\}}")" \
    "$(jq -r 'if has("forced_down") then .forced_down else "?" end' <<<"${svc:-{\}}")" \
    "$(jq -r '.updated_at // "?"' <<<"${svc:-{\}}")"
  [[ $p != - && $(jq -r '.state // ""' <<<"${svc:-{\}}") == up ]]
}

if [[ $cmd == list ]]; then
  ks_admin
  rc=0
  for conf in "$ETC"/nova/compute-fake-host-*.conf; do
    [[ -e $conf ]] || continue
    h=$(basename "$conf" .conf); h=${h#compute-}
    show "$h" || rc=1
  done
  exit $rc
fi

(($# >= 1)) || usage
h=$1; shift
[[ $h =~ ^[0-9]+$ ]] && h=$(host_name "$h")
conf=$ETC/nova/compute-$h.conf
[[ -f $conf ]] || die "unknown host $h (no $conf; hosts come from FDR_LAB_HOSTS at lab/up.sh)"
proc=$(compute_proc "$h")

do_stop() {
  if ! pid_alive "$proc"; then log "$h: nova-compute not running"; return 0; fi
  if [[ ${1:-} == --graceful ]]; then
    stop_procs --kill-after 30 "$proc"
  else
    stop_procs --signal KILL --kill-after 5 "$proc"
  fi
}

do_start() {
  if pid_alive "$proc"; then log "$h: nova-compute already running (pid $(pid_of "$proc"))"; fi
  ks_admin
  local before t0 svc
  before=$(service_json "$h" | jq -r '.updated_at // ""')
  t0=$(date -u +%s)
  start_bg "$proc" -- /usr/bin/nova-compute --config-file "$ETC/nova/nova.conf" --config-file "$conf"
  heartbeat() { # the service record was updated by the new process
    svc=$(service_json "$h") || return 1
    local u
    u=$(jq -r '.updated_at // ""' <<<"$svc")
    [[ -n $u && $u != "$before" ]] || return 1
    (($(date -u -d "${u%.*}" +%s) >= t0)) || return 1
    [[ $(jq -r .state <<<"$svc") == up || $(jq -r .forced_down <<<"$svc") == true ]]
  }
  wait_until "$h nova-compute heartbeat" "$proc" "$FDR_LAB_TIMEOUT" heartbeat
  if [[ $(jq -r .forced_down <<<"$svc") == true ]]; then
    log "$h: nova-compute running, but its service is forced down (state stays down until" \
      "PUT /os-services/$(jq -r .id <<<"$svc") {\"forced_down\": false})"
  else
    log "$h: nova-compute up ($(elapsed "$T0")s)"
  fi
}

T0=$(now)
case $cmd in
  stop) do_stop "$@" ;;
  start) do_start ;;
  restart) do_stop "$@"; do_start ;;
  status) ks_admin; show "$h" ;;
  *) usage ;;
esac

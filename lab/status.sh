#!/usr/bin/env bash
# Show the lab: per process (group) up/down, pid, RSS/PSS, port; then Nova's os-services view.
# Exit 0 iff every lab process runs, every port answers and every Nova service reports up.
#   lab/status.sh [-q]     (-q: only the exit code and a one-line verdict)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

quiet=0
[[ ${1:-} == -q ]] && quiet=1
# shellcheck disable=SC2059  # out FORMAT ARGS...
out() { ((quiet)) || printf "$@"; }

declare -A PORT=(
  [mariadb]=$FDR_LAB_PORT_MYSQL [epmd]=$FDR_LAB_PORT_EPMD [rabbitmq]=$FDR_LAB_PORT_AMQP
  [keystone]=$FDR_LAB_PORT_KEYSTONE [glance]=$FDR_LAB_PORT_GLANCE [placement]=$FDR_LAB_PORT_PLACEMENT
  [neutron]=$FDR_LAB_PORT_NEUTRON [nova-api]=$FDR_LAB_PORT_NOVA
)
procs=(mariadb epmd rabbitmq keystone glance placement neutron nova-api nova-conductor nova-scheduler)
hosts=()
for ((i = 1; i <= FDR_LAB_HOSTS; i++)); do hosts+=("$(host_name "$i")"); done
# computes started with a larger FDR_LAB_HOSTS are shown too
for f in "$RUN"/nova-compute-*.pid; do
  [[ -e $f ]] || continue
  h=$(basename "$f" .pid); h=${h#nova-compute-}
  [[ " ${hosts[*]} " == *" $h "* ]] || hosts+=("$h")
done
for h in "${hosts[@]}"; do procs+=("$(compute_proc "$h")" "$(probe_proc "$h")"); done
procs+=(smtp-capture)

pss_kib() { # summed PSS of a process group
  local p s=0 v
  for p in $(ps -eo pid=,pgid= | awk -v g="$1" '$2==g {print $1}'); do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}

ok=1 total_rss=0 total_pss=0 nprocs=0
out '%-26s %-5s %8s %5s %9s %9s %6s\n' SERVICE STATE PID NPROC RSS_MiB PSS_MiB PORT
for p in "${procs[@]}"; do
  state=down pid=- rss=0 pss=0 n=0
  if pid_alive "$p"; then
    pid=$(pid_of "$p")
    state=up
    rss=$(rss_kib "$pid")
    pss=$(pss_kib "$pid")
    n=$(ps -eo pgid= | awk -v g="$pid" '$1==g' | wc -l)
    if [[ -n ${PORT[$p]:-} ]] && ! port_open "${PORT[$p]}"; then state=noport; fi
  fi
  [[ $state == up ]] || ok=0
  total_rss=$((total_rss + rss)); total_pss=$((total_pss + pss)); nprocs=$((nprocs + n))
  out '%-26s %-5s %8s %5s %9d %9d %6s\n' "$p" "$state" "$pid" "$n" $((rss / 1024)) $((pss / 1024)) "${PORT[$p]:--}"
done
out '%-26s %-5s %8s %5s %9d %9d\n' TOTAL "" "" "$nprocs" $((total_rss / 1024)) $((total_pss / 1024))

if pid_alive keystone && pid_alive nova-api && ks_auth_try admin "$FDR_LAB_PASSWORD" admin 2>/dev/null; then
  if svc=$(api_try GET "$NOVA_URL/os-services" "" 2.53); then
    out '\nos-services (microversion 2.53):\n'
    ((quiet)) || jq -r '["BINARY","HOST","STATUS","STATE","FORCED_DOWN","UPDATED_AT","ID"],
      (.services[] | [.binary, .host, .status, .state, (.forced_down|tostring), (.updated_at // "-"), .id])
      | @tsv' <<<"$svc" | column -t
    for b in nova-conductor nova-scheduler; do
      jq -e --arg b "$b" 'any(.services[]; .binary==$b and .state=="up")' <<<"$svc" >/dev/null || ok=0
    done
    for ((i = 1; i <= FDR_LAB_HOSTS; i++)); do
      jq -e --arg h "$(host_name "$i")" 'any(.services[]; .binary=="nova-compute" and .host==$h and .state=="up")' \
        <<<"$svc" >/dev/null || ok=0
    done
  else
    out '\nos-services: %s\n' "$svc"; ok=0
  fi
else
  out '\nos-services: Keystone or nova-api not reachable\n'; ok=0
fi
out '\nBMCs (lab/bmc/bmcsim.sh status):\n'
((quiet)) || "$LAB_DIR/bmc/bmcsim.sh" status
if ((ok)); then echo "lab: all up (state $S)"; exit 0; fi
echo "lab: NOT all up (state $S; logs in $LOG)"
exit 1

#!/usr/bin/env bash
# End-to-end check of a running lab with curl + jq: authenticate, list services and hypervisors,
# boot 3 servers ("networks": "none"), kill the nova-compute of the host with the most servers,
# force its service down (2.53), evacuate its servers (2.68), wait until they are ACTIVE
# elsewhere, bring the host back (start, unforce, enable) and delete the servers. Prints timings
# and a final "RESULT ..." line. Re-runnable; leftovers of an interrupted run are cleaned first.
#   FDR_LAB_SMOKE_SERVERS (3)  number of servers to boot
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

NSERV=${FDR_LAB_SMOKE_SERVERS:-3}
NAME=fdr-smoke
[[ -f $S/lab.env ]] || die "no $S/lab.env: run lab/up.sh first"
# shellcheck disable=SC1091
source "$S/lab.env"
T_ALL=$(now)
declare -A R=()
step() { printf '[smoke %s] %s\n' "$(date +%T)" "$*"; }

# ---- 1. auth + catalog
t=$(now)
ks_admin
R[auth_s]=$(elapsed "$t")
COMPUTE=$(jq -r '.token.catalog[] | select(.type=="compute") | .endpoints[] | select(.interface=="public") | .url' <<<"$CATALOG")
IMAGE=$(jq -r '.token.catalog[] | select(.type=="image") | .endpoints[] | select(.interface=="public") | .url' <<<"$CATALOG")
[[ -n $COMPUTE && -n $IMAGE ]] || die "catalog has no compute/image endpoint"
step "token in ${R[auth_s]}s; compute $COMPUTE, image $IMAGE"

servers_json() { api GET "$COMPUTE/servers/detail?name=^$NAME-&all_tenants=1" "" 2.74; }
wait_servers_gone() {
  gone() { [[ $(servers_json | jq '.servers | length') == 0 ]]; }
  wait_until "deleting $NAME servers" "" 120 gone
}
# ---- leftovers from an interrupted run
left=$(servers_json | jq -r '.servers[].id')
if [[ -n $left ]]; then
  step "deleting $(wc -w <<<"$left") leftover $NAME server(s)"
  for id in $left; do api_try DELETE "$COMPUTE/servers/$id" >/dev/null || true; done
  wait_servers_gone
fi

# ---- 2. services + hypervisors
svc=$(api GET "$COMPUTE/os-services" "" 2.53)
hv=$(api GET "$COMPUTE/os-hypervisors/detail" "" 2.53)
step "os-services: $(jq -r '[.services[] | "\(.binary)@\(.host)=\(.state)"] | join(" ")' <<<"$svc")"
step "hypervisors: $(jq -r '[.hypervisors[] | "\(.hypervisor_hostname)(\(.state),\(.vcpus)vcpu)"] | join(" ")' <<<"$hv")"
nup=$(jq '[.services[] | select(.binary=="nova-compute" and .state=="up" and .status=="enabled")] | length' <<<"$svc")
((nup >= 2)) || die "need at least 2 enabled nova-compute services up, have $nup (lab/status.sh)"
for id in $(jq -r '.services[] | select(.binary=="nova-compute" and .forced_down) | .id' <<<"$svc"); do
  die "service $id is forced down: run lab/up.sh to repair the lab first"
done

# ---- 3. boot
t=$(now)
resv=$(api POST "$COMPUTE/servers" "$(jq -nc --arg n "$NAME" --arg i "$FDR_LAB_IMAGE_ID" --arg f "$FDR_LAB_FLAVOR_ID" \
  --argjson c "$NSERV" '{server:{name:$n,imageRef:$i,flavorRef:$f,networks:"none",min_count:$c,max_count:$c,
  return_reservation_id:true}}')" 2.74 | jq -r .reservation_id)
all_active() {
  SERVERS=$(servers_json)
  local err
  err=$(jq -r '.servers[] | select(.status=="ERROR") | "\(.name): \(.fault.message // "?")"' <<<"$SERVERS")
  [[ -z $err ]] || die "server(s) in ERROR: $err (see $LOG/nova-conductor.log, $LOG/nova-compute-*.log)"
  jq -e --argjson c "$NSERV" '[.servers[] | select(.status=="ACTIVE" and ."OS-EXT-STS:task_state"==null)] | length == $c' \
    <<<"$SERVERS" >/dev/null
}
SERVERS=
wait_until "$NSERV servers ACTIVE" nova-conductor,nova-scheduler 120 all_active
R[boot_s]=$(elapsed "$t")
step "booted $NSERV servers (reservation $resv) ACTIVE in ${R[boot_s]}s: $(jq -r '[.servers[] | "\(.name)@\(."OS-EXT-SRV-ATTR:host")"] | join(" ")' <<<"$SERVERS")"
VICTIM=$(jq -r '[.servers[]."OS-EXT-SRV-ATTR:host"] | group_by(.) | max_by(length) | .[0]' <<<"$SERVERS")
mapfile -t VIDS < <(jq -r --arg h "$VICTIM" '.servers[] | select(."OS-EXT-SRV-ATTR:host"==$h) | .id' <<<"$SERVERS")
ALL_IDS=$(jq -r '.servers[].id' <<<"$SERVERS")

# ---- 4. fail the victim: kill its nova-compute, force its service down
RECOVER=0
SID=$(api GET "$COMPUTE/os-services?binary=nova-compute&host=$VICTIM" "" 2.53 | jq -r '.services[0].id')
restore() { # best effort, when the run dies between the kill and the recovery
  ((RECOVER)) || return 0
  step "interrupted: restarting $VICTIM and unforcing it"
  "$LAB_DIR/compute.sh" start "$VICTIM" || true
  api_try PUT "$COMPUTE/os-services/$SID" '{"forced_down": false}' 2.53 >/dev/null || true
}
trap restore EXIT
t_fail=$(now)
RECOVER=1
"$LAB_DIR/compute.sh" stop "$VICTIM" 2>&1 | sed 's/^/  /'
api PUT "$COMPUTE/os-services/$SID" '{"forced_down": true}' 2.53 >/dev/null
state=$(api GET "$COMPUTE/os-services?binary=nova-compute&host=$VICTIM" "" 2.53 | jq -r '.services[0].state')
R[kill_force_s]=$(elapsed "$t_fail")
step "killed $VICTIM's nova-compute, forced down (service $SID, state now $state) in ${R[kill_force_s]}s"
[[ $state == down ]] || die "$VICTIM still reported $state after forced_down"

# ---- 5. evacuate
t=$(now)
for id in "${VIDS[@]}"; do
  api POST "$COMPUTE/servers/$id/action" '{"evacuate": {}}' 2.68 >/dev/null
done
R[evacuate_calls_s]=$(elapsed "$t")
evacuated() {
  SERVERS=$(servers_json)
  jq -e --arg h "$VICTIM" --argjson ids "$(printf '%s\n' "${VIDS[@]}" | jq -R . | jq -sc .)" '
    [.servers[] | select(.id as $i | $ids | index($i))] as $v
    | ($v | length) == ($ids | length)
      and all($v[]; .status=="ACTIVE" and ."OS-EXT-STS:task_state"==null and ."OS-EXT-SRV-ATTR:host"!=$h)' \
    <<<"$SERVERS" >/dev/null || {
    local err
    err=$(jq -r '.servers[] | select(.status=="ERROR") | "\(.name): \(.fault.message // "?")"' <<<"$SERVERS")
    [[ -z $err ]] || die "evacuated server(s) in ERROR: $err (see $LOG/nova-conductor.log)"
    return 1
  }
}
wait_until "evacuation of ${#VIDS[@]} server(s) from $VICTIM" nova-conductor,nova-scheduler 120 evacuated
R[evacuate_s]=$(elapsed "$t")
step "evacuated ${#VIDS[@]} server(s) from $VICTIM in ${R[evacuate_s]}s (first POST -> all ACTIVE elsewhere): $(jq -r --arg h "$VICTIM" \
  '[.servers[] | "\(.name)@\(."OS-EXT-SRV-ATTR:host")"] | join(" ")' <<<"$SERVERS")"
mig=$(api GET "$COMPUTE/os-migrations?migration_type=evacuation&source_compute=$VICTIM" "" 2.59)
step "migrations: $(jq -r '[.migrations[] | select(.instance_uuid as $i | $i) | "\(.source_compute)->\(.dest_compute):\(.status)"] | .[:6] | join(" ")' <<<"$mig")"

# ---- 6. bring the host back: start (its init_host cleans up the evacuated guests), unforce, enable
t=$(now)
"$LAB_DIR/compute.sh" start "$VICTIM" 2>&1 | sed 's/^/  /'
no_done_migrations() {
  [[ $(api GET "$COMPUTE/os-migrations?migration_type=evacuation&source_compute=$VICTIM&status=done" "" 2.59 |
    jq '.migrations | length') == 0 ]]
}
wait_until "$VICTIM cleaning up evacuated guests (migrations done -> completed)" "$(compute_proc "$VICTIM")" 120 no_done_migrations
api PUT "$COMPUTE/os-services/$SID" '{"forced_down": false}' 2.53 >/dev/null
api PUT "$COMPUTE/os-services/$SID" '{"status": "enabled"}' 2.53 >/dev/null
back_up() {
  [[ $(api GET "$COMPUTE/os-services?binary=nova-compute&host=$VICTIM" "" 2.53 |
    jq -r '.services[0] | "\(.state) \(.status) \(.forced_down)"') == "up enabled false" ]]
}
wait_until "$VICTIM service up" "$(compute_proc "$VICTIM")" 120 back_up
RECOVER=0
R[recover_s]=$(elapsed "$t")
step "$VICTIM back: up, enabled, not forced down in ${R[recover_s]}s"

# ---- 7. delete
t=$(now)
for id in $ALL_IDS; do api DELETE "$COMPUTE/servers/$id" >/dev/null; done
wait_servers_gone
R[delete_s]=$(elapsed "$t")
step "deleted $NSERV servers in ${R[delete_s]}s"

res="RESULT smoke=ok servers=$NSERV victim=$VICTIM evacuated=${#VIDS[@]}"
for k in auth_s boot_s kill_force_s evacuate_calls_s evacuate_s recover_s delete_s; do res+=" $k=${R[$k]}"; done
echo "$res total_s=$(elapsed "$T_ALL")"

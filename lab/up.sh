#!/usr/bin/env bash
# Bring the freezer-dr OpenStack lab up (or complete a partly-up one) on 127.0.0.1:
# MariaDB, RabbitMQ, Keystone, Glance, Placement, Neutron API, Nova API/conductor/scheduler and
# FDR_LAB_HOSTS fake nova-compute hosts. Idempotent; waits on readiness, bounded by
# FDR_LAB_TIMEOUT seconds per wait. See lab/README.md.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=configs.sh
source "$LAB_DIR/configs.sh"

[[ $(id -u) == 0 ]] || die "run as root"
[[ $FDR_LAB_HOSTS =~ ^[1-9][0-9]*$ ]] || die "FDR_LAB_HOSTS must be a positive integer"
T_START=$(now)
declare -A PHASE=()
phase_done() { PHASE[$1]=$(elapsed "$2"); }

# ---------------------------------------------------------------------------------------------
# 0. packages
t=$(now)
# all packages of scripts/deps/lab.txt installed? (one dpkg-query call: ~0.2 s instead of ~2.5 s)
lab_packages_missing() {
  local pkgs
  pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$LAB_DIR/../scripts/deps/lab.txt" | awk '{print $1}')
  # shellcheck disable=SC2086
  dpkg-query -W -f '${Package} ${Status}\n' $pkgs 2>/dev/null | grep -c ' install ok installed$' |
    { read -r n; (( n != $(wc -w <<<"$pkgs") )); }
}
if [[ ${FDR_LAB_SKIP_INSTALL:-0} != 1 ]] && lab_packages_missing; then
  # wait for a dpkg lock held by a concurrent install instead of failing at once
  APT_CONFIG=$(mktemp)
  echo 'DPkg::Lock::Timeout "600";' >"$APT_CONFIG"
  export APT_CONFIG
  "$LAB_DIR/../scripts/install-deps.sh" lab >&2 || die "package install failed (scripts/install-deps.sh lab)"
  rm -f "$APT_CONFIG"
  unset APT_CONFIG
fi
phase_done install "$t"

# Fast path: a complete lab (same host count) whose processes all run and whose Nova services all
# report up needs nothing: check that with 2 REST calls and return.
ALL_PROCS=(mariadb epmd rabbitmq keystone glance placement neutron nova-api nova-conductor nova-scheduler)
for ((i = 1; i <= FDR_LAB_HOSTS; i++)); do ALL_PROCS+=("$(compute_proc "$(host_name "$i")")"); done
lab_complete() {
  local p
  [[ -f $S/lab.env ]] && grep -qx "FDR_LAB_HOSTS=$FDR_LAB_HOSTS" "$S/lab.env" || return 1
  for p in "${ALL_PROCS[@]}"; do pid_alive "$p" || return 1; done
  ks_auth_try admin "$FDR_LAB_PASSWORD" admin 2>/dev/null || return 1
  local hosts=() starts
  for ((i = 1; i <= FDR_LAB_HOSTS; i++)); do hosts+=("$(host_name "$i")"); done
  starts=$(compute_starts_json "${hosts[@]}")
  api_try GET "$NOVA_URL/os-services?binary=nova-compute" "" 2.53 |
    jq -e --argjson st "$starts" "$JQ_FRESH_UP"'
      [.services[] | select(.host as $h | $st | has($h)) | select(fresh_up($st))] | length == ($st | length)' >/dev/null
}
if [[ ${FDR_LAB_FORCE:-0} != 1 ]] && (lab_complete); then
  log "lab already up (${#ALL_PROCS[@]} processes, $FDR_LAB_HOSTS hosts up); env in $S/lab.env"
  "$LAB_DIR/wire.sh"
  echo "RESULT up_s=$(elapsed "$T_START")"
  exit 0
fi

mkdir -p "$S" "$ETC" "$LOG" "$RUN" "$DONE" "$S/keystone" "$S/glance/images" "$S/glance/lock" \
  "$S/neutron/lock" "$S/nova/control/lock" "$S/rabbitmq"
write_configs
if ((${#CONFIG_CHANGED[@]})); then
  log "config changed for running service(s): ${CONFIG_CHANGED[*]} (apply with lab/down.sh && lab/up.sh)"
fi

# version markers: a DB step runs again only when its package version changes
pkg_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo none; }
step_done() { [[ -f $DONE/$1 && $(cat "$DONE/$1") == "$2" ]]; }
mark_done() { printf '%s' "$2" >"$DONE/$1"; }

# Background steps: run_step NAME FUNC...; wait_steps waits for all and fails naming the log.
STEP_PIDS=()
STEP_NAMES=()
run_step() {
  local name=$1; shift
  ( set -euo pipefail; "$@" ) >>"$LOG/setup-$name.log" 2>&1 &
  STEP_PIDS+=($!)
  STEP_NAMES+=("$name")
}
wait_steps() {
  local i rc failed=0
  for i in "${!STEP_PIDS[@]}"; do
    rc=0
    wait "${STEP_PIDS[$i]}" || rc=$?
    if ((rc)); then
      failed=1
      log "step ${STEP_NAMES[$i]} failed (rc $rc); see $LOG/setup-${STEP_NAMES[$i]}.log"
      tail -n 20 "$LOG/setup-${STEP_NAMES[$i]}.log" >&2 || true
    fi
  done
  STEP_PIDS=()
  STEP_NAMES=()
  ((failed == 0)) || die "setup step(s) failed"
}

# ---------------------------------------------------------------------------------------------
# 1. epmd + RabbitMQ (slowest to boot: first), MariaDB
t=$(now)
mysql_root() { mariadb --no-defaults --socket="$MYSQL_SOCK" -uroot "$@"; }
start_bg epmd -- /usr/bin/epmd -address "$LOCAL" -port "$FDR_LAB_PORT_EPMD"
mkdir -p "$S/rabbitmq/mnesia" "$LOG/rabbitmq"
RABBIT_ENV=(
  HOME="$S/rabbitmq"
  RABBITMQ_NODENAME="$RABBIT_NODE"
  RABBITMQ_NODE_IP_ADDRESS="$LOCAL"
  RABBITMQ_NODE_PORT="$FDR_LAB_PORT_AMQP"
  RABBITMQ_DIST_PORT="$FDR_LAB_PORT_RABBIT_DIST"
  ERL_EPMD_PORT="$FDR_LAB_PORT_EPMD"
  ERL_EPMD_ADDRESS="$LOCAL"
  RABBITMQ_CONF_ENV_FILE="$ETC/rabbitmq/rabbitmq-env.conf"
  RABBITMQ_CONFIG_FILE="$ETC/rabbitmq/rabbitmq.conf"
  RABBITMQ_ADVANCED_CONFIG_FILE="$ETC/rabbitmq/advanced.config"
  RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq/enabled_plugins"
  RABBITMQ_MNESIA_BASE="$S/rabbitmq/mnesia"
  RABBITMQ_LOG_BASE="$LOG/rabbitmq"
  RABBITMQ_LOGS=-
  RABBITMQ_PID_FILE="$RUN/rabbitmq-beam.pid"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
)
wait_until "epmd port $FDR_LAB_PORT_EPMD" epmd "$FDR_LAB_TIMEOUT" port_open "$FDR_LAB_PORT_EPMD"
# /usr/sbin/rabbitmq-server would 'su rabbitmq' (other HOME and cookie): call the real script
start_bg rabbitmq "${RABBIT_ENV[@]}" -- /usr/lib/rabbitmq/bin/rabbitmq-server

if [[ ! -d $S/mysql/mysql ]]; then
  log "initialising MariaDB in $S/mysql"
  rm -rf "$S/mysql"
  mariadb-install-db --no-defaults --user=root --datadir="$S/mysql" --skip-test-db \
    --auth-root-authentication-method=socket >"$LOG/setup-mariadb-install.log" 2>&1 ||
    die "mariadb-install-db failed; see $LOG/setup-mariadb-install.log"
fi
# --no-defaults must come first (keeps /etc/mysql out); the lab is disposable, so no fsync per
# commit and no doublewrite (DB syncs are DDL-heavy).
start_bg mariadb -- /usr/sbin/mariadbd --no-defaults --user=root --datadir="$S/mysql" \
  --socket="$MYSQL_SOCK" --port="$FDR_LAB_PORT_MYSQL" --bind-address="$LOCAL" \
  --pid-file="$RUN/mariadbd.pid" --skip-name-resolve --max-connections=500 \
  --innodb-buffer-pool-size=32M --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=0 \
  --innodb-doublewrite=0 --performance-schema=OFF --character-set-server=utf8mb4 \
  --collation-server=utf8mb4_general_ci --skip-log-bin

mysql_ready() { mysql_root -e 'SELECT 1' >/dev/null 2>&1; }
wait_until "MariaDB on $MYSQL_SOCK" mariadb "$FDR_LAB_TIMEOUT" mysql_ready
DBS=(keystone glance placement neutron nova_api nova nova_cell0)
{
  for db in "${DBS[@]}"; do echo "CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8;"; done
  for h in 127.0.0.1 localhost; do
    echo "CREATE USER IF NOT EXISTS '$DBUSER'@'$h' IDENTIFIED BY '$FDR_LAB_PASSWORD';"
    echo "ALTER USER '$DBUSER'@'$h' IDENTIFIED BY '$FDR_LAB_PASSWORD';"
    echo "GRANT ALL PRIVILEGES ON *.* TO '$DBUSER'@'$h';"
  done
} | mysql_root || die "creating databases failed; see $LOG/mariadb.log"
phase_done mariadb "$t"

# ---------------------------------------------------------------------------------------------
# 2. DB syncs (in parallel, each only once per package version) and API processes
t=$(now)
KS_CONF=$ETC/keystone/keystone.conf
ks_manage() { keystone-manage --config-file "$KS_CONF" "$@"; }
nova_manage() { nova-manage --config-file "$ETC/nova/nova.conf" --config-file "$ETC/nova/nova-db.conf" "$@"; }

step_keystone() {
  local v; v=$(pkg_version keystone)
  if ! step_done keystone-db "$v"; then ks_manage db_sync; mark_done keystone-db "$v"; fi
  if [[ ! -s $S/keystone/fernet-keys/0 ]]; then
    ks_manage fernet_setup --keystone-user root --keystone-group root
  fi
  if [[ ! -s $S/keystone/credential-keys/0 ]]; then
    ks_manage credential_setup --keystone-user root --keystone-group root
  fi
  if ! step_done keystone-bootstrap "$v"; then
    ks_manage bootstrap --bootstrap-password "$FDR_LAB_PASSWORD" \
      --bootstrap-admin-url "$KS_URL" --bootstrap-internal-url "$KS_URL" \
      --bootstrap-public-url "$KS_URL" --bootstrap-region-id "$FDR_LAB_REGION"
    mark_done keystone-bootstrap "$v"
  fi
}
step_glance() {
  local v; v=$(pkg_version glance-api)
  step_done glance-db "$v" && return 0
  glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync
  mark_done glance-db "$v"
}
step_placement() {
  local v; v=$(pkg_version placement-api)
  step_done placement-db "$v" && return 0
  placement-manage --config-file "$ETC/placement/placement.conf" db sync
  mark_done placement-db "$v"
}
step_neutron() {
  local v; v=$(pkg_version neutron-server)
  step_done neutron-db "$v" && return 0
  neutron-db-manage --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/ml2_conf.ini" upgrade head
  mark_done neutron-db "$v"
}
step_nova() {
  local v; v=$(pkg_version nova-common)
  step_done nova-db "$v" && return 0
  nova_manage api_db sync
  nova_manage cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
  local cells; cells=$(nova_manage cell_v2 list_cells)
  if ! grep -q ' cell1 ' <<<"$cells"; then
    nova_manage cell_v2 create_cell --name cell1 --verbose
  fi
  nova_manage db sync
  mark_done nova-db "$v"
}
run_step keystone step_keystone
run_step glance step_glance
run_step placement step_placement
run_step neutron step_neutron
run_step nova step_nova
wait_steps
phase_done db_sync "$t"

t=$(now)
start_bg keystone OS_KEYSTONE_CONFIG_FILES="$KS_CONF" -- /usr/bin/uwsgi --ini "$ETC/uwsgi/keystone.ini"
start_bg glance -- /usr/bin/glance-api --config-file "$ETC/glance/glance-api.conf"
start_bg placement OS_PLACEMENT_CONFIG_DIR="$ETC/placement" -- /usr/bin/uwsgi --ini "$ETC/uwsgi/placement.ini"
start_bg neutron OS_NEUTRON_CONFIG_DIR="$ETC/neutron" OS_NEUTRON_CONFIG_FILES="neutron.conf;ml2_conf.ini" \
  -- /usr/bin/uwsgi --ini "$ETC/uwsgi/neutron.ini"
NOVA_ARGS=(--config-file "$ETC/nova/nova.conf" --config-file "$ETC/nova/nova-db.conf")
# nova-api needs the DB only at start (RPC connects on first use), so it loads while RabbitMQ boots
start_bg nova-api OS_NOVA_CONFIG_DIR="$ETC/nova" OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;nova-db.conf" \
  -- /usr/bin/uwsgi --ini "$ETC/uwsgi/nova-api.ini"

wait_until "Keystone at $KS_URL" keystone "$FDR_LAB_TIMEOUT" http_ok "$KS_URL"
phase_done keystone_up "$t"

# ---------------------------------------------------------------------------------------------
# 3. Keystone resources (idempotent REST calls)
t=$(now)
ks_admin

# ks_id KIND NAME [EXTRA_QUERY] -> id or empty (KIND: projects users roles services)
ks_id() {
  local out
  out=$(api GET "$KS_URL/$1?name=$2${3:-}")
  jq -r --arg k "$1" '.[$k][0].id // empty' <<<"$out"
}
ensure_role() {
  local id; id=$(ks_id roles "$1")
  [[ -n $id ]] || id=$(api POST "$KS_URL/roles" "$(jq -nc --arg n "$1" '{role:{name:$n}}')" | jq -r .role.id)
  printf '%s' "$id"
}
ensure_project() {
  local id; id=$(ks_id projects "$1")
  [[ -n $id ]] || id=$(api POST "$KS_URL/projects" \
    "$(jq -nc --arg n "$1" --arg d "$2" '{project:{name:$n,description:$d,domain_id:"default"}}')" | jq -r .project.id)
  printf '%s' "$id"
}
# ensure_user NAME EMAIL DEFAULT_PROJECT_ID
ensure_user() {
  local id body
  id=$(ks_id users "$1")
  body=$(jq -nc --arg n "$1" --arg e "$2" --arg p "$3" --arg pw "$FDR_LAB_PASSWORD" \
    '{user:({name:$n,password:$pw,domain_id:"default",enabled:true}
      + (if $e != "" then {email:$e} else {} end)
      + (if $p != "" then {default_project_id:$p} else {} end))}')
  if [[ -z $id ]]; then
    id=$(api POST "$KS_URL/users" "$body" | jq -r .user.id)
  fi
  printf '%s' "$id"
}
grant() { api PUT "$KS_URL/projects/$1/users/$2/roles/$3" >/dev/null; }
ensure_service() {
  local id; id=$(api GET "$KS_URL/services?type=$1" | jq -r '.services[0].id // empty')
  [[ -n $id ]] || id=$(api POST "$KS_URL/services" \
    "$(jq -nc --arg t "$1" --arg n "$2" '{service:{type:$t,name:$n,enabled:true}}')" | jq -r .service.id)
  printf '%s' "$id"
}
ensure_endpoints() {
  local sid=$1 url=$2 iface existing
  existing=$(api GET "$KS_URL/endpoints?service_id=$sid")
  for iface in public internal admin; do
    if [[ -z $(jq -r --arg i "$iface" --arg u "$url" \
      '.endpoints[] | select(.interface==$i and .url==$u) | .id' <<<"$existing") ]]; then
      # drop a stale endpoint of that interface (e.g. after a port change)
      jq -r --arg i "$iface" '.endpoints[] | select(.interface==$i) | .id' <<<"$existing" |
        while read -r eid; do api DELETE "$KS_URL/endpoints/$eid" >/dev/null; done
      api POST "$KS_URL/endpoints" "$(jq -nc --arg s "$sid" --arg i "$iface" --arg u "$url" \
        --arg r "$FDR_LAB_REGION" '{endpoint:{service_id:$s,interface:$i,url:$u,region_id:$r,enabled:true}}')" >/dev/null
    fi
  done
}

# Fast path: everything below was created before (marker) and is still there (3 GETs)
KS_DATA_KEY="v2 $FDR_LAB_REGION $FDR_LAB_PORT_NOVA $FDR_LAB_PORT_GLANCE $FDR_LAB_PORT_PLACEMENT $FDR_LAB_PORT_NEUTRON"
ks_data_present() {
  step_done keystone-data "$KS_DATA_KEY" || return 1
  local users projects endpoints
  users=$(api GET "$KS_URL/users" | jq -r '.users[].name')
  projects=$(api GET "$KS_URL/projects" | jq -r '.projects[].name')
  endpoints=$(api GET "$KS_URL/endpoints" | jq -r '.endpoints[].url' | sort -u)
  local n
  for n in admin nova glance placement neutron alice carol dave; do grep -qx "$n" <<<"$users" || return 1; done
  for n in admin service demo other; do grep -qx "$n" <<<"$projects" || return 1; done
  for n in "$NOVA_URL" "$GLANCE_URL" "$PLACEMENT_URL" "$NEUTRON_URL"; do grep -qx "$n" <<<"$endpoints" || return 1; done
}
if ! ks_data_present; then
R_ADMIN=$(ensure_role admin)
R_MEMBER=$(ensure_role member)
R_SERVICE=$(ensure_role service)
P_SERVICE=$(ensure_project service "lab service users")
U_ADMIN=$(ks_id users admin)
# freezer-dr asks for a domain-scoped token to list users: admin also gets admin on Default
api PUT "$KS_URL/domains/default/users/$U_ADMIN/roles/$R_ADMIN" >/dev/null
for svc in nova glance placement neutron; do
  uid=$(ensure_user "$svc" "" "")
  grant "$P_SERVICE" "$uid" "$R_ADMIN"
  grant "$P_SERVICE" "$uid" "$R_SERVICE"
done
ensure_endpoints "$(ensure_service compute nova)" "$NOVA_URL"
ensure_endpoints "$(ensure_service image glance)" "$GLANCE_URL"
ensure_endpoints "$(ensure_service placement placement)" "$PLACEMENT_URL"
ensure_endpoints "$(ensure_service network neutron)" "$NEUTRON_URL"
# tenants for notification tests
P_DEMO=$(ensure_project demo "lab tenant with two users")
P_OTHER=$(ensure_project other "lab tenant with one user")
U_ALICE=$(ensure_user alice alice@example.test "$P_DEMO")
U_CAROL=$(ensure_user carol carol@example.test "")
U_DAVE=$(ensure_user dave dave@example.test "$P_OTHER")
grant "$P_DEMO" "$U_ALICE" "$R_MEMBER"
grant "$P_DEMO" "$U_CAROL" "$R_MEMBER"
grant "$P_OTHER" "$U_DAVE" "$R_MEMBER"
# admin works in the tenants' projects too (boots their servers pinned to a host in the tests)
grant "$P_DEMO" "$U_ADMIN" "$R_ADMIN"
grant "$P_OTHER" "$U_ADMIN" "$R_ADMIN"
mark_done keystone-data "$KS_DATA_KEY"
fi
phase_done keystone_data "$t"

# ---------------------------------------------------------------------------------------------
# 4. conductor, scheduler and fake compute hosts (they need the Keystone service users)
t=$(now)
wait_until "RabbitMQ on port $FDR_LAB_PORT_AMQP" rabbitmq "$FDR_LAB_TIMEOUT" port_open "$FDR_LAB_PORT_AMQP"
start_bg nova-conductor -- /usr/bin/nova-conductor "${NOVA_ARGS[@]}"
start_bg nova-scheduler -- /usr/bin/nova-scheduler "${NOVA_ARGS[@]}"
wait_until "Placement at $PLACEMENT_URL" placement "$FDR_LAB_TIMEOUT" http_ok "$PLACEMENT_URL/"
HOSTS=()
for ((i = 1; i <= FDR_LAB_HOSTS; i++)); do
  h=$(host_name "$i")
  HOSTS+=("$h")
  start_bg "$(compute_proc "$h")" -- /usr/bin/nova-compute --config-file "$ETC/nova/nova.conf" \
    --config-file "$ETC/nova/compute-$h.conf"
done

wait_until "Glance at $GLANCE_URL" glance "$FDR_LAB_TIMEOUT" http_ok "$GLANCE_URL/"
wait_until "Neutron at $NEUTRON_URL" neutron "$FDR_LAB_TIMEOUT" http_ok "$NEUTRON_URL/"
# Warm-up: the first request configures the SQLAlchemy mappers (else GET /v2.0/ports -> 500)
api GET "$NEUTRON_URL/v2.0/networks" >/dev/null
api GET "$NEUTRON_URL/v2.0/ports?device_id=none" >/dev/null
wait_until "Nova API at $NOVA_URL" nova-api "$FDR_LAB_TIMEOUT" http_ok "http://$LOCAL:$FDR_LAB_PORT_NOVA/"
phase_done apis_up "$t"

t=$(now)
MV=2.53
SERVICES_JSON=
services_json() { SERVICES_JSON=$(api_try GET "$NOVA_URL/os-services" "" "$MV"); }
# all_services_up: conductor, scheduler and every fake host report state=up
all_services_up() {
  services_json || { WAIT_DETAIL="os-services: $SERVICES_JSON"; return 1; }
  local starts notup
  starts=$(compute_starts_json "${HOSTS[@]}")
  notup=$(jq -r --argjson st "$starts" --argjson hosts "$(printf '%s\n' "${HOSTS[@]}" | jq -R . | jq -sc .)" \
    "$JQ_FRESH_UP"'
    .services as $s
    | ([$s[] | select(.binary=="nova-conductor" and .state=="up")] | if length > 0 then empty else "nova-conductor" end),
      ([$s[] | select(.binary=="nova-scheduler" and .state=="up")] | if length > 0 then empty else "nova-scheduler" end),
      ($hosts[] | . as $h | if any($s[]; .binary=="nova-compute" and .host==$h and fresh_up($st)) then empty else $h end)
  ' <<<"$SERVICES_JSON") || return 1
  # shellcheck disable=SC2034  # read by wait_until
  WAIT_DETAIL="not up yet: $(tr '\n' ' ' <<<"$notup")"
  # shellcheck disable=SC2034
  WAIT_LOG=$(head -n1 <<<"$notup" | sed 's/^fake-host-/nova-compute-fake-host-/')
  [[ -z $notup ]]
}
# a host left forced down (e.g. by an interrupted test) while its process runs: unforce it
if services_json; then
  for h in "${HOSTS[@]}"; do
    sid=$(jq -r --arg h "$h" '.services[] | select(.binary=="nova-compute" and .host==$h and .forced_down) | .id' <<<"$SERVICES_JSON")
    if [[ -n $sid ]]; then
      log "$h is forced down: unforcing it"
      api_try PUT "$NOVA_URL/os-services/$sid" '{"forced_down": false}' "$MV" >/dev/null ||
        log "warning: could not unforce $h (evacuations not yet cleaned up?)"
    fi
  done
fi
COMPUTE_PROCS=$(for h in "${HOSTS[@]}"; do printf ',%s' "$(compute_proc "$h")"; done)
NOVA_PROCS=nova-conductor,nova-scheduler,nova-api$COMPUTE_PROCS
wait_until "Nova services (conductor, scheduler, ${HOSTS[*]}) up" "$NOVA_PROCS" "$FDR_LAB_TIMEOUT" all_services_up

# every host has its compute node record, then map unmapped hosts into cell1 (nova-manage
# cell_v2 discover_hosts), then every hypervisor is visible and up through the API
sql_hosts() { mysql_root -N -e "$1"; }
missing_hosts() { # $1 = SQL listing hosts
  local have h
  have=$(sql_hosts "$1") || return 1
  for h in "${HOSTS[@]}"; do grep -qx "$h" <<<"$have" || printf '%s ' "$h"; done
}
compute_nodes_present() {
  local m; m=$(missing_hosts 'SELECT host FROM nova.compute_nodes WHERE deleted = 0') || return 1
  WAIT_DETAIL="no compute node yet: $m"
  [[ -z $m ]]
}
wait_until "compute node records of ${HOSTS[*]}" "$NOVA_PROCS" "$FDR_LAB_TIMEOUT" compute_nodes_present
unmapped=$(missing_hosts 'SELECT host FROM nova_api.host_mappings')
if [[ -n $unmapped ]]; then
  log "mapping hosts into cell1: $unmapped"
  nova_manage cell_v2 discover_hosts --verbose >>"$LOG/setup-discover.log" 2>&1 ||
    die "nova-manage cell_v2 discover_hosts failed; see $LOG/setup-discover.log"
  unmapped=$(missing_hosts 'SELECT host FROM nova_api.host_mappings')
  [[ -z $unmapped ]] || die "hosts still unmapped after discover_hosts: $unmapped; see $LOG/setup-discover.log"
fi
hypervisors_up() {
  local hv
  hv=$(api_try GET "$NOVA_URL/os-hypervisors" "" "$MV") || return 1
  jq -e --argjson hosts "$(printf '%s\n' "${HOSTS[@]}" | jq -R . | jq -sc .)" \
    '.hypervisors as $hv | all($hosts[]; . as $h | any($hv[]; .hypervisor_hostname==$h and .state=="up"))' <<<"$hv" >/dev/null
}
wait_until "hypervisors of ${HOSTS[*]}" "$NOVA_PROCS" "$FDR_LAB_TIMEOUT" hypervisors_up
phase_done nova_up "$t"

# ---------------------------------------------------------------------------------------------
# 5. flavor and image
t=$(now)
FLAVOR_ID=fdr-tiny
if ! api_try GET "$NOVA_URL/flavors/$FLAVOR_ID" >/dev/null; then
  api POST "$NOVA_URL/flavors" '{"flavor": {"name": "fdr.tiny", "id": "fdr-tiny", "vcpus": 1, "ram": 512, "disk": 1, "os-flavor-access:is_public": true}}' >/dev/null
fi
IMAGE_NAME=fdr-tiny-image
IMAGE_ID=$(api GET "$GLANCE_URL/v2/images?name=$IMAGE_NAME" | jq -r '[.images[] | select(.status=="active")][0].id // empty')
if [[ -z $IMAGE_ID ]]; then
  # drop half-created copies, then create + upload 1 MiB of zeros (the fake driver never reads it)
  for stale in $(api GET "$GLANCE_URL/v2/images?name=$IMAGE_NAME" | jq -r '.images[].id'); do
    api DELETE "$GLANCE_URL/v2/images/$stale" >/dev/null
  done
  IMAGE_ID=$(api POST "$GLANCE_URL/v2/images" "$(jq -nc --arg n "$IMAGE_NAME" \
    '{name:$n,disk_format:"raw",container_format:"bare",visibility:"public"}')" | jq -r .id)
  head -c 1048576 /dev/zero | curl -sS --fail-with-body --max-time 60 -X PUT \
    -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/octet-stream' \
    --data-binary @- "$GLANCE_URL/v2/images/$IMAGE_ID/file" >/dev/null || die "image upload failed; see $LOG/glance.log"
  [[ $(api GET "$GLANCE_URL/v2/images/$IMAGE_ID" | jq -r .status) == active ]] || die "image $IMAGE_ID not active"
fi
phase_done flavor_image "$t"

# ---------------------------------------------------------------------------------------------
# 6. clouds.yaml, openrc, lab.env
HOSTS_CSV=$(IFS=,; printf '%s' "${HOSTS[*]}")
put_file "$S/lab.env" <<EOF
# freezer-dr lab ($LAB_DIR/up.sh); KEY=VALUE, no quoting, sourceable by sh
FDR_LAB_STATE=$S
FDR_LAB_AUTH_URL=$KS_URL
FDR_LAB_REGION=$FDR_LAB_REGION
FDR_LAB_USER_DOMAIN=Default
FDR_LAB_PROJECT_DOMAIN=Default
FDR_LAB_ADMIN_USER=admin
FDR_LAB_ADMIN_PASSWORD=$FDR_LAB_PASSWORD
FDR_LAB_ADMIN_PROJECT=admin
FDR_LAB_PASSWORD=$FDR_LAB_PASSWORD
FDR_LAB_COMPUTE_URL=$NOVA_URL
FDR_LAB_IMAGE_URL=$GLANCE_URL
FDR_LAB_PLACEMENT_URL=$PLACEMENT_URL
FDR_LAB_NETWORK_URL=$NEUTRON_URL
FDR_LAB_PORT_KEYSTONE=$FDR_LAB_PORT_KEYSTONE
FDR_LAB_PORT_NOVA=$FDR_LAB_PORT_NOVA
FDR_LAB_PORT_PLACEMENT=$FDR_LAB_PORT_PLACEMENT
FDR_LAB_PORT_GLANCE=$FDR_LAB_PORT_GLANCE
FDR_LAB_PORT_NEUTRON=$FDR_LAB_PORT_NEUTRON
FDR_LAB_PORT_MYSQL=$FDR_LAB_PORT_MYSQL
FDR_LAB_PORT_AMQP=$FDR_LAB_PORT_AMQP
FDR_LAB_HOSTS=$FDR_LAB_HOSTS
FDR_LAB_HOST_NAMES=$HOSTS_CSV
FDR_LAB_FLAVOR_ID=$FLAVOR_ID
FDR_LAB_IMAGE_ID=$IMAGE_ID
FDR_LAB_DEMO_PROJECT=demo
FDR_LAB_DEMO_USERS=alice,carol
FDR_LAB_OTHER_PROJECT=other
FDR_LAB_OTHER_USERS=dave
FDR_LAB_EMAIL_alice=alice@example.test
FDR_LAB_EMAIL_carol=carol@example.test
FDR_LAB_EMAIL_dave=dave@example.test
FDR_LAB_CLOUDS_YAML=$S/clouds.yaml
FDR_LAB_OPENRC=$S/openrc
FDR_LAB_COMPUTE_SH=$LAB_DIR/compute.sh
EOF
cloud() {
  cat <<EOF
  $1:
    auth:
      auth_url: $KS_URL
      username: $2
      password: $FDR_LAB_PASSWORD
      project_name: $3
      user_domain_name: Default
      project_domain_name: Default
    region_name: $FDR_LAB_REGION
    identity_api_version: 3
    interface: public
EOF
}
{
  echo "clouds:"
  cloud fdr-lab admin admin
  cloud fdr-lab-alice alice demo
  cloud fdr-lab-carol carol demo
  cloud fdr-lab-dave dave other
} | put_file "$S/clouds.yaml"
put_file "$S/openrc" <<EOF
export OS_AUTH_URL=$KS_URL
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$FDR_LAB_PASSWORD
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$FDR_LAB_REGION
export OS_INTERFACE=public
export OS_COMPUTE_API_VERSION=2.53
EOF
chmod 644 "$S/lab.env" "$S/clouds.yaml" "$S/openrc"
chmod 755 "$S"

summary=""
for k in install mariadb db_sync keystone_up keystone_data apis_up nova_up flavor_image; do
  summary+=" $k=${PHASE[$k]:-0}s"
done
log "phases:$summary"
"$LAB_DIR/wire.sh"
log "lab up in $(elapsed "$T_START")s: hosts ${HOSTS[*]}; env in $S/lab.env"
echo "RESULT up_s=$(elapsed "$T_START")"

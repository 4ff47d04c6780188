# shellcheck shell=bash
# Config files of the lab (sourced by up.sh after lib.sh). write_configs renders them all into
# $FDR_LAB_STATE/etc; a file is only rewritten when its content changes, and a change to the
# config of a service that is already running is reported (restart: down.sh && up.sh).

CONFIG_CHANGED=()

# put_file PATH [SERVICE]: stdin -> PATH if the content differs
put_file() {
  local path=$1 svc=${2:-} tmp
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 0
  fi
  mv -f "$tmp" "$path"
  chmod 600 "$path"
  [[ -n $svc ]] && pid_alive "$svc" && CONFIG_CHANGED+=("$svc")
  return 0
}

db_url() { printf 'mysql+pymysql://%s:%s@%s:%s/%s?charset=utf8' "$DBUSER" "$FDR_LAB_PASSWORD" "$LOCAL" "$FDR_LAB_PORT_MYSQL" "$1"; }
amqp_url() { printf 'rabbit://%s:%s@%s:%s/' "$DBUSER" "$FDR_LAB_PASSWORD" "$LOCAL" "$FDR_LAB_PORT_AMQP"; }

# keystone_authtoken-like section for service user $1
authtoken() {
  cat <<EOF
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
username = $1
password = $FDR_LAB_PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = $FDR_LAB_REGION
EOF
}

# uwsgi ini for an API: name port wsgi-file processes threads
uwsgi_ini() {
  cat <<EOF
[uwsgi]
plugins = python3
http-socket = $LOCAL:$2
wsgi-file = $3
processes = $4
threads = $5
master = true
enable-threads = true
lazy-apps = true
need-app = true
die-on-term = true
no-orphans = true
buffer-size = 65535
listen = 128
# uwsgi's http-socket closes the connection after each response; say so, or keep-alive
# clients (keystoneauth/requests) reuse a dead socket and POSTs fail.
add-header = Connection: close
http-chunked-input = true
procname-prefix-spaced = fdr-lab-$1
EOF
}

write_configs() {
  mkdir -p "$ETC"/{keystone,glance,placement,neutron,nova,rabbitmq,uwsgi}

  # ---- RabbitMQ
  [[ -s $S/rabbitmq/.erlang.cookie ]] || {
    mkdir -p "$S/rabbitmq"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$S/rabbitmq/.erlang.cookie"
    chmod 400 "$S/rabbitmq/.erlang.cookie"
  }
  put_file "$ETC/rabbitmq/rabbitmq.conf" rabbitmq <<EOF
listeners.tcp.1 = $LOCAL:$FDR_LAB_PORT_AMQP
# applied when the node first boots (empty mnesia dir)
default_user = $DBUSER
default_pass = $FDR_LAB_PASSWORD
default_vhost = /
loopback_users = none
disk_free_limit.absolute = 50MB
log.console = true
log.console.level = warning
log.file = false
EOF
  put_file "$ETC/rabbitmq/enabled_plugins" <<<'[].'
  put_file "$ETC/rabbitmq/rabbitmq-env.conf" </dev/null

  # ---- Keystone
  put_file "$ETC/keystone/keystone.conf" keystone <<EOF
[DEFAULT]
debug = $FDR_LAB_DEBUG
use_stderr = true
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $S/keystone/fernet-keys
[fernet_receipts]
key_repository = $S/keystone/fernet-keys
[credential]
key_repository = $S/keystone/credential-keys
# Without a cache Keystone runs ~500 SQL queries per token validation (0.65 s each); every
# nova->neutron call validates two tokens. One uwsgi process, so a process-local cache is safe.
[cache]
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt cost 4 instead of 12: password auth 0.1 s instead of 0.35 s
password_hash_rounds = 4
[oslo_policy]
enforce_new_defaults = false
EOF
  uwsgi_ini keystone "$FDR_LAB_PORT_KEYSTONE" /usr/bin/keystone-wsgi-public 1 8 |
    put_file "$ETC/uwsgi/keystone.ini" keystone

  # ---- Glance (eventlet glance-api, one process, file store)
  put_file "$ETC/glance/glance-api.conf" glance <<EOF
[DEFAULT]
debug = $FDR_LAB_DEBUG
use_stderr = true
bind_host = $LOCAL
bind_port = $FDR_LAB_PORT_GLANCE
workers = 0
[database]
connection = $(db_url glance)
[keystone_authtoken]
$(authtoken glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $S/glance/images/
[oslo_concurrency]
lock_path = $S/glance/lock
EOF

  # ---- Placement
  put_file "$ETC/placement/placement.conf" placement <<EOF
[DEFAULT]
debug = $FDR_LAB_DEBUG
use_stderr = true
[api]
auth_strategy = keystone
[keystone_authtoken]
$(authtoken placement)
[placement_database]
connection = $(db_url placement)
EOF
  uwsgi_ini placement "$FDR_LAB_PORT_PLACEMENT" /usr/bin/placement-api 1 4 |
    put_file "$ETC/uwsgi/placement.ini" placement

  # ---- Neutron: the API alone (ML2 without mechanism drivers; no RPC server, no agents)
  put_file "$ETC/neutron/neutron.conf" neutron <<EOF
[DEFAULT]
debug = $FDR_LAB_DEBUG
use_stderr = true
core_plugin = ml2
# 'router' imports the port-forwarding model; without it GET /v2.0/ports fails (Zed, API only)
service_plugins = router
auth_strategy = keystone
transport_url = $(amqp_url)
api_paste_config = /etc/neutron/api-paste.ini
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
rpc_workers = 0
rpc_state_report_workers = 0
[database]
connection = $(db_url neutron)
[keystone_authtoken]
$(authtoken neutron)
[oslo_concurrency]
lock_path = $S/neutron/lock
EOF
  put_file "$ETC/neutron/ml2_conf.ini" neutron <<EOF
[ml2]
type_drivers = flat,vlan
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security
EOF
  # Processes, not threads: with several threads a process's concurrent requests can fail with
  # "`pecan.state` is not bound to a context-local context" (HTTP 500), and Nova then fails an
  # evacuation's rebuild (setup_networks_on_host) with the instance left in ERROR.
  uwsgi_ini neutron "$FDR_LAB_PORT_NEUTRON" /usr/bin/neutron-api 2 1 |
    put_file "$ETC/uwsgi/neutron.ini" neutron

  # ---- Nova
  # nova-api under uwsgi loads paste from the FIRST file of OS_NOVA_CONFIG_FILES
  cp -f /etc/nova/api-paste.ini "$ETC/nova/api-paste.ini"
  put_file "$ETC/nova/nova.conf" nova-api <<EOF
[DEFAULT]
debug = $FDR_LAB_DEBUG
use_stderr = true
host = fdr-lab-control
my_ip = $LOCAL
state_path = $S/nova/control
transport_url = $(amqp_url)
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = $LOCAL
osapi_compute_listen_port = $FDR_LAB_PORT_NOVA
[api]
auth_strategy = keystone
[keystone_authtoken]
$(authtoken nova)
[service_user]
send_service_user_token = true
$(authtoken nova)
[placement]
$(authtoken placement)
[neutron]
$(authtoken neutron)
service_metadata_proxy = false
[glance]
region_name = $FDR_LAB_REGION
[cinder]
os_region_name = $FDR_LAB_REGION
[oslo_concurrency]
lock_path = $S/nova/control/lock
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[quota]
instances = -1
cores = -1
ram = -1
[vnc]
enabled = false
[oslo_policy]
enforce_new_defaults = false
EOF
  # DB URLs only for api/conductor/scheduler/nova-manage: nova-compute must not see them
  put_file "$ETC/nova/nova-db.conf" nova-api <<EOF
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
EOF
  uwsgi_ini nova-api "$FDR_LAB_PORT_NOVA" /usr/bin/nova-api-wsgi "$FDR_LAB_NOVA_API_PROCS" 1 |
    put_file "$ETC/uwsgi/nova-api.ini" nova-api
  local i h
  for ((i = 1; i <= FDR_LAB_HOSTS; i++)); do
    h=$(host_name "$i")
    mkdir -p "$S/nova/$h/instances" "$S/nova/$h/lock"
    put_file "$ETC/nova/compute-$h.conf" "$(compute_proc "$h")" <<EOF
[DEFAULT]
host = $h
state_path = $S/nova/$h
instances_path = $S/nova/$h/instances
[oslo_concurrency]
lock_path = $S/nova/$h/lock
EOF
  done
}

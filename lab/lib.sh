# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared settings and helpers for the freezer-dr OpenStack lab (sourced by lab/*.sh).
#
# Everything binds to 127.0.0.1. Every process the lab starts is recorded in
# $FDR_LAB_STATE/run/<name>.pid as "PID PGID STARTTIME" (pid == pgid: started through setsid);
# processes are only ever signalled through those files, never by name.

# The OpenStack binaries are /usr/bin/python3 scripts; keep pyenv & co. out of the way.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV
export LC_ALL=C.UTF-8

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LAB_DIR
export FDR_LAB_STATE=${FDR_LAB_STATE:-/var/tmp/freezer-dr-lab}
export FDR_LAB_HOSTS=${FDR_LAB_HOSTS:-3}
export FDR_LAB_PASSWORD=${FDR_LAB_PASSWORD:-fdr-lab-secret}
export FDR_LAB_REGION=${FDR_LAB_REGION:-RegionOne}
export FDR_LAB_TIMEOUT=${FDR_LAB_TIMEOUT:-180}
export FDR_LAB_NOVA_API_PROCS=${FDR_LAB_NOVA_API_PROCS:-2}
export FDR_LAB_DEBUG=${FDR_LAB_DEBUG:-false}

# Ports: below the Linux ephemeral range (32768-60999), so an outgoing connection can never
# hold one of them when a service starts, and away from the fence testbed's ports.
export FDR_LAB_PORT_KEYSTONE=${FDR_LAB_PORT_KEYSTONE:-30500}
export FDR_LAB_PORT_NOVA=${FDR_LAB_PORT_NOVA:-30774}
export FDR_LAB_PORT_PLACEMENT=${FDR_LAB_PORT_PLACEMENT:-30778}
export FDR_LAB_PORT_GLANCE=${FDR_LAB_PORT_GLANCE:-30292}
export FDR_LAB_PORT_NEUTRON=${FDR_LAB_PORT_NEUTRON:-30696}
export FDR_LAB_PORT_MYSQL=${FDR_LAB_PORT_MYSQL:-30306}
export FDR_LAB_PORT_AMQP=${FDR_LAB_PORT_AMQP:-30672}
export FDR_LAB_PORT_RABBIT_DIST=${FDR_LAB_PORT_RABBIT_DIST:-30673}
export FDR_LAB_PORT_EPMD=${FDR_LAB_PORT_EPMD:-30369}
# freezer-dr's view of the fake hosts (lab/wire.sh): each host N has a probe port on its
# management (127.0.1.N) and storage (127.0.2.N) addresses and an IPMI BMC on UDP port BMC_BASE+N;
# the capturing SMTP server listens on 127.0.0.1.
export FDR_LAB_PORT_PROBE=${FDR_LAB_PORT_PROBE:-30622}
export FDR_LAB_PORT_BMC_BASE=${FDR_LAB_PORT_BMC_BASE:-30630}
export FDR_LAB_PORT_SMTP=${FDR_LAB_PORT_SMTP:-30525}

S=$FDR_LAB_STATE
ETC=$S/etc
LOG=$S/log
RUN=$S/run
DONE=$S/done
LOCAL=127.0.0.1
KS_URL=http://$LOCAL:$FDR_LAB_PORT_KEYSTONE/v3
NOVA_URL=http://$LOCAL:$FDR_LAB_PORT_NOVA/v2.1
PLACEMENT_URL=http://$LOCAL:$FDR_LAB_PORT_PLACEMENT
GLANCE_URL=http://$LOCAL:$FDR_LAB_PORT_GLANCE
NEUTRON_URL=http://$LOCAL:$FDR_LAB_PORT_NEUTRON
MYSQL_SOCK=$RUN/mysqld.sock
DBUSER=fdrlab
RABBIT_NODE=fdrlab@localhost

log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '[lab %s] ERROR: %s\n' "$(date +%T)" "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# compute_starts_json HOST... -> {"fake-host-1": <epoch the running nova-compute started>, ...}
# (mtime of its pid file; 0 when not running). A compute counts as up only once its service has
# heartbeated after that: a stale "up" from before a restart does not count.
compute_starts_json() {
  local h f
  for h in "$@"; do
    f=$RUN/nova-compute-$h.pid
    printf '%s %s\n' "$h" "$(stat -c %Y "$f" 2>/dev/null || echo 0)"
  done | jq -Rn '[inputs | split(" ") | {(.[0]): (.[1] | tonumber)}] | add // {}'
}
# jq function: fresh_up($starts) on a service record
# shellcheck disable=SC2016  # jq code, not shell
JQ_FRESH_UP='def fresh_up($st): .state == "up" and (.forced_down | not) and .updated_at != null
  and ((.updated_at | sub("\\.[0-9]*$"; "") + "Z" | fromdateiso8601) > ($st[.host] // 0));'

host_name() { printf 'fake-host-%s' "$1"; }
compute_proc() { printf 'nova-compute-%s' "$1"; }   # $1 = host name
host_index() { printf '%s' "${1##*-}"; }                # fake-host-N -> N
probe_proc() { printf 'probe-%s' "$1"; }                # $1 = host name
mgmt_addr() { printf '127.0.1.%s' "$(host_index "$1")"; }
storage_addr() { printf '127.0.2.%s' "$(host_index "$1")"; }
bmc_name() { printf 'bmc-%s' "$1"; }

# A crashed host does not answer: packets to its management and storage addresses are dropped
# (probes time out, as towards a dead machine; a refused connect would mean its kernel is alive).
# iptables rules on the loopback interface in the lab's own chain FDR_LAB, for the lab's own
# addresses only; removed when the host starts again (host.sh start / restore) and by down.sh.
FDR_LAB_CHAIN=FDR_LAB
lab_chain() {
  iptables -w -N "$FDR_LAB_CHAIN" 2>/dev/null || true
  iptables -w -C INPUT -i lo -j "$FDR_LAB_CHAIN" 2>/dev/null ||
    iptables -w -I INPUT -i lo -j "$FDR_LAB_CHAIN"
}
# blackhole_addr ADDR...: drop every packet to these lab addresses (on the lab's own chain)
blackhole_addr() {
  local a
  lab_chain
  for a in "$@"; do
    iptables -w -C "$FDR_LAB_CHAIN" -d "$a/32" -j DROP 2>/dev/null ||
      iptables -w -A "$FDR_LAB_CHAIN" -d "$a/32" -j DROP
  done
}
blackhole_host() { blackhole_addr "$(mgmt_addr "$1")" "$(storage_addr "$1")"; }
unblackhole_host() {
  local a
  command -v iptables >/dev/null || return 0
  for a in "$(mgmt_addr "$1")" "$(storage_addr "$1")"; do
    while iptables -w -D "$FDR_LAB_CHAIN" -d "$a/32" -j DROP 2>/dev/null; do :; done
  done
}
remove_lab_chain() {
  command -v iptables >/dev/null || return 0
  while iptables -w -D INPUT -i lo -j "$FDR_LAB_CHAIN" 2>/dev/null; do :; done
  iptables -w -F "$FDR_LAB_CHAIN" 2>/dev/null || true
  iptables -w -X "$FDR_LAB_CHAIN" 2>/dev/null || true
}
bmc_port() { printf '%s' "$((FDR_LAB_PORT_BMC_BASE + $(host_index "$1")))"; }
export BMC_RUN_DIR=${BMC_RUN_DIR:-$FDR_LAB_STATE/bmc}

# ---------------------------------------------------------------------------------------------
# Processes

# proc_starttime PID -> field 22 of /proc/PID/stat (guards against pid reuse)
proc_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s' "${20}"
}

# pid_alive NAME -> 0 if the process recorded in run/NAME.pid still runs (same start time)
pid_alive() {
  local f=$RUN/$1.pid pid pgid st cur
  [[ -s $f ]] || return 1
  read -r pid pgid st <"$f" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cur=$(proc_starttime "$pid") || return 1
  [[ -z $st || $cur == "$st" ]]
}

pid_of() { local pid _r; read -r pid _r <"$RUN/$1.pid"; printf '%s' "$pid"; }
pgid_of() { local _p pgid _r; read -r _p pgid _r <"$RUN/$1.pid"; printf '%s' "$pgid"; }

# start_bg NAME [ENV=VAL...] -- CMD ARGS...: start CMD in its own session (pid == pgid), output to
# log/NAME.log, record run/NAME.pid. Does nothing when NAME is already running.
start_bg() {
  local name=$1; shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  if pid_alive "$name"; then return 0; fi
  rm -f "$RUN/$name.pid"
  printf '\n===== %s starting: %s\n' "$(date '+%F %T')" "$*" >>"$LOG/$name.log"
  # fd 9 is lab/host.sh's lock: a daemon must not inherit (and so hold) it
  # Run from the lab's state directory, not the caller's: a daemon (or a hook it runs) must not
  # depend on a working directory that may be deleted under it (a removed checkout).
  env -C "$S" "${envs[@]}" setsid "$@" </dev/null >>"$LOG/$name.log" 2>&1 9>&- &
  local pid=$! st pgid
  st=$(proc_starttime "$pid") || die "$name exited at once; see $LOG/$name.log"
  pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
  [[ $pgid == "$pid" ]] || log "warning: $name pgid $pgid != pid $pid"
  printf '%s %s %s\n' "$pid" "$pgid" "$st" >"$RUN/$name.pid"
  log "started $name (pid $pid)"
}

# stop_procs [--kill-after SECS] [--signal SIG] NAME...: TERM the process groups in parallel,
# KILL what is still alive after the bounded wait, remove the pid files.
stop_procs() {
  local wait=30 sig=TERM names=() n pgid
  while (($#)); do
    case $1 in
      --kill-after) wait=$2; shift 2 ;;
      --signal) sig=$2; shift 2 ;;
      *) names+=("$1"); shift ;;
    esac
  done
  local live=()
  for n in "${names[@]}"; do
    if pid_alive "$n"; then
      pgid=$(pgid_of "$n")
      kill "-$sig" -- "-$pgid" 2>/dev/null || true
      live+=("$n")
    else
      rm -f "$RUN/$n.pid"
    fi
  done
  ((${#live[@]})) || return 0
  local deadline=$((SECONDS + wait)) still
  while :; do
    still=()
    for n in "${live[@]}"; do
      pgid=$(pgid_of "$n")
      if kill -0 -- "-$pgid" 2>/dev/null; then still+=("$n"); fi
    done
    ((${#still[@]})) || break
    if ((SECONDS >= deadline)); then
      for n in "${still[@]}"; do
        log "$n did not stop within ${wait}s: KILL"
        kill -KILL -- "-$(pgid_of "$n")" 2>/dev/null || true
      done
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  for n in "${live[@]}"; do rm -f "$RUN/$n.pid"; log "stopped $n"; done
}

# rss_kib PGID -> summed RSS (KiB) of every process in the group
rss_kib() {
  ps -eo pgid=,rss= | awk -v g="$1" '$1==g {s+=$2} END {print s+0}'
}

# ---------------------------------------------------------------------------------------------
# Waiting (never fixed sleeps: poll a condition, bounded)

# wait_until DESC NAMES TIMEOUT CMD...: poll CMD until it succeeds. NAMES is a comma-separated
# list of lab processes involved (may be empty): fail early when one of them died, and name their
# logs on timeout. A CMD may set WAIT_DETAIL to say what is still missing, and WAIT_LOG to the
# process whose log tail to show (default: the first of NAMES).
WAIT_DETAIL=
WAIT_LOG=
wait_until() {
  local desc=$1 proclist=$2 timeout=$3; shift 3
  local deadline=$((SECONDS + timeout)) n logs=() procs=() tailtxt=
  IFS=, read -r -a procs <<<"$proclist"
  for n in "${procs[@]}"; do logs+=("$LOG/$n.log"); done
  WAIT_DETAIL=
  WAIT_LOG=
  until "$@" >/dev/null 2>&1; do
    for n in "${procs[@]}"; do
      if [[ -e $RUN/$n.pid ]] && ! pid_alive "$n"; then
        die "$desc: $n died; see $LOG/$n.log (last lines below)
$(tail -n 15 "$LOG/$n.log" 2>/dev/null)"
      fi
    done
    if ((SECONDS >= deadline)); then
      n=${WAIT_LOG:-${procs[0]:-}}
      [[ -n $n ]] && tailtxt="last lines of $n.log:
$(tail -n 15 "$LOG/$n.log" 2>/dev/null)"
      die "$desc: not ready after ${timeout}s${WAIT_DETAIL:+ ($WAIT_DETAIL)}; see ${logs[*]:-$LOG}
$tailtxt"
    fi
    sleep 0.25
  done
}

port_open() { (exec 3<>"/dev/tcp/$LOCAL/$1") 2>/dev/null; }
http_ok() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$1" | grep -Eq '^(200|300)$'; }

# ---------------------------------------------------------------------------------------------
# REST helpers (curl + jq)

TOKEN=
CATALOG=
# ks_auth_try [USER PASSWORD PROJECT]: sets TOKEN and CATALOG (project-scoped password auth);
# returns 1 (message on stderr) on failure. ks_auth: the same, but dies.
ks_auth_try() {
  local user=${1:-admin} pass=${2:-$FDR_LAB_PASSWORD} project=${3:-admin} body hdr
  body=$(jq -nc --arg u "$user" --arg p "$pass" --arg pr "$project" \
    '{auth:{identity:{methods:["password"],password:{user:{name:$u,domain:{id:"default"},password:$p}}},
      scope:{project:{name:$pr,domain:{id:"default"}}}}}')
  hdr=$(mktemp)
  if ! CATALOG=$(curl -sS --fail-with-body --max-time 30 -D "$hdr" -H 'Content-Type: application/json' \
    -d "$body" "$KS_URL/auth/tokens" 2>&1); then
    rm -f "$hdr"
    echo "keystone auth as $user failed: $CATALOG" >&2
    return 1
  fi
  TOKEN=$(awk 'tolower($1)=="x-subject-token:" {print $2}' "$hdr" | tr -d '\r')
  rm -f "$hdr"
  [[ -n $TOKEN ]] || { echo "keystone auth as $user: no token" >&2; return 1; }
}
ks_auth() { ks_auth_try "$@" || die "Keystone authentication failed (see $LOG/keystone.log)"; }
ks_admin() { ks_auth admin "$FDR_LAB_PASSWORD" admin; }

# api_try METHOD URL [JSON] [MICROVERSION]: prints the response body and returns 0 on HTTP < 400;
# otherwise prints "HTTP <code>: <body>" and returns 1.
api_try() {
  local method=$1 url=$2 data=${3:-} mv=${4:-} out code args
  args=(-sS --max-time 120 -X "$method" -H "X-Auth-Token: $TOKEN" -H 'Accept: application/json'
    -w '\n%{http_code}')
  [[ -n $mv ]] && args+=(-H "OpenStack-API-Version: compute $mv" -H "X-OpenStack-Nova-API-Version: $mv")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  out=$(curl "${args[@]}" "$url" 2>&1) || { printf 'HTTP 000: %s' "$out"; return 1; }
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [[ $code -ge 400 ]]; then printf 'HTTP %s: %s' "$code" "$out"; return 1; fi
  printf '%s' "$out"
}
# api METHOD URL [JSON] [MICROVERSION]: like api_try, but dies on failure.
api() {
  local out
  out=$(api_try "$@") || die "$1 $2 failed: $out"
  printf '%s' "$out"
}

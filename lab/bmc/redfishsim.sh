#!/usr/bin/env bash
# Simulated Redfish BMCs: one redfish_bmc.py process per BMC (Python standard library only),
# HTTP or HTTPS with a self-signed certificate made for it. Used by the lab and by the driver
# tests (tests/drivers/redfish_bmc_fixture.cc).
#
#   redfishsim.sh start NAME [PORT] [--tls] [--systems ID,ID...]
#                                   start a BMC on 127.0.0.1:PORT (default 0: any free port),
#                                   wait until it answers, print "PID PORT"
#   redfishsim.sh stop NAME | stop-all
#   redfishsim.sh power NAME SYSTEM On|Off    behind the fencer's back (runs the hook)
#   redfishsim.sh mode NAME MODE    normal | fail | stuck | hang | garbage | refuse-redundant |
#                                   slow:N (see redfish_bmc.py)
#   redfishsim.sh hook NAME [COMMAND]         run COMMAND on every power change (none: remove)
#   redfishsim.sh freeze NAME | thaw NAME     SIGSTOP / SIGCONT the server
#   redfishsim.sh status [NAME...]
#   redfishsim.sh url NAME          the base URL; with TLS its CA is NAME's dir/tls/cert.pem
#
# Environment: BMC_RUN_DIR (default $FDR_LAB_STATE/bmc, or /var/tmp/freezer-dr-lab/bmc; shared
# with bmcsim.sh), BMC_USER / BMC_PASSWORD (admin / password), BMC_START_TIMEOUT (10 s).
# Files in $BMC_RUN_DIR/NAME: see redfish_bmc.py, plus server.pid ("PID PGID STARTTIME", as in
# lab/lib.sh), port, server.log, password (0600), tls/cert.pem and tls/key.pem.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run_dir=${BMC_RUN_DIR:-${FDR_LAB_STATE:-/var/tmp/freezer-dr-lab}/bmc}

die() { printf 'redfishsim: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '5,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

bmc_dir() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad BMC name '$1'"
  printf '%s/%s' "$run_dir" "$1"
}

proc_field() {  # proc_field PID N: field N of /proc/PID/stat
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  read -r -a fields <<<"${stat##*) }"
  printf '%s' "${fields[$2 - 3]}"
}

running() {  # running DIR: the recorded server exists (same start time) and is not a zombie
  local f=$1/server.pid pid _pgid st cur state
  [[ -s $f ]] || return 1
  read -r pid _pgid st <"$f" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cur=$(proc_field "$pid" 22) || return 1
  [[ $cur == "$st" ]] || return 1
  state=$(proc_field "$pid" 3) || return 1
  [[ $state != Z && $state != X ]]
}
pid_of() { local pid _r; read -r pid _r <"$1/server.pid"; printf '%s' "$pid"; }

base_url() {
  local d=$1 scheme=http
  [[ -e $d/tls/cert.pem ]] && scheme=https
  printf '%s://127.0.0.1:%s' "$scheme" "$(cat "$d/port")"
}

answers() {  # answers DIR: the service root comes back
  local d=$1 args=(-sf --max-time 2 -o /dev/null)
  [[ -s $d/port ]] || return 1
  [[ -e $d/tls/cert.pem ]] && args+=(--cacert "$d/tls/cert.pem")
  curl "${args[@]}" "$(base_url "$d")/redfish/v1"
}

cmd_start() {
  (($# >= 1)) || usage
  local name=$1 port=0 tls=0 systems=1 d
  shift
  if (($#)) && [[ $1 =~ ^[0-9]+$ ]]; then port=$1; shift; fi
  while (($#)); do
    case $1 in
      --tls) tls=1; shift ;;
      --systems) systems=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  d=$(bmc_dir "$name")
  if running "$d"; then die "$name already runs (pid $(pid_of "$d"))"; fi
  mkdir -p "$d"
  chmod 700 "$d"
  rm -rf "$d/systems" "$d/port" "$d/tls"
  printf 'normal\n' >"$d/mode"
  : >"$d/log"
  (umask 077 && printf '%s' "${BMC_PASSWORD:-password}" >"$d/password")
  local args=(--listen "127.0.0.1:$port" --dir "$d" --systems "$systems"
    --user "${BMC_USER:-admin}" --password-file "$d/password" --port-file "$d/port")
  if ((tls)); then
    mkdir -p "$d/tls"
    # Its own CA: a self-signed certificate for 127.0.0.1 that is also the trust anchor.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj "/CN=127.0.0.1/O=freezer-dr lab BMC $name" \
      -addext "subjectAltName=IP:127.0.0.1" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,digitalSignature,keyCertSign" \
      -keyout "$d/tls/key.pem" -out "$d/tls/cert.pem" >/dev/null 2>&1 ||
      die "$name: openssl could not make a certificate"
    args+=(--tls-cert "$d/tls/cert.pem" --tls-key "$d/tls/key.pem")
  fi
  setsid /usr/bin/python3 "$here/redfish_bmc.py" "${args[@]}" </dev/null >>"$d/server.log" 2>&1 &
  local pid=$! st
  st=$(proc_field "$pid" 22) || die "$name: the server exited at once; see $d/server.log"
  printf '%s %s %s\n' "$pid" "$pid" "$st" >"$d/server.pid"
  local deadline=$((SECONDS + ${BMC_START_TIMEOUT:-10}))
  until answers "$d"; do
    running "$d" || die "$name: the server died; see $d/server.log"
    if ((SECONDS >= deadline)); then
      cmd_stop "$name" || true
      die "$name: not answering after ${BMC_START_TIMEOUT:-10}s; see $d/server.log"
    fi
    sleep 0.05
  done
  printf '%s %s\n' "$pid" "$(cat "$d/port")"
}

cmd_stop() {
  (($# == 1)) || usage
  local d pid
  d=$(bmc_dir "$1")
  [[ -e $d/server.pid ]] || return 0
  if running "$d"; then
    pid=$(pid_of "$d")
    kill -TERM -- "-$pid" 2>/dev/null || true
    kill -CONT -- "-$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    while running "$d"; do
      if ((SECONDS >= deadline)); then
        kill -KILL -- "-$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
      fi
      sleep 0.05
    done
  fi
  rm -f "$d/server.pid"
}

cmd_stop_all() {
  local f
  for f in "$run_dir"/*/server.pid; do
    [[ -e $f ]] || continue
    cmd_stop "$(basename "$(dirname "$f")")"
  done
}

cmd_power() {
  (($# == 3)) || usage
  [[ $3 == On || $3 == Off ]] || die "power must be On or Off"
  local d sys previous hook
  d=$(bmc_dir "$1")
  sys=$d/systems/$2
  [[ -d $sys ]] || die "$1 has no system $2"
  previous=$(cat "$sys/power" 2>/dev/null || echo On)
  printf '%s\n' "$3" >"$sys/power.tmp" && mv -f "$sys/power.tmp" "$sys/power"
  if [[ -s $d/hook ]]; then
    hook=$(cat "$d/hook")
    BMC_NAME=$1 BMC_DIR=$d BMC_SYSTEM=$2 BMC_POWER=${3,,} BMC_PREVIOUS_POWER=${previous,,} \
      bash -c "$hook" redfish-hook "${3,,}" </dev/null >>"$d/hook.log" 2>&1 || true
  fi
}

cmd_mode() {
  (($# == 2)) || usage
  [[ $2 =~ ^(normal|fail|stuck|hang|garbage|refuse-redundant|slow:[0-9]+(\.[0-9]+)?)$ ]] ||
    die "bad mode '$2'"
  local d
  d=$(bmc_dir "$1")
  [[ -d $d ]] || die "no BMC $1"
  printf '%s\n' "$2" >"$d/mode.tmp" && mv -f "$d/mode.tmp" "$d/mode"
}

cmd_hook() {
  (($# == 1 || $# == 2)) || usage
  local d
  d=$(bmc_dir "$1")
  [[ -d $d ]] || die "no BMC $1"
  if (($# == 2)) && [[ -n $2 ]]; then printf '%s\n' "$2" >"$d/hook"; else rm -f "$d/hook"; fi
}

cmd_signal() {
  local d
  d=$(bmc_dir "$2")
  running "$d" || die "$2 is not running"
  kill "-$1" "$(pid_of "$d")"
}

cmd_status() {
  local names=("$@") n d state s
  if ((${#names[@]} == 0)); then
    for d in "$run_dir"/*/server.pid "$run_dir"/*/port; do
      [[ -e $d ]] && names+=("$(basename "$(dirname "$d")")")
    done
    mapfile -t names < <(printf '%s\n' "${names[@]}" | sort -u | sed '/^$/d')
  fi
  for n in "${names[@]}"; do
    d=$(bmc_dir "$n")
    [[ -e $d/port ]] || { printf '%s unknown\n' "$n"; continue; }
    state=stopped
    if running "$d"; then
      state=running
      [[ $(proc_field "$(pid_of "$d")" 3) == T ]] && state=frozen
    fi
    printf '%s %s %s mode=%s' "$n" "$(base_url "$d")" "$state" "$(cat "$d/mode")"
    for s in "$d"/systems/*/power; do
      [[ -e $s ]] && printf ' %s=%s' "$(basename "$(dirname "$s")")" "$(cat "$s")"
    done
    printf '\n'
  done
}

(($# >= 1)) || usage
cmd=$1
shift
case $cmd in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  stop-all) cmd_stop_all ;;
  power) cmd_power "$@" ;;
  mode) cmd_mode "$@" ;;
  hook) cmd_hook "$@" ;;
  freeze) (($# == 1)) || usage; cmd_signal STOP "$1" ;;
  thaw) (($# == 1)) || usage; cmd_signal CONT "$1" ;;
  status | list) cmd_status "$@" ;;
  url) (($# == 1)) || usage; base_url "$(bmc_dir "$1")"; printf '\n' ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# Chassis control program of one simulated BMC (OpenIPMI ipmi_sim, `chassis_control` in lan.conf).
#
# ipmi_sim runs it through popen(), synchronously, as
#   bmc-chassis.sh DIR get power [PARAM...]   -> prints "power:1" or "power:0" (one line a param)
#   bmc-chassis.sh DIR set power 0|1          -> switches the simulated power
# A non-zero exit makes ipmi_sim answer the IPMI command with completion code 0xff. ipmi_sim is
# single-threaded: while this script runs, that BMC answers nothing else.
#
# The BMC's state lives in DIR (written by bmcsim.sh):
#   power   "1" or "0"
#   mode    normal      - works
#           fail        - every command fails (completion code 0xff)
#           refuse-off  - power-off fails (0xff); status and power-on work
#           stuck       - power-off is accepted but the power stays on
#           hang        - blocks (the whole BMC stops answering) until the mode changes
#           slow:N      - every command takes N more seconds
#   hook    optional: a shell command run after every `set power`, as
#           `bash -c "$(cat DIR/hook)" bmc-hook on|off`, with BMC_NAME, BMC_DIR, BMC_POWER
#           (on|off) and BMC_PREVIOUS_POWER in its environment; its output goes to DIR/hook.log
#           and its exit status is only logged. It runs inside the BMC, so it must be quick and
#           idempotent (the lab uses it to kill a fake compute host's processes on power-off).
#   log     one line per call
#
# BMC_FORCE=1 in the environment ignores the mode (bmcsim.sh `power` uses it).
set -u
dir=${1:?usage: bmc-chassis.sh DIR get|set ...}
shift
verb=${1:-}
shift || true

log() { printf '%s %s\n' "$(date '+%F %T.%3N')" "$*" >>"$dir/log"; }
mode() { local m=normal; [[ -r $dir/mode ]] && read -r m <"$dir/mode"; printf '%s' "${m:-normal}"; }
power() { local p=1; [[ -r $dir/power ]] && read -r p <"$dir/power"; printf '%s' "${p:-1}"; }
word() { [[ $1 == 1 ]] && printf on || printf off; }

m=normal
[[ ${BMC_FORCE:-0} == 1 ]] || m=$(mode)
case $m in
  fail)
    log "$verb $* -> fail (mode fail)"
    exit 1
    ;;
  hang)
    log "$verb $* -> hanging (mode hang)"
    while [[ $(mode) == hang ]]; do sleep 0.1; done
    log "$verb $* -> resumed (mode $(mode))"
    m=$(mode)
    ;;
  slow:*)
    log "$verb $* -> slow ${m#slow:}s"
    sleep "${m#slow:}"
    ;;
esac

case $verb in
  get)
    for param in "$@"; do
      case $param in
        power) printf 'power:%s\n' "$(power)" ;;
        *) ;;  # boot and others: not simulated
      esac
    done
    log "get $* -> power $(power)"
    ;;
  set)
    while (($# >= 2)); do
      param=$1 value=$2
      shift 2
      [[ $param == power ]] || continue
      [[ $value == 0 || $value == 1 ]] || { log "set power $value -> refused (bad value)"; exit 1; }
      if [[ $value == 0 && $m == refuse-off ]]; then
        log "set power 0 -> refused (mode refuse-off)"
        exit 1
      fi
      if [[ $value == 0 && $m == stuck ]]; then
        log "set power 0 -> accepted, stays on (mode stuck)"
        continue
      fi
      previous=$(power)
      printf '%s\n' "$value" >"$dir/power.tmp" && mv -f "$dir/power.tmp" "$dir/power"
      log "set power $value (was $previous)"
      if [[ -s $dir/hook ]]; then
        BMC_NAME=$(basename "$dir") BMC_DIR=$dir BMC_POWER=$(word "$value") \
          BMC_PREVIOUS_POWER=$(word "$previous") \
          bash -c "$(cat "$dir/hook")" bmc-hook "$(word "$value")" </dev/null >>"$dir/hook.log" 2>&1
        log "hook $(word "$value") exited $?"
      fi
    done
    ;;
  *)
    log "unknown request: $verb $*"
    exit 1
    ;;
esac
exit 0

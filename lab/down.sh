#!/usr/bin/env bash
# Stop every process the lab started, by the pid/pgid in $FDR_LAB_STATE/run/*.pid (TERM the
# process group, KILL after a bounded wait). Never kills by name.
#   lab/down.sh            stop; state (DBs, configs, keys, images) is kept for the next up.sh
#   lab/down.sh --purge    stop, then remove the state dir (the MariaDB datadir with every DB,
#                          RabbitMQ mnesia, Glance images, logs)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

purge=0
for a in "$@"; do
  case $a in
    --purge) purge=1 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) die "unknown argument $a" ;;
  esac
done
t0=$(now)
if [[ -d $RUN ]]; then
  computes=() others=()
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    n=$(basename "$f" .pid)
    case $n in
      nova-compute-*) computes+=("$n") ;;
      mariadb | rabbitmq | epmd | keystone | glance | placement | neutron | nova-api | nova-conductor | nova-scheduler) ;;
      mariadbd | rabbitmq-beam) continue ;; # written by the daemons themselves
      *) others+=("$n") ;;
    esac
  done
  # tiers, each stopped in parallel: computes + nova services, then the APIs, then the backends
  stop_procs --kill-after 30 "${computes[@]}" nova-conductor nova-scheduler "${others[@]}"
  stop_procs --kill-after 30 nova-api neutron placement glance keystone
  stop_procs --kill-after 60 rabbitmq mariadb
  stop_procs --kill-after 10 epmd
fi
# the BMCs of the fake hosts (lab/wire.sh): stopping one never runs its power hook
"$LAB_DIR/bmc/bmcsim.sh" stop-all
# packets to crashed hosts' addresses flow again (lab/lib.sh blackhole_host)
remove_lab_chain
if ((purge)); then
  case $S in
    / | /var | /var/tmp | /tmp | "$HOME" | "") die "refusing to purge state dir '$S'" ;;
  esac
  rm -rf -- "$S"
  log "purged $S"
fi
log "lab down in $(elapsed "$t0")s"

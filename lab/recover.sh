#!/usr/bin/env bash
# One recovery on the lab, for real: boot servers on a fake host, start freezer-dr as a daemon
# (the config lab/wire.sh generated, a fresh journal), crash the host, and follow the recovery
# step by step with timings from the kill. Used by scripts/demo.sh and bench/lab_recovery.sh.
#
#   lab/recover.sh [--host fake-host-N] [--servers N] [--json FILE] [--quiet] [--restore]
#     --host      the host to crash (default fake-host-2)
#     --servers   servers to boot on it, split between the projects demo and other (default 6)
#     --json      append the run's timings (seconds from the kill) as one JSON line to FILE
#     --quiet     print only the summary line
#     --restore   bring the host back afterwards (power on, wait for nova-compute, enable)
# Environment: FDR_BINARY (default build/src/app/freezer-dr of this checkout).
# The run's folder (config, journal, daemon log) is printed; the daemon is stopped at the end.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

victim=fake-host-2 servers=6 json_out='' quiet=0 restore=0
while (($#)); do
  case $1 in
    --host) victim=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --restore) restore=1; shift ;;
    *) sed -n '5,12p' "$0" >&2; exit 2 ;;
  esac
done
[[ $victim =~ ^[0-9]+$ ]] && victim=$(host_name "$victim")
bin=${FDR_BINARY:-$(cd "$LAB_DIR/.." && pwd)/build/src/app/freezer-dr}
[[ -x $bin ]] || die "freezer-dr binary not found at $bin (build it, or set FDR_BINARY)"
[[ -f $S/wiring.env ]] || die "the lab is not wired for freezer-dr: run lab/up.sh"
# shellcheck disable=SC1091
source "$S/wiring.env"
say() { ((quiet)) || printf '%s\n' "$*"; }
ms() { date +%s%3N; }

# 1. every host in service, old servers of this script gone
for h in $(tr , ' ' <<<"$(grep -m1 '^FDR_LAB_HOST_NAMES=' "$S/lab.env" | cut -d= -f2)"); do
  if ! "$LAB_DIR/host.sh" status "$h" >/dev/null 2>&1; then
    say "restoring $h (left down by an earlier run)"
    "$LAB_DIR/host.sh" restore "$h" 2>/dev/null
  fi
done
ks_admin
for h in $(api GET "$NOVA_URL/os-services?binary=nova-compute" "" 2.53 |
  jq -r '.services[] | select(.forced_down or .status != "enabled") | .host'); do
  say "restoring $h (forced down or disabled)"
  "$LAB_DIR/host.sh" restore "$h" 2>/dev/null
done
"$LAB_DIR/servers.sh" delete fdr-recover 2>/dev/null
half=$((servers / 2))
say "booting $servers servers on $victim ($((servers - half)) in project demo, $half in project other)"
"$LAB_DIR/servers.sh" boot "$victim" demo fdr-recover $((servers - half)) 2>/dev/null
((half > 0)) && "$LAB_DIR/servers.sh" boot "$victim" other fdr-recover "$half" 2>/dev/null

# 2. the daemon, with its own journal
run=$FDR_LAB_FDR_DIR/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
sed "s|^journal = .*|journal = $run/journal.db|" "$FDR_LAB_FDR_CONFIG" >"$run/freezer-dr.conf"
chmod 600 "$run/freezer-dr.conf"
mail_before=$(find "$FDR_LAB_MAIL_DIR" -name '*.json' | wc -l)
"$bin" --config-file "$run/freezer-dr.conf" run >"$run/daemon.log" 2>&1 &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true' EXIT
watching() { grep -q watching "$run/daemon.log"; }
wait_until "freezer-dr watching" "" 60 watching
say "freezer-dr runs as a daemon (pid $daemon), watching every host; folder $run"

# 3. the crash, then the recovery as the journal records it
t0=$(ms)
"$LAB_DIR/host.sh" kill "$victim" 2>/dev/null
say "$(date +%T) crashed $victim: packets to its addresses dropped, nova-compute killed (its BMC still reads power on)"
status_json() { "$bin" --config-file "$run/freezer-dr.conf" status --json 2>/dev/null; }
incident() { jq -c --arg h "$victim" '[(.open + .recent)[] | select(.node == $h)][0] // empty'; }
at() { # at MS -> "+S.SSs" from the kill
  awk -v t="$1" -v z="$t0" 'BEGIN { printf "+%6.2fs", (t - z) / 1000 }'
}
# Each milestone is printed once, at the time the journal gives it (not the time it was seen).
declare -A shown=()
milestone() { # KEY MS TEXT
  [[ -n ${shown[$1]:-} || $2 == null || -z $2 ]] && return 0
  shown[$1]=1
  say "$(at "$2")  $3"
}
deadline=$((SECONDS + 300)) inc='' phase=''
while ((SECONDS < deadline)); do
  inc=$(status_json | incident || true)
  if [[ -n $inc ]]; then
    phase=$(jq -r .phase <<<"$inc")
    milestone detected "$(jq .detected_at <<<"$inc")" \
      "failure confirmed by 2 sources (probe/mgmt, probe/storage): incident opened, fencing through IPMI"
    milestone fenced "$(jq .fenced_at <<<"$inc")" "power-off confirmed: $victim's BMC reads off"
    milestone down "$(jq .compute_down_at <<<"$inc")" \
      "Nova compute service of $victim forced down, then disabled"
    milestone requested "$(jq '(.instances | length) as $n | [.instances[].requested_at // empty] | if $n > 0 and length == $n then max else null end' <<<"$inc")" \
      "evacuation of $(jq '.instances | length' <<<"$inc") instance(s) requested from Nova"
    while IFS=$'\t' read -r t name host; do
      [[ -n $t ]] && milestone "vm-$name" "$t" "$name ACTIVE on $host"
    done < <(jq -r '.instances[] | select(.phase == "done") | [.finished_at, .name, .new_host] | @tsv' <<<"$inc" | sort -n)
    case $phase in
      done | partial | fence-failed | recovery-stuck)
        milestone closed "$(jq .closed_at <<<"$inc")" "incident $phase"
        break
        ;;
    esac
  fi
  sleep 0.2  # poll interval of the display, not a wait for an outcome
done
[[ -n $inc ]] || die "no incident for $victim within 300 s; see $run/daemon.log"

# 4. the summary, from the journal's own timestamps
summary=$(jq -c --argjson t0 "$t0" '
  def s(x): if x == null then null else ((x - $t0) / 1000 * 100 | round / 100) end;
  {phase, servers: (.instances | length),
   detected_s: s(.detected_at), fenced_s: s(.fenced_at), compute_down_s: s(.compute_down_at),
   last_evacuation_requested_s: s([.instances[].requested_at // empty] | max),
   all_active_s: s(if all(.instances[]; .phase == "done") then ([.instances[].finished_at] | max) else null end)}' <<<"$inc")
[[ -n $json_out ]] && printf '%s\n' "$summary" >>"$json_out"
# the outbox delivers the last messages just after the incident closes
outbox_empty() { [[ $(status_json | jq '.undelivered_notifications | length') == 0 ]]; }
wait_until "notifications delivered" "" 60 outbox_empty
kill -TERM "$daemon" 2>/dev/null || true
wait "$daemon" 2>/dev/null || true
trap - EXIT
if ((quiet)); then
  echo "$summary"
else
  say ""
  say "$(jq -r '"kill -> confirmed \(.detected_s)s -> fenced \(.fenced_s)s -> forced down \(.compute_down_s)s -> last evacuation requested \(.last_evacuation_requested_s)s -> every server ACTIVE \(.all_active_s)s (\(.servers) servers, phase \(.phase))"' <<<"$summary")"
  say ""
  say "mail captured during the run ($FDR_LAB_MAIL_DIR):"
  find "$FDR_LAB_MAIL_DIR" -name '*.json' | sort | tail -n +$((mail_before + 1)) | while read -r f; do
    jq -r '"  to \(.rcpt_tos | join(", ")): \(.parsed.headers.Subject[0])"' "$f"
  done
fi
echo "RUN_DIR=$run"
if ((restore)); then "$LAB_DIR/host.sh" restore "$victim" 2>/dev/null; fi
[[ $(jq -r .phase <<<"$inc") == "done" ]]

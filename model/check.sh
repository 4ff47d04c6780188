#!/usr/bin/env bash
# Checks the Promela model of the controller HA protocol (model/controller_ha.pml; what it
# models and assumes: docs/ha-model.md) with Spin: an exhaustive search of the correct model
# must find no error, and each deliberately broken variant must find one (an error trail).
#
#   model/check.sh                      the correct model, then every broken variant
#   model/check.sh --variant NAME       one run, and, when it finds an error, its trail replayed
#                                       (the model's own narrative; --verbose: every step)
#   model/check.sh --list               the runs and what each one shows
#   model/check.sh [...] -DMAX_TERMS=4  extra -D definitions go to every run (spin -a)
#
# Environment: SPIN (default spin), CC (default cc), MODEL_MEMLIM_MB (default 2048: pan's
# memory bound; a run that reaches it fails, it is not a result), PAN_CFLAGS (more flags for
# compiling pan, e.g. -DCOLLAPSE for a bigger search). Every run is one pan process: one core.
# Exit status: 0 when every run gave its expected answer, 1 otherwise, 2 on a usage error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
model="$here/controller_ha.pml"
spin="${SPIN:-spin}"
cc="${CC:-cc}"
memlim="${MODEL_MEMLIM_MB:-2048}"
read -r -a pan_cflags <<<"${PAN_CFLAGS:-}"
# pan's depth bound: far above what the model reaches (~170 steps). Not a bound of the search
# in practice: if it ever were, pan would say "max search depth too small" and the run fails.
depth=10000

# name | spin definitions | expected answer | the property it must break | what it shows
# A run that must pass searches depth-first, compiled -O2. A run that must fail searches
# breadth-first (-DBFS, compiled -O0: it stops at the first error), so that its trail is a
# shortest one; except the non-vacuity probe ("reach"), whose error lies deep: depth-first.
runs=(
  "correct||pass||the protocol: P1-P4 hold in every reachable state, no run gets stuck, every step reached"
  "NO_TERM_CHECK|-DNO_TERM_CHECK|fail|P3|journal writes not conditioned on the term: a deposed leader's write lands"
  "NO_TERM_CHECK_P1|-DNO_TERM_CHECK -DSKIP_P3|fail|P1c|the same, P3 left unchecked: a side effect whose journal record a stale write overwrote"
  "NO_LEASE_CHECK|-DNO_LEASE_CHECK|fail|P1b|side effects not gated on the lease: a deposed leader acts"
  "NO_REJOURNAL|-DNO_REJOURNAL|fail|P1a|a takeover re-issues a loaded power-off without journaling it in its own term"
  "NO_SHOW_BEFORE_RETRY|-DNO_SHOW_BEFORE_RETRY -DNO_NOVA_GUARD|fail|P2|a takeover re-sends without a show, Nova without its guard: double evacuation"
  "NO_NOVA_GUARD|-DNO_NOVA_GUARD|fail|P2|Nova without its guard, the show kept: double evacuation (a request still in flight)"
  "REACH_RESENT_DONE|-DREACH_RESENT_DONE|reach|REACH|non-vacuity: a takeover re-sends, Nova refuses the duplicate, the incident closes"
)
# Not in the default set (about as long as the correct model): --variant NAME.
optional=(
  "NOVA_GUARD_ONLY|-DNO_SHOW_BEFORE_RETRY|pass||no show before a re-send, Nova's guard kept: still safe (Nova refuses the duplicate)"
)

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

variant=""
verbose=0
extra=()
while (($#)); do
  case "$1" in
    --variant) (($# >= 2)) || { usage >&2; exit 2; }; variant="$2"; shift 2 ;;
    --verbose) verbose=1; shift ;;
    --list)
      for r in "${runs[@]}" "${optional[@]}"; do
        IFS='|' read -r name defs expect breaks what <<<"$r"
        printf '%-22s %-16s %s\n' "$name" "$([[ $expect == pass ]] && echo "must pass" || echo "must break $breaks")" "$what"
      done
      exit 0 ;;
    -D*) extra+=("$1"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

command -v "$spin" >/dev/null || { echo "check.sh: $spin not found" >&2; exit 1; }
command -v "$cc" >/dev/null || { echo "check.sh: C compiler $cc not found" >&2; exit 1; }

selected=()
if [[ -n "$variant" ]]; then
  for r in "${runs[@]}" "${optional[@]}"; do
    [[ "${r%%|*}" == "$variant" ]] && selected+=("$r")
  done
  if ((${#selected[@]} == 0)); then
    echo "check.sh: no run named $variant (model/check.sh --list)" >&2
    exit 2
  fi
else
  selected=("${runs[@]}")
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/fdr-model.XXXXXX")"
trap 'rm -rf "$work"' EXIT

max_terms="$(sed -n 's/^#define MAX_TERMS \([0-9]*\).*/\1/p' "$model")"
nc="$(sed -n 's/^#define NC \([0-9]*\).*/\1/p' "$model")"
for d in "${extra[@]}"; do
  case "$d" in -DMAX_TERMS=*) max_terms="${d#-DMAX_TERMS=}" ;; -DNC=*) nc="${d#-DNC=}" ;; esac
done
echo "$("$spin" -V | head -1); $("$cc" --version | head -1)"
echo "bounds: $nc controllers, 2 instances, at most $max_terms terms per run (MAX_TERMS);" \
     "pan -m$depth (depth bound, not reached), -DMEMLIM=$memlim MB; exhaustive (no bitstate)"
echo

failed=0
total_start=$SECONDS
for r in "${selected[@]}"; do
  IFS='|' read -r name defs expect breaks what <<<"$r"
  dir="$work/$name"
  mkdir -p "$dir"
  cp "$model" "$dir/controller_ha.pml"
  # shellcheck disable=SC2206  # the definitions are words
  defines=($defs "${extra[@]}")
  start=$SECONDS
  # pan's exit status says nothing about the result; its report does.
  case "$expect" in
    pass) opt="-O2" ;;
    reach) opt="-O0" ;;
    *) opt="-O0 -DBFS" ;;
  esac
  (
    cd "$dir" &&
      "$spin" -a "${defines[@]}" controller_ha.pml >spin.log 2>&1 &&
      "$cc" $opt -w -DSAFETY -DMEMLIM="$memlim" "${pan_cflags[@]}" -o pan pan.c >cc.log 2>&1 &&
      { ./pan -m"$depth" >pan.log 2>&1 || true; }
  ) || { echo "FAIL $name: spin -a or the C compiler failed:"; cat "$dir"/spin.log "$dir"/cc.log 2>/dev/null | tail -20; failed=1; continue; }
  log="$dir/pan.log"
  errors="$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | head -1)"
  stored="$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" | head -1)"
  reached="$(sed -n 's/.*depth reached \([0-9]*\),.*/\1/p' "$log" | head -1)"
  elapsed="$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) .*/\1/p' "$log" | head -1)"
  memory="$(sed -n 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p' "$log" | head -1)"
  summary="${stored:-?} states stored, depth ${reached:-?}, ${memory:-?} MB, pan ${elapsed:-?} s"
  summary+=", $((SECONDS - start)) s with compiling"
  truncated=""
  grep -q "max search depth too small" "$log" && truncated="the depth bound -m$depth was reached"
  grep -q "reached -DMEMLIM bound" "$log" && truncated="pan ran out of memory (-DMEMLIM=$memlim)"
  [[ -z "$errors" ]] && truncated="no result in pan's report"

  property=""
  where=""
  if [[ -n "$errors" && "$errors" != 0 ]]; then
    # Which property: replay the trail for the source line of the failed assertion, whose
    # comment names it ("/* P1c: ... */").
    where="$(cd "$dir" && "$spin" -t "${defines[@]}" controller_ha.pml 2>&1 |
             sed -n 's/^spin: controller_ha\.pml:\([0-9]*\), Error: \(.*\)/\1 \2/p' | head -1)"
    if [[ -n "$where" ]]; then
      property="$(sed -n "${where%% *}p" "$model" | sed -n 's|.*/\* *\([^*]*\) \*/.*|\1|p')"
    fi
  fi

  # A passing run must also have reached every statement of the controllers, the lease, Nova
  # and init (pan's "unreached" report, the processes' final "-end-" aside): no step of the
  # protocol is dead code that would pass vacuously. (The monitor's assertions are unreached
  # exactly when no invariant breaks.)
  dead="$(awk '/^unreached in (proctype|init)/ { p = ($0 !~ /Monitor/); next }
               /^[^ \t]/ { p = 0 }
               p && /state [0-9]+,/ && !/"-end-"/' "$log")"

  ok=0
  if [[ "$expect" == pass ]]; then
    if [[ -z "$truncated" && "$errors" == 0 && -z "$dead" ]] && ! grep -q "Search not completed" "$log"; then
      ok=1
    fi
  else
    # It must fail, and for the expected reason (not a deadlock or another property).
    [[ -n "$errors" && "$errors" != 0 && "$property" == "$breaks:"* ]] && ok=1
  fi
  verdict="$([[ $ok == 1 ]] && echo ok || echo FAIL)"
  echo "$verdict $name ($([[ $expect == pass ]] && echo "must pass" || echo "must break $breaks"): $what)"
  echo "     errors: ${errors:-?}; $summary${truncated:+; INCOMPLETE: $truncated}"
  if [[ -n "$errors" && "$errors" != 0 ]]; then
    if [[ -n "$where" ]]; then
      echo "     violated: ${property:-?} (controller_ha.pml:${where%% *}, ${where#* })"
    else
      grep -m1 -E "^pan:1: " "$log" | sed 's/^/     /' | cut -c1-200
    fi
  fi
  if [[ -n "$dead" && "$expect" == pass ]]; then
    echo "     unreached statements (dead code in the model):"
    echo "$dead" | sed 's/^[[:space:]]*/     | /'
  fi
  if [[ $ok == 0 ]]; then
    failed=1
    sed 's/^/     | /' "$log" | head -40
  fi
  if [[ -n "$variant" && -n "$errors" && "$errors" != 0 && -f "$dir/controller_ha.pml.trail" ]]; then
    echo
    if ((verbose)); then
      echo "--- the error trail (spin -t -p -g): every step, and the globals it changed ---"
      (cd "$dir" && "$spin" -t -p -g "${defines[@]}" controller_ha.pml) || true
    else
      echo "--- the error trail (spin -T -t: the model's narrative, up to the violation) ---"
      (cd "$dir" && "$spin" -T -t "${defines[@]}" controller_ha.pml) |
        sed -n '1,/^spin: trail ends/p' || true
    fi
  fi
done

echo
echo "$(( SECONDS - total_start )) s in all"
if ((failed)); then
  echo "model check: FAILED"
  exit 1
fi
echo "model check: every run gave its expected answer"

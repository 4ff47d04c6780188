#!/usr/bin/env bash
# Servers for the demo and the benchmark (admin works in the tenants' projects):
#   lab/servers.sh boot HOST PROJECT PREFIX COUNT   boot COUNT servers PREFIX-PROJECT-i pinned to
#                                                   HOST in PROJECT; wait until all are ACTIVE
#   lab/servers.sh list PREFIX                      name, status, host, project of each server
#   lab/servers.sh wait-active PREFIX HOST SECONDS  wait until every server is ACTIVE, not on HOST
#   lab/servers.sh delete PREFIX                    delete them (all projects) and wait until gone
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,8p' "$0" >&2; exit 2; }
(($# >= 2)) || usage
cmd=$1; shift
MV=2.74

list_json() { # $1 prefix -> [{id,name,status,host,project}]
  api GET "$NOVA_URL/servers/detail?all_tenants=1&name=^$1" "" "$MV" |
    jq -c '[.servers[] | {id, name, status, task: .["OS-EXT-STS:task_state"],
      host: .["OS-EXT-SRV-ATTR:host"], project: .tenant_id}]'
}

case $cmd in
  boot)
    (($# == 4)) || usage
    host=$1 project=$2 prefix=$3 count=$4
    ks_auth admin "$FDR_LAB_PASSWORD" "$project"
    # shellcheck disable=SC1091
    source "$S/lab.env"
    ids=()
    for ((i = 1; i <= count; i++)); do
      body=$(jq -nc --arg n "$prefix-$project-$i" --arg img "$FDR_LAB_IMAGE_ID" \
        --arg fl "$FDR_LAB_FLAVOR_ID" --arg az "nova:$host" \
        '{server: {name: $n, imageRef: $img, flavorRef: $fl, availability_zone: $az, networks: "none"}}')
      ids+=("$(api POST "$NOVA_URL/servers" "$body" "$MV" | jq -r .server.id)")
    done
    all_active() {
      local id st
      for id in "${ids[@]}"; do
        st=$(api_try GET "$NOVA_URL/servers/$id" "" "$MV" | jq -r .server.status) || return 1
        [[ $st == ERROR ]] && die "server $id went to ERROR while booting"
        [[ $st == ACTIVE ]] || return 1
      done
    }
    wait_until "$count server(s) ACTIVE on $host" "" "$FDR_LAB_TIMEOUT" all_active
    log "booted $count server(s) $prefix-$project-* on $host"
    ;;
  list)
    ks_admin
    list_json "$1" | jq -r '.[] | [.name, .status, (.task // "-"), .host, .project] | @tsv' | column -t
    ;;
  wait-active)
    (($# == 3)) || usage
    ks_admin
    moved() { list_json "$1" | jq -e --arg h "$2" 'length > 0 and all(.[]; .status == "ACTIVE" and .task == null and .host != $h)' >/dev/null; }
    wait_until "servers $1-* ACTIVE away from $2" "" "$3" moved "$1" "$2"
    ;;
  delete)
    ks_admin
    for id in $(list_json "$1" | jq -r '.[].id'); do
      api_try DELETE "$NOVA_URL/servers/$id" "" "$MV" >/dev/null || log "could not delete $id (already gone?)"
    done
    gone() { [[ $(list_json "$1" | jq length) == 0 ]]; }
    wait_until "servers $1-* deleted" "" "$FDR_LAB_TIMEOUT" gone "$1"
    ;;
  *) usage ;;
esac

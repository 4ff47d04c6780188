#!/usr/bin/env bash
# Installs the Debian packages freezer-dr needs to build and test, idempotently, as root.
# The lists are scripts/deps/*.txt (one package per line, '#' comments); pass list names to
# install only some of them (e.g. `install-deps.sh build`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$@")
if ((${#lists[@]} == 0)); then
  for f in "$here"/deps/*.txt; do lists+=("$(basename "$f" .txt)"); done
fi
packages=()
for list in "${lists[@]}"; do
  file="$here/deps/$list.txt"
  [[ -f $file ]] || { echo "install-deps: no package list $file" >&2; exit 2; }
  while read -r pkg _; do
    [[ -z $pkg || $pkg == \#* ]] && continue
    packages+=("$pkg")
  done <"$file"
done
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Services installed by packages must not start on their own: the project starts what it needs.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

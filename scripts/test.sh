#!/usr/bin/env bash
# Runs every test of freezer-dr on this machine (Debian 12, as root):
#   1. installs the Debian packages the build and the tests need (scripts/install-deps.sh);
#   2. brings up the local OpenStack lab (lab/up.sh) in the background — the integration tests
#      use it — while the code builds;
#   3. builds (warnings are errors) and runs all tests with CTest;
#   4. builds the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer and runs
#      them.
# Environment: FDR_SKIP_LAB=1 skips the lab and the lab tests (for a quick local run only: CI
# always runs everything); FDR_JOBS (default: number of cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${FDR_JOBS:-$(nproc)}
log_dir=${FDR_TEST_LOGS:-$root/build/test-logs}
stamp() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

stamp "installing dependencies"
scripts/install-deps.sh

mkdir -p "$log_dir"
lab_pid=
if [[ ${FDR_SKIP_LAB:-0} != 1 ]]; then
  stamp "starting the OpenStack lab in the background (log: $log_dir/lab-up.log)"
  # The build competes with the lab for the CPU: allow its readiness waits more time.
  FDR_LAB_TIMEOUT=${FDR_LAB_TIMEOUT:-900} lab/up.sh >"$log_dir/lab-up.log" 2>&1 &
  lab_pid=$!
fi

stamp "building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFDR_SANITIZE=OFF >/dev/null
cmake --build build -j "$jobs"

if [[ -n $lab_pid ]]; then
  stamp "waiting for the lab"
  if ! wait "$lab_pid"; then
    tail -n 60 "$log_dir/lab-up.log" >&2
    stamp "the OpenStack lab did not come up (log above)" >&2
    exit 1
  fi
  stamp "lab is up"
fi

exclude=()
[[ ${FDR_SKIP_LAB:-0} == 1 ]] && exclude=(-LE lab)
stamp "running the tests"
(cd build && ctest --output-on-failure -j "$jobs" --timeout 900 "${exclude[@]}")

stamp "building the unit tests with ASan + UBSan (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFDR_SANITIZE=ON -DFDR_BUILD_BENCH=OFF \
  >/dev/null
cmake --build build-asan -j "$jobs" --target core_tests app_tests store_tests clients_tests
stamp "running the unit tests under ASan + UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j "$jobs" --timeout 600 -L unit)
stamp "all tests passed"

#!/usr/bin/env bash
# The test suite on a busy machine: runs the README's test command (scripts/test.sh) several
# times in a row while CPU-burning processes (`sha256sum /dev/zero`) take the cores, as another
# build on a shared CI machine would. Every run must be green.
#
#   scripts/busy-test.sh [RUNS [BURNERS]]     (default: 3 runs, 2 burners)
#
# The burners are stopped however the script ends (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
burners=${2:-2}

pids=()
stop_burners() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_burners EXIT INT TERM

# Build first (not under load: the build is not what is being checked), then start the load.
cargo build --locked --all-targets >/dev/null 2>&1 || cargo build --locked --all-targets
for _ in $(seq 1 "$burners"); do
  sha256sum /dev/zero >/dev/null &
  pids+=($!)
done
echo "busy-test: ${#pids[@]} CPU burners running (pids ${pids[*]}), $(nproc) cores"

failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if bash scripts/test.sh >"target/busy-test-$i.log" 2>&1; then
    result=green
  else
    result=RED
    failed=$((failed + 1))
  fi
  passed=$(grep -h '^test result:' "target/busy-test-$i.log" | awk '{s += $4} END {print s + 0}')
  fails=$(grep -h '^test result:' "target/busy-test-$i.log" | awk '{s += $6} END {print s + 0}')
  echo "busy-test: run $i/$runs $result: $passed passed, $fails failed, $(( $(date +%s) - start )) s (log: target/busy-test-$i.log)"
done
if [ "$failed" -gt 0 ]; then
  echo "busy-test: $failed of $runs runs failed; see the logs above" >&2
  exit 1
fi
echo "busy-test: all $runs runs green under load"

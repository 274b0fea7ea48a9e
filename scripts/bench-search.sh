#!/usr/bin/env bash
# Runs executed and wall time of finding "the highest concurrency with TTFT p99 <= 120 ms" on the
# built-in mock server (max_num_seqs 32: the analytic answer is 32), four ways:
#   1. a 9-point ladder 1, 2, 4, ..., 256, run in full
#   2. the same ladder with stop_when (the points above the first breach are skipped)
#   3. search over 1..1024 at 10% resolution
#   4. the full grid that gives the answer to the same resolution: every integer 1..10, then
#      10% steps up to 1024 (skip it with --no-grid: it takes about 10 minutes)
# Each run is a real aiperf run of 64 requests (at concurrency C > 32 the first C - 32 wait a whole
# service time, ~200 ms, so TTFT p99 breaks 120 ms exactly above 32) plus aiperf's start-up.
# Usage: scripts/bench-search.sh [--no-grid]      (prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
bin="$PWD/target/debug/sweeper"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

base='server: {kind: mock, max_num_seqs: 32, prefill_base_ms: 20, decode_base_ms: 20}
base_config:
  model: mock-model
  tokenizer: "@offline"
  streaming: true
  request_count: 64
  isl: 32
  osl: 10
  no_server_metrics: true
  no_gpu_telemetry: true'
slo='{ttft_p99_ms: 120}'

grid="1"
v=1
while [ "$v" -lt 1024 ]; do
  n=$(( v + v / 10 )); [ "$n" -le "$v" ] && n=$(( v + 1 )); [ "$n" -gt 1024 ] && n=1024
  v=$n; grid="$grid, $v"
done

run() { # name, extra yaml -> "runs seconds answer"
  local name=$1 extra=$2
  printf 'batch_name: %s\noutput_base_dir: %s\n%s\n%s\n' "$name" "$work/out" "$base" "$extra" >"$work/$name.yaml"
  local start=$SECONDS log runs
  log=$("$bin" -c "$work/$name.yaml" 2>&1 || true)
  runs=$(grep -E '^  completed :' <<<"$log" | awk '{print $3}')
  printf '%s %s\n' "$runs" "$(( SECONDS - start ))"
  echo "$log" >"$work/$name.log"
}

answer_ladder() { # the largest concurrency whose TTFT p99 <= 120 in a batch's summary.csv
  local csv
  csv=$(ls "$work"/out/"$1"/*/summary.csv)
  python3 - "$csv" <<'PY'
import csv, sys
best = None
for r in csv.DictReader(open(sys.argv[1])):
    try:
        if float(r["ttft_p99_ms"]) <= 120:
            c = float(r["max_concurrency"]); best = c if best is None or c > best else best
    except ValueError:
        pass
print(int(best) if best is not None else "none")
PY
}

echo "| method | runs | wall time (s) | answer |"
echo "| --- | --- | --- | --- |"
read -r r s < <(run ladder "sweeps:
  concurrency: [1, 2, 4, 8, 16, 32, 64, 128, 256]")
echo "| 9-point ladder, full | $r | $s | $(answer_ladder ladder) |"
read -r r s < <(run ladder_stop "sweeps:
  concurrency: [1, 2, 4, 8, 16, 32, 64, 128, 256]
stop_when:
  dimension: concurrency
  slo: $slo")
echo "| 9-point ladder, stop_when | $r | $s | $(answer_ladder ladder_stop) |"
read -r r s < <(run search "search:
  variable: concurrency
  min: 1
  max: 1024
  slo: $slo
  resolution: 0.1")
ans=$(grep -oE 'largest concurrency under the SLO: [0-9]+' "$work/search.log" | awk '{print $NF}')
echo "| search 1..1024, 10% | $r | $s | $ans |"
if [ "${1:-}" != "--no-grid" ]; then
  read -r r s < <(run grid "sweeps:
  concurrency: [$grid]")
  echo "| full grid 1..1024 at 10% ($(tr ',' '\n' <<<"$grid" | wc -l) points) | $r | $s | $(answer_ladder grid) |"
fi

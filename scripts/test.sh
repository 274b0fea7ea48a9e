#!/usr/bin/env bash
# The test command (README "Run the tests"). Installs what the tests need on a fresh Debian
# machine, then runs the whole suite. The aiperf venv is built by sweeper's own managed-venv code
# (`sweeper setup`; the tests would also build it on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
# tests/kubernetes.rs drives the real kubectl against a test API server.
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "error: the tests need: ${need_apt[*]} (e.g. sudo apt-get install ${need_apt[*]})" >&2
    exit 2
  fi
fi

# A one-node Slurm cluster for tests/slurm.rs (Debian's slurm-wlm and munge; the test starts and
# stops the daemons itself).
if ! command -v sbatch >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: slurm-wlm munge"
  bash scripts/slurm-local.sh install "$(mktemp -d)"
fi

# llama.cpp's llama-server and a tiny model made offline, for tests/llama_cpp.rs: built once per
# version into a cache outside the clone (about 15 minutes on 2 cores the first time).
bash scripts/llama-cpp.sh install >/dev/null

cargo build --locked
./target/debug/sweeper setup
# --no-fail-fast: every test binary runs even when one fails, so one failure hides no other.
cargo test --locked --no-fail-fast "$@"

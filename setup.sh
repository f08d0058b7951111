#!/usr/bin/env bash
# Installs everything LlamaPajamas needs on a Debian 12 machine (as root) and builds it. Idempotent:
# packages already present are not reinstalled, the Python test environment is rebuilt only when
# requirements-test.txt changes, and the build is incremental.
#   ./setup.sh              apt + pip + release build (build/pajamas)
#   ./setup.sh --deps-only  apt + pip only
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  build-essential cmake ninja-build git pkg-config
  clang libclang-rt-14-dev libfuzzer-14-dev          # fuzz targets (libFuzzer) in the test suite
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-venv python3-pip
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python: test tooling and outside judges only (the gguf reader, jinja2), pinned in requirements-test.txt.
stamp=".venv/.requirements-test.sha256"
want=$(sha256sum requirements-test.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
  echo "$want" > "$stamp"
fi

[ "${1:-}" = "--deps-only" ] && exit 0

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPJ_TESTS=OFF > /dev/null
cmake --build build --target pajamas
echo "setup: built build/pajamas"

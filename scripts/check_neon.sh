#!/usr/bin/env bash
# Cross-compiles the kernels (src/core/kernels, with dot_neon.cpp instead of the x86 files) and their
# unit tests (tests/kernels) for AArch64 with Debian's g++-aarch64-linux-gnu, and runs the tests under
# qemu-aarch64: the NEON kernels must compile and agree with the scalar reference (bit for bit where the
# x86 kernels do). Called by scripts/test.sh; setup.sh --deps-only installs the two packages.
#   scripts/check_neon.sh [BUILD_DIR [GTEST_ARGS...]]   (default build-neon)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build-neon}
shift || true
CXX=aarch64-linux-gnu-g++
QEMU=qemu-aarch64
for tool in "$CXX" "$QEMU"; do
  command -v "$tool" >/dev/null || { echo "check_neon: $tool not found (./setup.sh --deps-only installs it)" >&2; exit 1; }
done
GTEST=/usr/src/googletest/googletest
[ -f "$GTEST/src/gtest-all.cc" ] || { echo "check_neon: $GTEST missing (Debian package googletest)" >&2; exit 1; }

mkdir -p "$OUT/obj" "$OUT/include"
# Header-only libraries from the host's /usr/include, without the host's C library headers.
ln -sfn /usr/include/fmt "$OUT/include/fmt"
ln -sfn /usr/include/gtest "$OUT/include/gtest"
# The same flags as CMakeLists.txt gives an AArch64 build (-ffp-contract=off everywhere).
FLAGS=(-std=c++20 -O2 -ffp-contract=off -DFMT_HEADER_ONLY -Wall -Wextra -Wno-unused-parameter
       -Isrc -Itests -isystem "$OUT/include" -I"$GTEST")

srcs=()
for f in src/core/base/*.cpp src/core/kernels/*.cpp tests/kernels/*.cpp; do
  case "$f" in *_avx2.cpp|*_avx512.cpp) continue ;; esac
  srcs+=("$f")
done
srcs+=("$GTEST/src/gtest-all.cc" "$GTEST/src/gtest_main.cc")

compile() {  # source -> object, skipped when the object is newer than the source and every header
  local src=$1 obj=$OUT/obj/$(echo "$1" | tr '/' '_').o
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src tests -name '*.h' -newer "$obj" -print -quit)" ]; then
    "$CXX" "${FLAGS[@]}" -c "$src" -o "$obj"
  fi
}
export -f compile
export CXX OUT
export FLAGS_STR="${FLAGS[*]}"
objs=()
for s in "${srcs[@]}"; do objs+=("$OUT/obj/$(echo "$s" | tr '/' '_').o"); done
# two compilers at a time (the CI machine has 2 cores)
printf '%s\n' "${srcs[@]}" | xargs -P 2 -I{} bash -c 'FLAGS=($FLAGS_STR); compile "$@"' _ {}
"$CXX" -static -pthread -o "$OUT/test_kernels_neon" "${objs[@]}"
# The NEON instances must exist and run (not be skipped): a table that silently fell back to scalar
# would pass every comparison with the scalar reference.
"$QEMU" "$OUT/test_kernels_neon" --gtest_list_tests | grep -q "/neon" || { echo "check_neon: no NEON test instances" >&2; exit 1; }
rc=0
"$QEMU" "$OUT/test_kernels_neon" "$@" > "$OUT/test.log" 2>&1 || rc=$?
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran" "$OUT/test.log" | head -20
if grep -q "SKIPPED.*/neon" "$OUT/test.log"; then echo "check_neon: NEON tests were skipped" >&2; exit 1; fi
exit $rc

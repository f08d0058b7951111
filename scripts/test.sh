#!/usr/bin/env bash
# The whole test suite: unit tests built with AddressSanitizer + UBSan, Python interoperability tests
# against outside implementations, and a bounded fuzzing run of every fuzz target. Ends with one line
# "tests: N passed, N failed" and exits non-zero if anything failed.
#   PJ_FUZZ_SECONDS  seconds per fuzz target (default 30; 0 skips fuzzing)
set -uo pipefail
cd "$(dirname "$0")/.."
./setup.sh --deps-only || exit 1

reports=build-asan/reports
rm -rf "$reports"; mkdir -p "$reports"
jobs=$(nproc)

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPJ_SANITIZE=ON > /dev/null || exit 1
cmake --build build-asan -j "$jobs" || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in build-asan/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  echo "== $name"
  "$t" --gtest_brief=1 --gtest_output="json:$reports/$name.json" > "$reports/$name.log" 2>&1
  rc=$?
  tail -n 30 "$reports/$name.log" | grep -E "FAILED|PASSED|ERROR|Sanitizer|runtime error" || true
  echo "$rc" > "$reports/$name.rc"
done

echo "== test_kernels_neon (AArch64 cross build, run under qemu-aarch64)"
scripts/check_neon.sh build-neon --gtest_output="json:$reports/test_kernels_neon.json" > "$reports/test_kernels_neon.log" 2>&1
echo "$?" > "$reports/test_kernels_neon.rc"
tail -n 30 "$reports/test_kernels_neon.log" | grep -E "FAILED|PASSED|check_neon|error" || true

echo "== python interoperability tests"
PJ_BIN="$PWD/build-asan/pajamas" .venv/bin/python -m pytest -q tests/python \
  --junitxml="$reports/pytest.xml" -p no:cacheprovider 2>&1 | tail -n 15

fuzz_seconds=${PJ_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != "0" ] && ls fuzz/*.cpp > /dev/null 2>&1; then
  echo "== fuzz (${fuzz_seconds}s per target)"
  CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPJ_FUZZ=ON > /dev/null \
    && cmake --build build-fuzz -j "$jobs" --target $(for f in fuzz/*.cpp; do basename "$f" .cpp; done) \
         > "$reports/fuzz-build.log" 2>&1 \
    || { echo "fuzz build failed"; tail -n 40 "$reports/fuzz-build.log"; echo 1 > "$reports/fuzz-build.fuzzrc"; }
  for src in fuzz/*.cpp; do
    name=$(basename "$src" .cpp)
    [ -x "build-fuzz/$name" ] || continue
    work=$(mktemp -d)
    [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
    "build-fuzz/$name" "$work" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$reports/$name-" > "$reports/$name.fuzzlog" 2>&1
    rc=$?
    echo "$rc" > "$reports/$name.fuzzrc"
    echo "$name: exit $rc, $(grep -c . "$reports/$name.fuzzlog") log lines, $(ls "$work" | wc -l) corpus files"
    [ "$rc" -ne 0 ] && tail -n 40 "$reports/$name.fuzzlog"
    rm -rf "$work"
  done
fi

.venv/bin/python scripts/summarize_tests.py "$reports"

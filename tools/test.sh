#!/usr/bin/env bash
# Builds and runs the whole test suite: a Release build (the model tests once per kernel table the
# CPU can run), an ASan+UBSan build, then each libFuzzer target for a short while.
# Usage: bash tools/test.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKOLORS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

# The model, pipeline and CLI tests once more on every other kernel table this CPU can run (the
# run above used the best one), as issue 6 asks; KOLORS_ISA picks the table (src/kernels/select.c,
# whose can_run() these flag tests mirror). tests/kernels compares the tables directly already.
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
isas=(ref)
has avx2 fma f16c && isas+=(avx2)
has avx512f avx512bw avx512vl avx512dq fma f16c && isas+=(avx512)
has avx512f avx512bw avx512vl avx512dq fma f16c avx512_bf16 && isas+=(avx512bf16)
unset 'isas[${#isas[@]}-1]' # the best table: the default run above
for isa in "${isas[@]}"; do
  echo "== kernel table $isa"
  KOLORS_ISA=$isa ctest --test-dir build --output-on-failure -j"$jobs" -E '^(kernels/|io/|core/|cli/bench|cli/mkdemo)'
done

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKOLORS_SANITIZE=ON -DKOLORS_WERROR=ON -DKOLORS_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j"$jobs"

# A short libFuzzer run of every fuzz target (200 000 inputs each; 30 000 for fuzz_tokenize, which
# costs ~1.5 ms an input under ASan; seeded with the hand-made bad
# files in tests/io/corrupt; any crash, leak or sanitizer report fails the run). Fixed seed, fixed
# input count and a fresh corpus make the run repeatable: CI must not fail by chance. Longer
# exploratory runs: see fuzz/CMakeLists.txt. Needs clang (tools/deps.sh).
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DKOLORS_FUZZ=ON -DKOLORS_SANITIZE=ON \
      -DKOLORS_BENCH=OFF >/dev/null
fuzz_targets=(safetensors torchzip pickle json_config image tokenizer_model tokenize)
cmake --build build-fuzz -j"$jobs" --target "${fuzz_targets[@]/#/fuzz_}"
for t in "${fuzz_targets[@]}"; do
  rm -rf "build-fuzz/corpus/$t" && mkdir -p "build-fuzz/corpus/$t"
  runs=200000
  [ "$t" = tokenize ] && runs=30000
  log="build-fuzz/fuzz_$t.log"
  if ! ASAN_OPTIONS=quarantine_size_mb=32 KOLORS_SHARED_DEFAULT="$PWD/../shared" "build-fuzz/fuzz/fuzz_$t" \
       -seed=1 -runs="$runs" -max_len=65536 "build-fuzz/corpus/$t" tests/io/corrupt >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz_$t found a problem (full log: $log)" >&2
    exit 1
  fi
  echo "fuzz_$t: $(tail -n 1 "$log")"
done

#!/usr/bin/env bash
# make fuzz: builds the libFuzzer harnesses (clang, ASan + UBSan) into $BUILD/fuzz and runs each
# for $FUZZ_SECONDS seconds from its seed corpus in tests/fuzz/corpus; a finding stops with the
# crashing input saved there. The harnesses cover the input paths that need no LibTorch: NIfTI
# headers, manifests and Lua option tables.
# usage: run.sh SOURCE_DIR BUILD_DIR SECONDS
set -euo pipefail
source=$1 build=$2 seconds=$3
out=$(realpath -m "$build/fuzz")
mkdir -p "$out"
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$source/core/src" -I"$source/core/include" -I"$source/registry/include" -I/usr/include/lua5.4)
registry=("$source"/registry/src/{component,options,suggest}.cpp)
build_harness() {  # NAME SOURCES... -- LIBS...
  local name=$1
  shift
  local sources=() libs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sources+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  libs=("$@")
  echo "building $name"
  clang++ "${flags[@]}" "$source/tests/fuzz/$name.cpp" "${sources[@]}" "${registry[@]}" "${libs[@]}" -o "$out/$name"
}
build_harness fuzz_nifti "$source/core/src/data/nifti_header.cpp" -- -lz
build_harness fuzz_manifest "$source/core/src/data/manifest.cpp"
build_harness fuzz_lua_options "$source/core/src/lua/convert.cpp" "$source/core/src/lua/limits.cpp" -- -llua5.4-c++
for corpus in nifti manifest lua_options; do
  work=$out/corpus-$corpus
  mkdir -p "$work"
  cp -n "$source/tests/fuzz/corpus/$corpus/"* "$work/"
  echo "fuzzing $corpus for $seconds s"
  (cd "$out" && "./fuzz_$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$out/finding-$corpus-" "$work" 2>&1 | grep -E "^Done|ERROR|SUMMARY" )
done
echo "no findings"

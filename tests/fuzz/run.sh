#!/usr/bin/env bash
# make fuzz: builds the libFuzzer harnesses (clang, ASan + UBSan) into $BUILD/fuzz and runs each
# for $FUZZ_SECONDS seconds from its seed corpus in tests/fuzz/corpus; a finding stops with the
# crashing input saved there. The harnesses cover NIfTI headers, manifests, Lua option tables, and
# (linked with LibTorch and HDF5) the dataset store reader and the checkpoint loader.
# usage: run.sh SOURCE_DIR BUILD_DIR SECONDS
# FUZZ_HARNESSES="store checkpoint" builds and runs only those (default: all).
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
harnesses=${FUZZ_HARNESSES:-nifti manifest lua_options store checkpoint}
wanted() { [[ " $harnesses " == *" $1 "* ]]; }
# The HDF5 harnesses compile the reader's own sources against the system LibTorch and HDF5 (no
# CMake target, so no whatif library is needed); tests/fuzz/fuzz_support.hpp stands in for what
# only the writers use (the version strings they stamp into files, the temporary file name).
hdf5_torch=(-I/usr/include/hdf5/serial -I/usr/include/torch/csrc/api/include
            "$source/core/src/util/hdf5_attributes.cpp" "$source/core/src/util/file_seal.cpp" --
            -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5_cpp -lhdf5 -lz -ltorch_cpu -lc10)
if wanted nifti; then build_harness fuzz_nifti "$source/core/src/data/nifti_header.cpp" -- -lz; fi
if wanted manifest; then build_harness fuzz_manifest "$source/core/src/data/manifest.cpp"; fi
if wanted lua_options; then
  build_harness fuzz_lua_options "$source/core/src/lua/convert.cpp" "$source/core/src/lua/limits.cpp" -- -llua5.4-c++
fi
if wanted store; then build_harness fuzz_store "$source/core/src/data/store.cpp" "${hdf5_torch[@]}"; fi
if wanted checkpoint; then build_harness fuzz_checkpoint "$source/core/src/train/checkpoint.cpp" "${hdf5_torch[@]}"; fi
# libhdf5 1.10 leaks its own metadata-cache blocks when it gives up on a malformed object header
# (malloc'd inside libhdf5: H5FL_blk_malloc under H5C_protect, e.g. from H5Lexists), on most
# mutated inputs. Checking for leaks after each of them would cost most of the run, so the HDF5
# harnesses check leaks (libhdf5's own suppressed) on their seed corpus only, then fuzz without.
printf 'leak:libhdf5_serial.so\n' >"$out/lsan.supp"
for corpus in $harnesses; do
  work=$out/corpus-$corpus
  mkdir -p "$work"
  cp -n "$source/tests/fuzz/corpus/$corpus/"* "$work/"
  leaks=()
  if [ "$corpus" = store ] || [ "$corpus" = checkpoint ]; then
    echo "leak check of the $corpus seeds"
    seeds=$(cd "$out" && LSAN_OPTIONS="suppressions=$out/lsan.supp:print_suppressions=0" "./fuzz_$corpus" -runs=0 \
        -artifact_prefix="$out/finding-$corpus-" "$source/tests/fuzz/corpus/$corpus" 2>&1) ||
      { grep -E "ERROR|SUMMARY|^NOTE" <<<"$seeds"; exit 1; }
    leaks=(-detect_leaks=0)
  fi
  echo "fuzzing $corpus for $seconds s"
  (cd "$out" && "./fuzz_$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 "${leaks[@]}" \
      -artifact_prefix="$out/finding-$corpus-" "$work" 2>&1 | grep -E "^Done|ERROR|SUMMARY|^NOTE|^#[0-9]+.*DONE" )
done
echo "no findings"

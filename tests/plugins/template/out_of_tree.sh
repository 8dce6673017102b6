#!/usr/bin/env bash
# Installs whatif into a scratch prefix, builds plugins/template out-of-tree against it with
# find_package(whatif), and loads the result with the installed CLI.
# usage: out_of_tree.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
# The installed package carries its own template; take it out so the out-of-tree build is the
# only plugin named "template".
rm "$work/prefix/lib/whatif/plugins/libwhatif-plugin-template.so"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$source/plugins/template" -B "$work/template" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$work/template" -j2 >/dev/null
plugin="$work/template/libwhatif-plugin-template.so"
[ -f "$plugin" ] || { echo "FAIL: the out-of-tree build made no plugin"; exit 1; }

out=$("$work/prefix/bin/whatif" plugins info schedule/constant-snr --plugin-path "$work/template")
echo "$out"
grep -q "plugin: template 0.1.0 ($plugin)" <<<"$out" || { echo "FAIL: not loaded from $plugin"; exit 1; }
grep -qE "snr +number +1\.0" <<<"$out" || { echo "FAIL: option not shown"; exit 1; }
# The denoiser links whatif::nn from the installed package and runs through the installed CLI.
out=$("$work/prefix/bin/whatif" plugins info denoiser/tiny-cnn --plugin-path "$work/template")
grep -q "plugin: template 0.1.0 ($plugin)" <<<"$out" || { echo "FAIL: tiny-cnn not loaded from $plugin"; exit 1; }
# A run that used the out-of-tree plugin verifies with the same --plugin-path; without it, verify
# names the plugin and the library the original run loaded.
cat >"$work/oot.lua" <<'LUA'
whatif.experiment{name = "oot", run = function(arm, ctx)
  return {lambda = whatif.schedule("constant-snr", {snr = 4}):logsnr(0.5)}
end}
LUA
"$work/prefix/bin/whatif" run "$work/oot.lua" --out "$work/oot" --plugin-path "$work/template" >/dev/null 2>&1 ||
  { echo "FAIL: a run with the out-of-tree plugin"; exit 1; }
out=$("$work/prefix/bin/whatif" verify "$work/oot.lua" --against "$work/oot" --plugin-path "$work/template" 2>&1)
grep -q "1 metric(s) compared, 0 beyond tolerance" <<<"$out" || { echo "FAIL: verify with --plugin-path: $out"; exit 1; }
out=$("$work/prefix/bin/whatif" verify "$work/oot.lua" --against "$work/oot" 2>&1) || true
grep -q "loaded plugin 'template' from $plugin" <<<"$out" || { echo "FAIL: verify without the plugin gave: $out"; exit 1; }
echo "4 passed, 0 failed"

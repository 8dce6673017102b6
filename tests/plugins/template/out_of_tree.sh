#!/usr/bin/env bash
# Runs docs/plugins.md's out-of-tree recipe as written — install whatif into a prefix, build
# plugins/template against it with find_package(whatif), load it with the installed CLI — with HOME
# in a scratch folder, then checks what it built.
# usage: out_of_tree.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

recipe=$(awk '/<!-- recipe: out-of-tree -->/ { found = 1; next }
              found && /^```sh/ { inside = 1; next }
              inside && /^```/ { exit }
              inside { print }' "$source/docs/plugins.md")
[ -n "$recipe" ] || { echo "FAIL: no out-of-tree recipe in docs/plugins.md"; exit 1; }
# The recipe runs from the source folder with its build in build/.
mkdir "$work/src"
ln -s "$build" "$work/src/build"
ln -s "$source/plugins" "$work/src/plugins"
command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=ccache
(cd "$work/src" && HOME="$work" bash -euo pipefail -c "$recipe") >"$work/recipe.log" 2>&1 ||
  { echo "FAIL: the recipe failed:"; tail -20 "$work/recipe.log"; exit 1; }
grep -q "plugin: template 0.1.0 ($work/template-build/libwhatif-plugin-template.so)" "$work/recipe.log" ||
  { echo "FAIL: the recipe did not load the out-of-tree plugin:"; tail -20 "$work/recipe.log"; exit 1; }
plugin="$work/template-build/libwhatif-plugin-template.so"
[ -f "$plugin" ] || { echo "FAIL: the out-of-tree build made no plugin"; exit 1; }

out=$("$work/whatif/bin/whatif" plugins info schedule/constant-snr --plugin-path "$work/template-build")
echo "$out"
grep -q "plugin: template 0.1.0 ($plugin)" <<<"$out" || { echo "FAIL: not loaded from $plugin"; exit 1; }
grep -qE "snr +number +1\.0" <<<"$out" || { echo "FAIL: option not shown"; exit 1; }
# The denoiser links whatif::nn from the installed package and runs through the installed CLI.
out=$("$work/whatif/bin/whatif" plugins info denoiser/tiny-cnn --plugin-path "$work/template-build")
grep -q "plugin: template 0.1.0 ($plugin)" <<<"$out" || { echo "FAIL: tiny-cnn not loaded from $plugin"; exit 1; }
# A run that used the out-of-tree plugin verifies with the same --plugin-path; without it, verify
# names the plugin and the library the original run loaded.
cat >"$work/oot.lua" <<'LUA'
whatif.experiment{name = "oot", run = function(arm, ctx)
  return {lambda = whatif.schedule("constant-snr", {snr = 4}):logsnr(0.5)}
end}
LUA
"$work/whatif/bin/whatif" run "$work/oot.lua" --out "$work/oot" --plugin-path "$work/template-build" >/dev/null 2>&1 ||
  { echo "FAIL: a run with the out-of-tree plugin"; exit 1; }
out=$("$work/whatif/bin/whatif" verify "$work/oot.lua" --against "$work/oot" --plugin-path "$work/template-build" 2>&1)
grep -q "1 metric(s) compared, 0 beyond tolerance" <<<"$out" || { echo "FAIL: verify with --plugin-path: $out"; exit 1; }
out=$("$work/whatif/bin/whatif" verify "$work/oot.lua" --against "$work/oot" 2>&1) || true
grep -q "loaded plugin 'template' from $plugin" <<<"$out" || { echo "FAIL: verify without the plugin gave: $out"; exit 1; }
echo "4 passed, 0 failed"

#!/usr/bin/env bash
# `whatif serve`: on a free loopback port, a counterfactual requested through the page's HTTP API
# equals `model:counterfactual` with the same seed (computed by pair.lua in `whatif run`);
# malformed requests get 4xx JSON answers with a message while the server keeps serving; requests
# queue one at a time and report progress; no file outside the run directory is served.
# With Chromium, the playground is also driven in the page; screenshots go to SHOT_DIR.
# Usage: test_serve.sh WHATIF SOURCE_DIR SHOT_DIR
set -u
whatif=$1 src=$2 shots=$3
source "$(dirname "$0")/expect.sh"
py=/usr/bin/python3  # Debian's python3 with nibabel and h5py
run=$work/run
mkdir -p "$work/out"

expect 0 "pair-guidance=3.0-seed1" -- "$whatif" run "$src/tests/cli/pair.lua" --out "$run"
ln -s /etc "$run/outside"  # a symlink out of the run directory: never followed

# A run directory that does not exist is refused in one line, and nothing is created.
expect_bad_input "no such run directory" -- "$whatif" serve "$work/missing" --port 0
[ -e "$work/missing" ] && fail "serve created the missing run directory"

"$whatif" serve "$run" --port 0 --max-steps 500 >"$work/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
port=
for _ in $(seq 150); do
  port=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/serve.log" | head -1 | sed 's/.*://')
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$port" ]; then
  fail "serve did not start:"; sed 's/^/    /' "$work/serve.log"; exit 1
fi
base=http://127.0.0.1:$port

# http METHOD PATH [BODY]: prints the status code, then the body
http() {
  local out
  if [ $# -ge 3 ]; then out=$(curl -s --path-as-is -X "$1" -H 'Content-Type: application/json' --data-binary "$3" -w '\n%{http_code}' "$base$2")
  else out=$(curl -s --path-as-is -X "$1" -w '\n%{http_code}' "$base$2"); fi
  echo "$out" | tail -1
  echo "$out" | sed '$d'
}
# expect_http CODE PATTERN METHOD PATH [BODY]
expect_http() {
  local code=$1 pattern=$2 out
  shift 2
  out=$(http "$@")
  checks=$((checks + 1))
  if [ "$(head -1 <<<"$out")" != "$code" ] || ! tail -n +2 <<<"$out" | grep -qE -- "$pattern"; then
    fail "$1 $2 ${3:-} -> want $code matching '$pattern', got:"
    head -c 600 <<<"$out" | sed 's/^/    /'; echo
  fi
}
# wait_job ID FILE: polls until the job is done or failed; the last answer goes to FILE
wait_job() {
  for _ in $(seq 600); do
    http GET "/api/jobs/$1" | tail -n +2 >"$2"
    grep -qE '"state":"(done|failed)"' "$2" && return 0
    sleep 0.1
  done
  return 1
}
job_id() { sed -n 's/.*"job":"\([0-9]*\)".*/\1/p'; }

expect_http 200 '"id":"model-w3.h5"' GET /api/models
expect_http 200 'whatif report' GET /
expect_http 200 'whatif report' GET /report.html

request='{"model": "model-w3.h5", "prompts": ["minimal lesion load", "high lesion load"], "seed": 7, "guidance": 3, "steps": 4}'
start=$(date +%s.%N)
job=$(http POST /api/counterfactual "$request" | tail -n +2 | job_id)
[ -n "$job" ] || fail "no job id for a valid request"
wait_job "$job" "$work/pair.json" || fail "job $job did not finish"
echo "pair through the API: $(echo "$(date +%s.%N) - $start" | bc) s"
checks=$((checks + 1))
"$py" - "$run" "$work/pair.json" <<'PY' || fail "the served pair differs from model:counterfactual"
import base64, gzip, io, json, sys
import h5py, nibabel, numpy as np
run, answer = sys.argv[1], json.load(open(sys.argv[2]))
assert answer["state"] == "done", answer
stored = h5py.File(f"{run}/pair-guidance=3.0-seed1.h5")["samples"]
for side in ("factual", "counterfactual"):
    raw = base64.b64decode(answer[side]["nifti"])
    image = nibabel.Nifti1Image.from_bytes(gzip.decompress(raw))
    served = np.asarray(image.dataobj).transpose(2, 1, 0)
    lua = stored[side][0, 0]
    assert served.shape == lua.shape, (served.shape, lua.shape)
    diff = float(np.abs(served - lua).max())
    print(f"{side}: max |served - model:counterfactual| = {diff}")
    assert diff <= 1e-6, diff
assert np.abs(stored["factual"][()] - stored["counterfactual"][()]).max() > 0, "twins identical: the test would prove nothing"
# The served volumes sit on the saved model's training grid, as the report's samples do.
data = json.loads(h5py.File(f"{run}/model-w3.h5").attrs["data"])["geometry"]
for side in ("factual", "counterfactual"):
    image = nibabel.Nifti1Image.from_bytes(gzip.decompress(base64.b64decode(answer[side]["nifti"])))
    assert np.allclose(image.header.get_zooms(), data["spacing"], atol=1e-5), (image.header.get_zooms(), data["spacing"])
    assert np.allclose(answer[side]["spacing"], data["spacing"]), answer[side]["spacing"]
PY

# Malformed requests: 4xx with a message, and the server goes on.
expect_http 400 'not valid JSON' POST /api/counterfactual '{"prompts": ['
expect_http 400 "unknown field 'promts'; did you mean 'prompts'" POST /api/counterfactual '{"promts": ["a", "b"]}'
expect_http 400 'not valid JSON' POST /api/counterfactual '{"model": "model-w3.h5", "prompts": ["a", "b"], "guidance": NaN}'
expect_http 400 "'guidance' must be a number" POST /api/counterfactual '{"model": "model-w3.h5", "prompts": ["a", "b"], "guidance": "NaN"}'
expect_http 400 "'guidance' must be within" POST /api/counterfactual '{"model": "model-w3.h5", "prompts": ["a", "b"], "guidance": 1000}'
expect_http 400 "'model' is required" POST /api/counterfactual '{"prompts": ["a", "b"]}'
expect_http 400 "'steps' must be between 1 and 500" POST /api/counterfactual '{"model": "model-w3.h5", "prompts": ["a", "b"], "steps": 1000000000}'
expect_http 400 "'steps' must be an integer" POST /api/counterfactual '{"model": "model-w3.h5", "prompts": ["a", "b"], "steps": 2.5}'
expect_http 400 "'prompts' must be two strings" POST /api/counterfactual '{"model": "model-w3.h5", "prompts": ["only one"]}'
expect_http 400 "either 'prompts'" POST /api/counterfactual '{"model": "model-w3.h5", "seed": 1}'
expect_http 404 "no saved model 'nope.h5'" POST /api/counterfactual '{"model": "nope.h5", "prompts": ["a", "b"]}'
expect_http 400 'JSON object' POST /api/counterfactual '[1, 2]'
big=$(head -c 100000 /dev/zero | tr '\0' 'a')
expect_http 413 'too large' POST /api/counterfactual "{\"prompts\": [\"$big\", \"b\"]}"
expect_http 404 'no job' GET /api/jobs/999999
expect_http 404 'no API endpoint' GET /api/nothing
# Files: only inside the run directory, no hidden ones.
expect_http 404 'no file' GET /../../../../etc/passwd
expect_http 404 'no file' GET /%2e%2e/%2e%2e/%2e%2e/etc/passwd
expect_http 404 'no file' GET /outside/passwd
expect_http 404 'no file' GET /.whatif.lock
checks=$((checks + 1))
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/volumes/pair-guidance=3.0-seed1/factual.nii.gz")" = 200 ] ||
  fail "the exported volume is not served"

# Requests queue: while a long one samples, the next waits its turn; progress is reported.
long='{"model": "model-w1.h5", "prompts": ["minimal lesion load", "high lesion load"], "seed": 3, "guidance": 1, "steps": 40}'
first=$(http POST /api/counterfactual "$long" | tail -n +2 | job_id)
second=$(http POST /api/counterfactual "${long/\"seed\": 3/\"seed\": 4}" | tail -n +2 | job_id)
checks=$((checks + 1))
state=$(http GET "/api/jobs/$second" | tail -n +2)
grep -q '"state":"queued"' <<<"$state" || fail "second job not queued behind the first: $state"
seen_progress=
for _ in $(seq 300); do
  state=$(http GET "/api/jobs/$first" | tail -n +2)
  if grep -q '"state":"running"' <<<"$state"; then
    p=$(sed -n 's/.*"progress":\([0-9.e-]*\).*/\1/p' <<<"$state")
    if [ -n "$p" ] && echo "$p > 0 && $p < 1" | bc -l | grep -q 1; then seen_progress=$p; fi
  fi
  grep -qE '"state":"(done|failed)"' <<<"$state" && break
  sleep 0.02
done
checks=$((checks + 1))
[ -n "$seen_progress" ] || fail "no progress between 0 and 1 seen while sampling: $state"
wait_job "$second" "$work/second.json" && grep -q '"state":"done"' "$work/second.json" || fail "queued job did not complete"
expect_http 200 '"id":"model-w1.h5"' GET /api/models

# The playground in the page (headless Chromium, where installed): a request with too many steps
# shows its error in the page; then the pair is sampled and drawn in its three views.
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chromium" ] && command -v node >/dev/null; then
  mkdir -p "$shots"
  action='(async () => {
    const f = document.querySelector("#playground form");
    const wait = async (ok) => { for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 100)); };
    await wait(() => f.elements.model.options.length > 0);
    f.elements.model.value = String([...f.elements.model.options].findIndex((o) => o.textContent.startsWith("model-w3.h5")));
    f.elements.model.dispatchEvent(new Event("change"));
    f.elements.factual.value = "minimal lesion load"; f.elements.counterfactual.value = "high lesion load";
    f.elements.seed.value = "7"; f.elements.guidance.value = "3"; f.elements.steps.value = "100000";
    f.requestSubmit();
    await wait(() => (whatifCheck.playgroundMessages || []).length > 0);
    f.elements.steps.value = "4";
    f.requestSubmit();
    await wait(() => whatifCheck.playground);
    return { messages: whatifCheck.playgroundMessages, pair: whatifCheck.playground };
  })()'
  result=$(node "$src/tests/web/check_page.js" "$chromium" "$base/" "$shots/serve.png" 60 "#playground=$shots/playground.png" "ACTION=$action")
  echo "$result" | head -c 3000; echo
  checks=$((checks + 1))
  node -e '
  const r = JSON.parse(process.argv[1]), bad = [];
  // The browser logs the deliberate 400 answer as a failed resource; nothing else may appear.
  const errors = r.errors.filter((e) => !/status of 400 .*\/api\/counterfactual$/.test(e));
  if (errors.length) bad.push("console errors: " + errors.join(" | "));
  const a = r.action || {};
  if (!(a.messages || []).some((m) => /steps/.test(m))) bad.push("the too-many-steps error is not shown in the page: " + JSON.stringify(a));
  const p = a.pair;
  if (!p) bad.push("the playground pair was not drawn");
  else {
    for (const v of p.viewers) if (!(v.variance > 20)) bad.push(`playground ${v.role} view is blank`);
    if (!(p.max_abs_difference > 0) || !(p.viewers[2].coloured - p.viewers[0].coloured > 100)) bad.push("no difference overlay in the playground");
  }
  if (bad.length) { console.log("FAIL: " + bad.join("\nFAIL: ")); process.exit(1); }
  console.log(`playground pair drawn; sampling ${p.seconds.toFixed(2)} s`);
  ' "$result" || failures=$((failures + 1))
else
  echo "SKIP: the playground in a browser (no chromium or node)"
fi
kill -0 "$server" 2>/dev/null || fail "the server stopped"
grep -q 'http://127.0.0.1:' "$work/serve.log" || fail "not on loopback by default"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]

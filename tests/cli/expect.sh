# Shared by the CLI tests (sourced): a scratch folder $work, counters, and the checks.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 checks=0
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }

# expect CODE PATTERN -- COMMAND...: the exit code must be CODE and the output must match PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 3
  local out status
  out=$("$@" 2>&1)
  status=$?
  checks=$((checks + 1))
  if [ "$status" -ne "$code" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$* -> exit $status (want $code), output:"
    sed 's/^/    /' <<<"$out"
  fi
}

# expect_bad_input PATTERN -- COMMAND...: exit 1, exactly one line "error: ..." matching PATTERN,
# and nothing new in $work/out.
expect_bad_input() {
  local pattern=$1
  shift 2
  local before after out status
  before=$(ls -A "$work/out")
  out=$("$@" 2>&1)
  status=$?
  after=$(ls -A "$work/out")
  checks=$((checks + 1))
  if [ "$status" -ne 1 ] || [ "$(wc -l <<<"$out")" -ne 1 ] || [[ "$out" != error:* ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$* -> exit $status, want one error line matching '$pattern':"
    sed 's/^/    /' <<<"$out"
  fi
  [ "$before" = "$after" ] || fail "$* left files behind: $after"
}

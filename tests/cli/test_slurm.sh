#!/usr/bin/env bash
# A sweep as a real Slurm job array: the test starts a one-node Slurm of its own (munged,
# slurmctld and slurmd with a generated slurm.conf in a scratch folder), submits the four-arm
# sweep4.lua with `whatif submit --slurm --array 2 --wait`, merges the run with `whatif report`,
# and compares the report with a single process's. Where Slurm cannot start (not root, not
# installed — `make deps` installs slurm-wlm and munge), it says why and exits 77 (skipped).
# usage: test_slurm.sh WHATIF_BINARY TESTS_CLI_DIR
set -u
whatif=$1
here=$2
failures=0
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }

# Without Slurm: the dry run prints the array script (task i runs shard i of 2) and submits
# nothing; bad options are one line.
script=$("$whatif" submit "$here/sweep4.lua" --slurm --array 2 --time 10 --partition debug --out /tmp/never --dry-run)
grep -q '^#SBATCH --array=0-1$' <<<"$script" || fail "dry run: no --array=0-1 line: $script"
grep -q '^#SBATCH --partition=debug$' <<<"$script" || fail "dry run: no partition line: $script"
grep -q -- '--shard "${SLURM_ARRAY_TASK_ID}/2"' <<<"$script" || fail "dry run: no shard per task: $script"
[ ! -e /tmp/never ] || fail "the dry run created the run directory"
out=$("$whatif" submit "$here/sweep4.lua" --slurm --time soon --dry-run 2>&1)
[ $? -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "^error: --time soon" <<<"$out" || fail "bad --time: $out"
out=$("$whatif" submit "$here/sweep4.lua" --array 2 --dry-run 2>&1)
[ $? -eq 2 ] && grep -q "needs a scheduler: --slurm" <<<"$out" || fail "no --slurm: $out"

skip() {
  [ "$failures" -eq 0 ] || exit 1
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "starting slurmctld and munged needs root"
for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || skip "$tool not installed (make deps installs slurm-wlm and munge)"
done
id munge >/dev/null 2>&1 || skip "no munge user (reinstall the munge package)"

work=$(mktemp -d /tmp/whatif-slurm-XXXXXX)
chmod 755 "$work"
host=$(hostname -s)
cleanup() {
  for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munge/munged.pid"; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

# munge: its own key, socket and pid file, run as the munge user.
mkdir -p "$work/munge"
head -c 1024 /dev/urandom > "$work/munge/munge.key"
chown -R munge: "$work/munge"
chmod 700 "$work/munge"
chmod 400 "$work/munge/munge.key"
runuser -u munge -- /usr/sbin/munged --force --key-file="$work/munge/munge.key" \
  --socket="$work/munge/munge.sock" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed" ||
  skip "munged did not start: $(tail -n 2 "$work/munge/munged.log" 2>/dev/null)"

# Ports above the usual 6817/6818, so a Slurm already on this machine is left alone.
port=$((17000 + RANDOM % 2000))
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<EOF
ClusterName=whatif-test
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.sock
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=whatif Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
/usr/sbin/slurmctld -i || skip "slurmctld did not start: $(tail -n 3 "$work/slurmctld.log" 2>/dev/null)"
/usr/sbin/slurmd || skip "slurmd did not start: $(tail -n 3 "$work/slurmd.log" 2>/dev/null)"
for _ in $(seq 1 60); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] ||
  skip "the node did not become idle: $(sinfo -h 2>&1 | head -n 1); $(tail -n 3 "$work/slurmd.log" 2>/dev/null)"


# The array job, waited for, then merged; and the same sweep in one process.
began=$(date +%s)
out=$("$whatif" submit "$here/sweep4.lua" --slurm --array 2 --time 10 --out "$work/array" --wait 2>&1) ||
  fail "submit --wait failed: $out $(cat "$work"/array/slurm-*.out 2>/dev/null | tail -n 20)"
echo "array job: $(($(date +%s) - began)) s: $out"
grep -q "^submitted job [0-9]* (2 tasks" <<<"$out" || fail "submit did not report the job: $out"
ls "$work"/array/slurm-*_0.out "$work"/array/slurm-*_1.out >/dev/null 2>&1 || fail "no output file per array task"
WHATIF_THREADS=1 "$whatif" run "$here/sweep4.lua" --out "$work/single" > "$work/single.log" 2>&1 ||
  fail "the single-process run failed: $(tail -n 5 "$work/single.log")"
for dir in array single; do
  "$whatif" report "$work/$dir" > "$work/$dir.report.log" 2>&1 || fail "report $dir failed: $(cat "$work/$dir.report.log")"
done
arms=$(find "$work/array" -maxdepth 1 -name 'sweep4-*.h5' | wc -l)
[ "$arms" -eq 4 ] || fail "the array wrote $arms arm results, want 4"
# The merged report's table equals the single process's (same seeds, one thread per task).
for table in $(cd "$work/single" && find . -maxdepth 2 -name '*.csv' | sort); do
  cmp -s "$work/single/$table" "$work/array/$table" ||
    fail "$table differs: $(diff "$work/single/$table" "$work/array/$table" | head -n 6)"
done
[ -n "$(cd "$work/single" && find . -maxdepth 2 -name '*.csv')" ] || fail "the report wrote no CSV table"
md_single=$(find "$work/single" -maxdepth 1 -name '*.md' | head -n 1)
md_array=$(find "$work/array" -maxdepth 1 -name '*.md' | head -n 1)
diff <(grep '^|' "$md_single") <(grep '^|' "$md_array") > "$work/md.diff" ||
  fail "the Markdown tables differ: $(head -n 6 "$work/md.diff")"

# Rerunning the array skips the complete arms.
out=$("$whatif" submit "$here/sweep4.lua" --slurm --array 2 --time 10 --out "$work/array" --wait 2>&1) ||
  fail "resubmit failed: $out"
grep -qh "skip" "$work"/array/whatif.log || fail "the rerun did not skip complete arms"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "slurm: the array job's merged report equals the single process's"

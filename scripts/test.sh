#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every test file against the real embedded stack
# (started here, or reused when already up). In CI the stack is stopped after.
#
# Most of a real-stack test file's time is waiting (on Temporal timers, the emulator, outages, a killed
# worker's activity timeout), and each file has its own tables, task queues, emulator and collections;
# the file that kills its Temporal server has a server of its own. So files run TEST_CONCURRENCY at a
# time (default 3: on a fresh .data, back to back on a quiet machine, the whole suite took 9 min 20 s at 3
# against 9 min 58 s at 2, every file passing in both; an older run at 3 had made the fault files miss their
# deadlines, not seen since), the longest first so the run does not end with one long file alone.
# Beside them, from the start: the real-model file (ollama.test.ts), its model server at a lower CPU
# priority (nice), so the model computes in the CPU the other files leave while they wait, and they keep
# theirs. (Only the server: a starved test process would find the shared services slow to answer its
# `stack up` probe and restart them under the other files.)
# Then, alone: the file whose limiter learns a provider's limit from latency, so no other file's CPU
# shows up in its latencies.
# `npm test -- test/x.test.ts ...` runs only those files, one at a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
# --ollama: the real LLM server too (test files may ask the harness for it); cached outside the clone.
bash scripts/install-tools.sh -q --ollama
started_here=0
if ! npx tsx dev/cli.ts stack status --json 2>/dev/null | grep -q '"running"'; then started_here=1; fi
cleanup() { if [ "${CI:-}" = "true" ] || [ "$started_here" = 1 ]; then npx tsx dev/cli.ts stack down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

# One workflow bundle for the whole run: every test file and worker process loads it (WORKFLOW_BUNDLE_PATH)
# instead of spending seconds of CPU bundling its own. Bundled while the stack comes up (both take
# seconds, mostly waiting on different things); awaited before the first file.
mkdir -p .data
export WORKFLOW_BUNDLE_PATH="$PWD/.data/test-workflow-bundle.js"
npx tsx scripts/bundle-workflows.ts "$WORKFLOW_BUNDLE_PATH" >/dev/null &
bundle_pid=$!

run() { NODE_NO_WARNINGS=1 node --import tsx --test "$@"; }
if [ "$#" -gt 0 ]; then
  wait "$bundle_pid"
  run --test-concurrency=1 "$@"
  exit
fi

# The longest files first (measured on a quiet machine: minutes each); then every other file in name order.
longest=(test/reliability.test.ts test/embedding.test.ts test/process-faults.test.ts test/faults.test.ts
  test/batch-mode.test.ts test/evaluation.test.ts test/llm-layer.test.ts test/harmonization.test.ts
  test/embedding-repair.test.ts test/quality.test.ts test/redrive.test.ts test/harmonization-kill.test.ts
  test/circuit-breaker.test.ts)
beside=(test/ollama.test.ts)
alone=(test/llm-layer-learning.test.ts)
mapfile -t rest < <(find test -name '*.test.ts' | sort |
  grep -v -x -F -f <(printf '%s\n' "${longest[@]}" "${beside[@]}" "${alone[@]}"))
pool=()
for f in "${longest[@]}"; do [ -f "$f" ] && pool+=("$f"); done
pool+=("${rest[@]}")

# One node process per file, in the order above (node --test would sort the files by name); a file's
# report is printed whole once it ends, so the reports of files running at once do not interleave.
logs=.data/test-logs
rm -rf "$logs" && mkdir -p "$logs"
run_file() {
  local log rc=0 start took
  start=$(date +%s)
  log="$logs/$(tr / _ <<<"$1").log"
  NODE_NO_WARNINGS=1 node --import tsx --test "$1" >"$log" 2>&1 || rc=$?
  # CPU seconds of the file's processes (the test process and the workers it spawned and reaped; not
  # the shared services): the suite is CPU-bound, so this, not the wall time, is what a file costs.
  # (`times` into a file: in a pipe or $(...) it would run in a fork, which has reaped no children.)
  times >"$log.times"
  cpu=$(tail -1 "$log.times" | awk 'function s(x, a) { split(x, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
    { printf "%d", s($1) + s($2) }')
  took="in $(($(date +%s) - start)) s ($cpu CPU-s), ended at $(($(date +%s) - suite_start)) s of the suite"
  {
    flock 9
    cat "$log"
    if [ "$rc" = 0 ]; then echo "# $1: passed $took"; else echo "# $1: FAILED (exit $rc) $took" | tee -a "$logs/failed"; fi
    echo "$1 $(($(date +%s) - start)) $cpu" >>"$logs/durations"
  } 9>"$logs/.lock"
  return "$rc"
}
export -f run_file
suite_start=$(date +%s)
export logs suite_start

# The stack up before any file, the model server too, which then gets the lower priority. Started
# here, its dynalite keeps the tables in memory: the suite is CPU-bound on two cores, and dynalite,
# the busiest service, costs about 30% less CPU without LevelDB on disk (evaluation.test.ts alone:
# 11 against 15.6 CPU-s). A stack already running is reused as it is.
STACK_DYNAMODB_IN_MEMORY=true npx tsx dev/cli.ts stack up --ollama >/dev/null
wait "$bundle_pid"
ollama_pid=$(npx tsx dev/cli.ts stack status --json |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).ollama?.pid ?? ""))')
# Its process group: the server and the model runner it spawned.
if [ -n "$ollama_pid" ]; then renice -n 10 -g "$ollama_pid" >/dev/null; fi

status=0
printf '%s\n' "${pool[@]}" | xargs -d '\n' -n 1 -P "${TEST_CONCURRENCY:-3}" bash -c 'run_file "$1"' _ &
pool_pid=$!
beside_pids=()
for f in "${beside[@]}"; do
  bash -c 'run_file "$1"' _ "$f" &
  beside_pids+=("$!")
done
wait "$pool_pid" || status=$?
for p in "${beside_pids[@]}"; do wait "$p" || status=$?; done
# (In a subshell: `times` there counts only that file's processes, not the pool's this shell reaped.)
for f in "${alone[@]}"; do (run_file "$f") || status=$?; done
echo "# the suite took $(($(date +%s) - suite_start)) s; the test files' own processes used" \
  "$(awk '{ n += $3 } END { print n }' "$logs/durations") CPU-s; the longest files (s, CPU-s):"
sort -k2 -n -r "$logs/durations" | head -8 | sed 's/^/#   /'
echo "# the files that used the most CPU (s, CPU-s):"
sort -k3 -n -r "$logs/durations" | head -8 | sed 's/^/#   /'
if [ -s "$logs/failed" ]; then
  echo "# failed files:"
  cat "$logs/failed"
fi
exit "$status"

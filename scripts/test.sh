#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every test file against the real embedded stack
# (started by the tests' harness, or reused when already up). In CI the stack is stopped after.
#
# Test files run TEST_CONCURRENCY at a time (default 2: much of a file's time is spent waiting on
# Temporal, the emulator and timers; each file has its own tables, task queues and emulator). Files
# that kill a shared service (the Temporal server), load the real LLM server, or measure how the
# adaptive limit or a kill -9 plays out in time run alone after, one at a time.
# `npm test -- test/x.test.ts ...` runs only those files, one at a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
# --ollama: the real LLM server too (test files may ask the harness for it); cached outside the clone.
bash scripts/install-tools.sh -q --ollama
started_here=0
if ! npx tsx src/client.ts stack status --json 2>/dev/null | grep -q '"running"'; then started_here=1; fi
cleanup() { if [ "${CI:-}" = "true" ] || [ "$started_here" = 1 ]; then npx tsx src/client.ts stack down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

# One workflow bundle for the whole run: every test file and worker process loads it (WORKFLOW_BUNDLE_PATH)
# instead of spending seconds of CPU bundling its own.
mkdir -p .data
export WORKFLOW_BUNDLE_PATH="$PWD/.data/test-workflow-bundle.js"
npx tsx scripts/bundle-workflows.ts "$WORKFLOW_BUNDLE_PATH" >/dev/null

run() { NODE_NO_WARNINGS=1 node --import tsx --test "$@"; }
if [ "$#" -gt 0 ]; then
  run --test-concurrency=1 "$@"
  exit
fi

# Alone: they kill and restart the shared Temporal server, need the machine's cores for the real model,
# or measure timing (the adaptive limit learning a provider; a kill -9 landing while batches are open).
alone=(test/process-faults.test.ts test/ollama.test.ts test/llm-layer.test.ts test/embedding.test.ts
  test/embedding-repair.test.ts)
mapfile -t together < <(find test -name '*.test.ts' | sort | grep -v -x -F -f <(printf '%s\n' "${alone[@]}"))
status=0
run --test-concurrency="${TEST_CONCURRENCY:-2}" "${together[@]}" || status=$?
run --test-concurrency=1 "${alone[@]}" || status=$?
exit "$status"

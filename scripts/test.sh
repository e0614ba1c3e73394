#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every test file against the real embedded stack
# (started by the tests' harness, or reused when already up). In CI the stack is stopped after.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
# --ollama: the real LLM server too (test files may ask the harness for it); cached outside the clone.
bash scripts/install-tools.sh -q --ollama
started_here=0
if ! npx tsx src/client.ts stack status --json 2>/dev/null | grep -q '"running"'; then started_here=1; fi
cleanup() { if [ "${CI:-}" = "true" ] || [ "$started_here" = 1 ]; then npx tsx src/client.ts stack down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
NODE_NO_WARNINGS=1 node --import tsx --test --test-concurrency=1 "${files[@]}"

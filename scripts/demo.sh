#!/usr/bin/env bash
# `npm run demo`: the main job on a fresh machine, offline. Installs what is missing, brings the
# embedded stack up, seeds a dataset, runs the pipelines, prints a summary (JSON last with --json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund >&2
# `--provider ollama` runs the pipelines on the stack's real LLM server: install it too.
tools_args=(-q)
prev=''
for arg in "$@"; do
  if [[ "$arg" == --provider=ollama || ("$prev" == --provider && "$arg" == ollama) ]]; then tools_args+=(--ollama); fi
  prev="$arg"
done
bash scripts/install-tools.sh "${tools_args[@]}" >&2
NODE_NO_WARNINGS=1 exec npx tsx scripts/demo.ts "$@"

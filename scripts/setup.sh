#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine with Python 3.11.
#   scripts/setup.sh        runtime environment in .venv
#   scripts/setup.sh --dev  plus the test tools
# Installs the system libraries Qt needs when run as root; otherwise prints the apt line.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0; [ "${1:-}" = "--dev" ] && DEV=1
PY=${PYTHON:-python3.11}; command -v "$PY" >/dev/null || PY=python3

APT_PACKAGES="libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0 \
libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-render0 libxcb-shape0 \
libxcb-util1 libxcb-xkb1 libxkbcommon-x11-0"
[ $DEV = 1 ] && APT_PACKAGES="$APT_PACKAGES xvfb xauth"
missing=""
if command -v dpkg-query >/dev/null; then
  for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing system libraries:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: Qt needs these system libraries; run:"
    echo "  sudo apt-get install -y --no-install-recommends$missing"
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
REQS="requirements.txt requirements-nodeps.txt"; [ $DEV = 1 ] && REQS="$REQS requirements-dev.txt"
STAMP=".venv/.setup-$(cat $REQS setup.cfg | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
  # torch is pinned in the same command as everything else so no dependency can pull a CUDA build
  if [ $DEV = 1 ]; then $PIP install -r requirements.txt -r requirements-dev.txt; else $PIP install -r requirements.txt; fi
  $PIP install --no-deps -r requirements-nodeps.txt
  $PIP install --no-deps --no-build-isolation -e .
  touch "$STAMP"
fi
echo "setup: ready (.venv)"

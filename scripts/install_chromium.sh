#!/usr/bin/env bash
# Installs Debian's headless-capable `chromium` for tests/test_report.py (the browser check of the HTML report)
# when no Chromium is on PATH. CI runs as root; elsewhere sudo is used when present.
set -euo pipefail

for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null 2>&1; then
    echo "install_chromium: $(command -v "$candidate") is already installed"
    exit 0
  fi
done

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install_chromium: run as root (or install sudo): apt-get needs it to install chromium" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
# --no-install-recommends keeps the install to the browser and its libraries (no fonts packs, no drivers).
"${as_root[@]}" apt-get install -y --no-install-recommends chromium
command -v chromium

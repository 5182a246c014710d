#!/usr/bin/env bash
# Installs Debian's headless-capable `chromium` for tests/build/test_report.py (the browser check of the HTML report)
# when no Chromium is on PATH. CI runs as root; elsewhere sudo is used when present (scripts/apt_install.sh).
set -euo pipefail

for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null 2>&1; then
    echo "install_chromium: $(command -v "$candidate") is already installed"
    exit 0
  fi
done

bash "$(dirname "$0")/apt_install.sh" chromium
command -v chromium

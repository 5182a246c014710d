#!/usr/bin/env bash
# Installs the fonts the report's figures fall back to for segment names outside Latin script (Debian):
# Noto Sans CJK (Chinese, Japanese, Korean) and Symbola (emoji, monochrome). Without them such names are drawn as
# empty boxes; hte_engine/report/figures.py uses them when present. tests/test_report_figures.py runs this as root
# when they are missing (CI runs as root); elsewhere sudo is used when present.
set -euo pipefail

if fc-list 2>/dev/null | grep -q "Noto Sans CJK" && fc-list 2>/dev/null | grep -q "Symbola"; then
  echo "install_fonts: Noto Sans CJK and Symbola are already installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install_fonts: run as root (or install sudo): apt-get needs it to install fonts-noto-cjk and fonts-symbola" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends fonts-noto-cjk fonts-symbola

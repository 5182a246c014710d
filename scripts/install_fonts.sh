#!/usr/bin/env bash
# Installs the fonts the report's figures fall back to for segment names outside Latin script (Debian):
# Noto Sans CJK (Chinese, Japanese, Korean) and Symbola (emoji, monochrome). Without them such names are drawn as
# empty boxes; hte_engine/report/figures.py uses them when present. tests/unit/test_report_figures.py runs this as root
# when they are missing (CI runs as root); elsewhere sudo is used when present (scripts/apt_install.sh).
set -euo pipefail

# the list is read first: grep -q stopping early would fail fc-list with SIGPIPE under pipefail
fonts="$(fc-list 2>/dev/null || true)"
if grep -q "Noto Sans CJK" <<<"$fonts" && grep -q "Symbola" <<<"$fonts"; then
  echo "install_fonts: Noto Sans CJK and Symbola are already installed"
  exit 0
fi

bash "$(dirname "$0")/apt_install.sh" fonts-noto-cjk fonts-symbola

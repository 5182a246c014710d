#!/usr/bin/env bash
# apt-get install of Debian packages the tests need (scripts/install_chromium.sh, scripts/install_fonts.sh), as root
# or through sudo when present. CI runs as root.
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "apt_install: run as root (or install sudo): apt-get needs it to install $*" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
# --no-install-recommends keeps the install to the packages named and their libraries.
"${as_root[@]}" apt-get install -y --no-install-recommends "$@"

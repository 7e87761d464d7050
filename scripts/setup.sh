#!/usr/bin/env bash
# Installs the Debian packages dbrender builds against, when they are missing. Safe to run again.
# Used by both README commands and by .ci/run.
set -euo pipefail

packages=(libopenblas-dev libpng-dev libwebp-dev libjpeg62-turbo-dev pkg-config curl systemd procps nginx libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift (6.1 or newer) is not on PATH" >&2; exit 1; }

#!/usr/bin/env bash
# Installs the system packages the project needs, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    echo "swift is not on PATH; install the Swift 6 toolchain from swift.org first" >&2
    exit 1
fi

packages=(pkg-config libhiredis-dev zlib1g-dev redis-server redis-tools "$@")

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
    echo "missing packages: ${missing[*]}" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi


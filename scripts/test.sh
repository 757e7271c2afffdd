#!/usr/bin/env bash
# Installs what is missing, builds once, runs every Swift test, then the web
# client's browser tests (headless Chromium against a real local cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh haproxy docker-compose chromium chromium-driver python3-venv
swift build --build-tests
swift test --skip-build "$@"
./scripts/browser-test.sh

#!/usr/bin/env bash
# Installs what is missing, builds once, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh haproxy docker-compose
swift build --build-tests
swift test --skip-build "$@"

#!/usr/bin/env bash
# Installs what is missing, builds chat-node, and starts a standalone node.
# Extra arguments go to chat-node, e.g. ./scripts/run.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
swift build --product chat-node
exec "$(swift build --show-bin-path)/chat-node" "$@"

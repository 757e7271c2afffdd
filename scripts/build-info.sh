#!/usr/bin/env bash
# Records the commit being built, for `chat-node --version` and
# `chat_build_info`: the short hash, with "-dirty" when the tree has changes.
# Outside a git checkout, CHAT_COMMIT is used if set.
set -euo pipefail
cd "$(dirname "$0")/.."
target=Sources/ChatNode/BuildInfo/commit
if commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
    if ! git diff --quiet HEAD -- Sources Package.swift 2>/dev/null; then commit="$commit-dirty"; fi
else
    commit=${CHAT_COMMIT:-}
fi
[ -n "$commit" ] || exit 0
# Rewrite only on change, so an unchanged commit does not trigger a rebuild.
if [ "$(cat "$target" 2>/dev/null)" != "$commit" ]; then echo "$commit" > "$target"; fi

#!/usr/bin/env bash
# The v2 connect storm against its yardsticks, alternating in one sitting
# (docs/BENCHMARKS.md, "chat.v2.json", session 7):
#
#   trivial  chat-bench baseline-server: upgrade + welcome, no presence
#   floor    chat-bench minimal-v2-server: the least a v2 server must do
#   cluster  3 chat-node release builds + Redis
#
#   scripts/bench-floor.sh [--rounds 3] [--users 10000] [--node BIN]
#
# Prints one line per storm (users joined and failed, seconds to the last
# welcome and to every list complete, server CPU) and appends the RESULT lines to artifacts/scale/floor.txt.
# The machine is shared and noisy: compare figures of one sitting only.
set -euo pipefail
cd "$(dirname "$0")/.."

node=.build/release/chat-node
bench=.build/release/chat-bench
rounds=3
users=10000
while [ $# -gt 0 ]; do
    case "$1" in
        --node) node=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --users) users=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
for binary in "$node" "$bench"; do
    [ -x "$binary" ] || { echo "no binary at $binary: swift build -c release" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
mkdir -p artifacts/scale
work=$(mktemp -d)
source scripts/bench-processes.sh
trap 'cleanup; rm -rf "$work"' EXIT

# storm NAME PORT... : runs one storm against the servers started in `pids`.
storm() {
    local name=$1; shift
    for port in "$@"; do wait_for_port "$port"; done
    sleep 0.5
    "$bench" storm --ports "$@" --users "$users" --subprotocol chat.v2.json --in-flight 500 --sources 4 \
        --pids "${pids[@]}" --timeout 120 --idle 0 > "$work/out.txt" 2>&1 || true
    local result
    if ! result=$(grep '^RESULT' "$work/out.txt"); then
        echo "$name: the storm did not finish:" >&2
        tail -5 "$work/out.txt" >&2
        cleanup
        return
    fi
    echo "$result" | sed "s/^RESULT/RESULT server=$name/" >> artifacts/scale/floor.txt
    printf '%-8s %s\n' "$name" "$(echo "$result" | grep -o 'joined=[^ ]* failed=[^ ]* join_s=[^ ]* complete_s=[^ ]* cpu_s=[^ ]*')"
    cleanup
}

for round in $(seq 1 "$rounds"); do
    echo "== round $round of $rounds, $users v2 users"
    "$bench" baseline-server --port 18090 > /dev/null 2>&1 & pids+=($!)
    storm trivial 18090
    "$bench" minimal-v2-server --port 18091 > /dev/null 2>&1 & pids+=($!)
    storm floor 18091
    redis-server --port 16390 --save '' --appendonly no --dir "$work" --bind 127.0.0.1 > "$work/redis.log" 2>&1 & pids+=($!)
    wait_for_port 16390
    for port in 18081 18082 18083; do
        "$node" --port "$port" --node-id "n$port" --redis redis://127.0.0.1:16390 > "$work/node-$port.log" 2>&1 & pids+=($!)
    done
    storm cluster 18081 18082 18083
done

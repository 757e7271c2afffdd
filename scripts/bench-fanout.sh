#!/usr/bin/env bash
# Broadcast throughput through a 3-node cluster (docs/BENCHMARKS.md):
#   scripts/bench-fanout.sh [--node BIN] [--clients 300] [--messages 6000] [--rate 100000]
#                           [--subprotocol chat.v1.json|chat.v2.json]
# Starts Redis and three release nodes, runs `chat-bench fanout` from another
# process, prints deliveries per second and per server CPU-second.
set -euo pipefail
cd "$(dirname "$0")/.."
node=.build/release/chat-node
clients=300
messages=6000
rate=100000
subprotocol=chat.v1.json
while [ $# -gt 0 ]; do
    case "$1" in
        --node) node=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --messages) messages=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --subprotocol) subprotocol=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
pids=()
trap 'for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done' EXIT
redis-server --port 16391 --save '' --appendonly no --dir "$(mktemp -d)" --bind 127.0.0.1 > /dev/null 2>&1 &
pids+=($!)
sleep 0.5
node_pids=()
for port in 18181 18182 18183; do
    "$node" --port "$port" --rate 0 --redis redis://127.0.0.1:16391 > /dev/null 2>&1 &
    pids+=($!)
    node_pids+=($!)
done
sleep 1.5
.build/release/chat-bench fanout --ports 18181 18182 18183 --clients "$clients" --messages "$messages" --rate "$rate" --subprotocol "$subprotocol" --pids "${node_pids[@]}"

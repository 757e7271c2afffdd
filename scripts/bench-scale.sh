#!/usr/bin/env bash
# Connect-storm benchmark of release builds (docs/BENCHMARKS.md, "Scale").
#
#   scripts/bench-scale.sh [--node BIN] [--label NAME] [--mode single|cluster]
#                          [--users "1000 2000 5000 10000"] [--in-flight 500]
#                          [--subprotocol chat.v1.json|chat.v2.json]
#
# For each size it starts fresh nodes (one standalone node, or Redis + 3
# nodes), runs `chat-bench storm` against them from another process with
# several loopback source addresses, then SIGTERMs the first node and times
# its exit. Each run appends one RESULT line to artifacts/scale/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

node=.build/release/chat-node
bench=.build/release/chat-bench
label=current
mode=single
sizes="1000 2000 5000 10000"
in_flight=500
subprotocol=chat.v1.json
while [ $# -gt 0 ]; do
    case "$1" in
        --node) node=$2; shift 2 ;;
        --bench) bench=$2; shift 2 ;;
        --label) label=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --users) sizes=$2; shift 2 ;;
        --in-flight) in_flight=$2; shift 2 ;;
        --subprotocol) subprotocol=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -x "$node" ] || { echo "no node binary at $node: swift build -c release" >&2; exit 1; }
[ -x "$bench" ] || { echo "no chat-bench at $bench: swift build -c release --product chat-bench" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
mkdir -p artifacts/scale
work=$(mktemp -d)
source scripts/bench-processes.sh
trap 'cleanup; rm -rf "$work"' EXIT

for users in $sizes; do
    cleanup
    redis_args=()
    if [ "$mode" = cluster ]; then
        redis-server --port 16390 --save '' --appendonly no --dir "$work" --bind 127.0.0.1 > "$work/redis.log" 2>&1 &
        pids+=($!)
        wait_for_port 16390
        redis-cli -p 16390 flushall > /dev/null
        redis_args=(--redis redis://127.0.0.1:16390)
        ports=(18081 18082 18083)
    else
        ports=(18081)
    fi
    node_pids=()
    for port in "${ports[@]}"; do
        "$node" --port "$port" --node-id "n$port" "${redis_args[@]}" > "$work/node-$port.log" 2>&1 &
        pids+=($!)
        node_pids+=($!)
    done
    for port in "${ports[@]}"; do wait_for_port "$port"; done
    sleep 0.5
    echo "== $label, $mode, $users $subprotocol users" >&2
    "$bench" storm --ports "${ports[@]}" --users "$users" --subprotocol "$subprotocol" --in-flight "$in_flight" --sources 4 \
        --pids "${node_pids[@]}" --drain-pid "${node_pids[0]}" --drain-port "${ports[0]}" --timeout 240 \
        | tee "$work/out.txt" >&2
    gaps=""
    for port in "${ports[@]:1}"; do
        gap=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^chat_liveness_refresh_gap_max_seconds/ {print $2}')
        gaps="$gaps${gaps:+,}${gap:-none}"
    done
    if [ -n "$gaps" ]; then echo "largest liveness refresh gap on the other nodes: $gaps s" >&2; fi
    grep '^RESULT' "$work/out.txt" | sed "s/^RESULT/RESULT label=$label mode=$mode/; s/\$/ liveness_gap_s=${gaps:-none}/" \
        >> artifacts/scale/results.txt
done

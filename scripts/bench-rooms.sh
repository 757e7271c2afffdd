#!/usr/bin/env bash
# Rooms (chat.v3.json) on 3 release nodes + Redis (docs/BENCHMARKS.md, "Rooms"):
#
#   storm       10 000 v3 users each say hello, then join one room (500
#               handshakes in flight), against the trivial server's storm
#               (upgrade + welcome, no presence) of the same 10 000 connections
#   memory      the same storm with each user also in 2 rooms of 20: RSS of
#               the nodes and Redis per idle joined connection (kb_per_conn)
#   many-rooms  3 000 users in 300 rooms of 10, each room's members on one
#               node, 30 senders (10 per node) as fast as possible, against
#               300 users in one room with 10 senders; deliveries per server
#               CPU-second, and how many events each node received from Redis;
#               then the same two shapes against `chat-bench minimal-rooms-server`
#               (one process relaying lines to rooms, no Redis: the floor)
#   fewer rooms 300 users in 30 rooms of 10, a sender in each: the many-rooms
#               lines without its 270 idle rooms and 2 700 idle users, so
#               the two show what idle rooms and users cost each line
#   alone       30 users, each alone in a room and sending: the many-rooms
#               lines with nobody to deliver them to but their senders, so
#               CPU per line against the many-rooms run shows what a line
#               costs apart from its deliveries
#
#   scripts/bench-rooms.sh [--node BIN] [--messages 2000] [--event-loops N]
#
# --event-loops N starts every node with it (OPERATIONS.md, "Threads"): with 1,
# each node is single-threaded, Redis included.
#
# The machine is shared and noisy: compare figures of one sitting only.
set -euo pipefail
cd "$(dirname "$0")/.."

node=.build/release/chat-node
bench=.build/release/chat-bench
messages=2000
node_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --node) node=$2; shift 2 ;;
        --messages) messages=$2; shift 2 ;;
        --event-loops) node_args=(--event-loops "$2"); shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
for binary in "$node" "$bench"; do
    [ -x "$binary" ] || { echo "no binary at $binary: swift build -c release" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
source scripts/bench-processes.sh
trap 'cleanup; rm -rf "$work"' EXIT
ports=(18481 18482 18483)

start_cluster() {
    redis-server --port 16490 --save '' --appendonly no --dir "$work" --bind 127.0.0.1 > "$work/redis.log" 2>&1 & pids+=($!)
    wait_for_port 16490
    for port in "${ports[@]}"; do
        "$node" --port "$port" --node-id "n$port" --rate 0 "${node_args[@]}" --redis redis://127.0.0.1:16490 > "$work/node-$port.log" 2>&1 & pids+=($!)
    done
    for port in "${ports[@]}"; do wait_for_port "$port"; done
    sleep 0.5
}

# events_received PORT: the node's chat_bus_events_received_total.
events_received() {
    curl -s "http://127.0.0.1:$1/metrics" | awk '/^chat_bus_events_received_total /{print $2}'
}

echo "== storm into one room: 10000 users"
"$bench" baseline-server --port 18490 > /dev/null 2>&1 & pids+=($!)
wait_for_port 18490
sleep 0.5
"$bench" storm --ports 18490 --users 10000 --subprotocol chat.v2.json --in-flight 500 --sources 4 --pids "${pids[@]}" \
    --timeout 60 --idle 0 2>&1 | grep '^RESULT' | grep -o 'joined=[^ ]* failed=[^ ]* join_s=[^ ]* complete_s=[^ ]* cpu_s=[^ ]*' | sed 's/^/trivial  /'
cleanup
start_cluster
"$bench" storm --ports "${ports[@]}" --users 10000 --subprotocol chat.v3.json --room one --in-flight 500 --sources 4 \
    --pids "${pids[@]}" --timeout 120 --idle 3 2>&1 | grep -E '^RESULT' \
    | grep -o 'joined=[^ ]* failed=[^ ]* join_s=[^ ]* complete_s=[^ ]* cpu_s=[^ ]* .*lists_equal=[^ ]* kb_per_conn=[^ ]*' | sed 's/^/cluster  /'
cleanup

echo "== memory: 10000 users, each in the one room and 2 rooms of 20, 3 s idle"
start_cluster
"$bench" storm --ports "${ports[@]}" --users 10000 --subprotocol chat.v3.json --room one --extra-rooms 2 --extra-room-size 20 \
    --in-flight 500 --sources 4 --pids "${pids[@]}" --timeout 120 --idle 3 2>&1 | grep -E '^RESULT' \
    | grep -o 'joined=[^ ]* failed=[^ ]* .*lists_equal=[^ ]* kb_per_conn=[^ ]*' | sed 's/^/3 rooms  /'
cleanup

for shape in "one room:300:1:10" "many rooms:3000:300:30" "the same lines, fewer rooms:300:30:30" "the same lines, alone:30:30:30"; do
    IFS=: read -r name clients rooms senders <<< "$shape"
    echo "== $name: $clients users in $rooms room(s), $senders senders x $messages lines"
    start_cluster
    declare -A before=()
    for port in "${ports[@]}"; do before[$port]=$(events_received "$port"); done
    "$bench" fanout --ports "${ports[@]}" --clients "$clients" --rooms "$rooms" --subprotocol chat.v3.json \
        --senders "$senders" --messages "$messages" --rate 100000 --pids "${pids[@]}" 2>&1 | grep -E 'fan-out|server CPU|latency'
    for port in "${ports[@]}"; do
        echo "  node $port received $(( $(events_received "$port") - ${before[$port]} )) events from Redis"
    done
    cleanup
done

for shape in "one room:300:1:10" "many rooms:3000:300:30"; do
    IFS=: read -r name clients rooms senders <<< "$shape"
    echo "== floor, $name: minimal-rooms-server, $clients users in $rooms room(s), $senders senders x $messages lines"
    "$bench" minimal-rooms-server --port 18492 > /dev/null 2>&1 & pids+=($!)
    wait_for_port 18492
    "$bench" fanout --ports 18492 --clients "$clients" --rooms "$rooms" --subprotocol chat.v3.json \
        --senders "$senders" --messages "$messages" --rate 100000 --pids "${pids[@]}" 2>&1 | grep -E 'fan-out|server CPU'
    cleanup
done

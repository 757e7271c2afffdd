#!/usr/bin/env bash
# CPU per delivered line at a steady rate that nothing saturates
# (docs/BENCHMARKS.md, "Steady rate"): 300 clients, 10 of them sending
# 50 lines/s each, so 150 000 deliveries/s, against
#
#   node-ws  a plain Node.js broadcast server (Debian's node-ws, 20 lines,
#            scripts/yardsticks/node-ws-broadcast.js), one process
#   cluster  3 chat-node release builds + Redis (each --node given, in turn)
#
#   scripts/bench-steady.sh [--rounds 3] [--seconds 20] [--node BIN]...
#
# Several --node flags (an old and a new build) alternate in one sitting.
# Prints, per run, deliveries and server CPU-seconds (the nodes and Redis,
# or the node-ws process), and the ratio of the cluster's CPU per delivery
# to node-ws's in the same round. The machine is shared and noisy: compare
# figures of one sitting only.
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=()
bench=.build/release/chat-bench
rounds=3
seconds=20
clients=300
senders=10
rate=50
while [ $# -gt 0 ]; do
    case "$1" in
        --node) nodes+=("$2"); shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#nodes[@]} -gt 0 ] || nodes=(.build/release/chat-node)
for binary in "${nodes[@]}" "$bench"; do
    [ -x "$binary" ] || { echo "no binary at $binary: swift build -c release" >&2; exit 1; }
done
command -v node > /dev/null && [ -d /usr/share/nodejs/ws ] || { echo "needs Node.js and Debian's node-ws: apt-get install -y nodejs node-ws" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
source scripts/bench-processes.sh
trap 'cleanup; rm -rf "$work"' EXIT
messages=$((rate * seconds))

# run NAME PORT... : the steady load against the servers in `pids`; prints its line, sets `cpu_per_delivery`.
run() {
    local name=$1; shift
    for port in "$@"; do wait_for_port "$port"; done
    sleep 0.5
    "$bench" fanout --ports "$@" --clients "$clients" --senders "$senders" --rate "$rate" --messages "$messages" \
        --subprotocol chat.v2.json --pids "${pids[@]}" > "$work/out.txt" 2>&1 || true
    local delivered cpu
    delivered=$(grep -o '[0-9]*/[0-9]* deliveries' "$work/out.txt" | cut -d/ -f1 || true)
    cpu=$(grep -o 'server CPU: [0-9.]* s' "$work/out.txt" | grep -o '[0-9.]*' | head -1 || true)
    if [ -z "$delivered" ] || [ -z "$cpu" ]; then
        echo "$name: the run did not finish:" >&2
        tail -5 "$work/out.txt" >&2
        cpu_per_delivery=0
    else
        cpu_per_delivery=$(echo "$cpu / $delivered * 1000000" | bc -l)
        printf '%-40s %s deliveries, server CPU %6.2f s, %5.2f µs per delivery; %s\n' \
            "$name" "$delivered" "$cpu" "$cpu_per_delivery" "$(grep -o 'latency.*' "$work/out.txt")"
    fi
    cleanup
}

for round in $(seq 1 "$rounds"); do
    echo "== round $round of $rounds: $clients clients, $senders senders x $rate lines/s for $seconds s"
    NODE_PATH=/usr/share/nodejs node scripts/yardsticks/node-ws-broadcast.js 18190 > /dev/null 2>&1 & pids+=($!)
    run node-ws 18190
    baseline=$cpu_per_delivery
    for binary in "${nodes[@]}"; do
        redis-server --port 16392 --save '' --appendonly no --dir "$work" --bind 127.0.0.1 > "$work/redis.log" 2>&1 & pids+=($!)
        wait_for_port 16392
        for port in 18281 18282 18283; do
            "$binary" --port "$port" --node-id "n$port" --rate 0 --redis redis://127.0.0.1:16392 > "$work/node-$port.log" 2>&1 & pids+=($!)
        done
        run "cluster ($binary)" 18281 18282 18283
        if [ "$baseline" != 0 ] && [ "$cpu_per_delivery" != 0 ]; then
            printf '%-40s %.2f x node-ws\n' "  ratio" "$(echo "$cpu_per_delivery / $baseline" | bc -l)"
        fi
    done
done

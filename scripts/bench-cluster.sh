#!/usr/bin/env bash
# The many-rooms workload (3 000 users in 300 rooms of 10, 30 senders) on 3
# release nodes, alternating between one Redis and a Redis Cluster of 3
# masters (docs/BENCHMARKS.md, "Redis Cluster"):
#
#   scripts/bench-cluster.sh [--rounds 2] [--messages 2000] [--replicas 1] [--perf DIR] [--only one|cluster] [--node BIN] [--syscalls]
#
# Prints per round the deliveries per server CPU-second (nodes and every Redis
# process), the CPU-seconds of nodes and Redis, and each master's share of the
# commands. --replicas 0 runs the cluster without replicas. --perf DIR records
# the first node of each run with `perf record -g` into DIR; --syscalls counts
# the first node's read and write system calls (`perf stat`).
# The machine is shared and noisy: compare figures of one sitting only.
set -euo pipefail
cd "$(dirname "$0")/.."

node=.build/release/chat-node
bench=.build/release/chat-bench
rounds=2
messages=2000
replicas=1
perf_dir=
only=
syscalls=
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --messages) messages=$2; shift 2 ;;
        --replicas) replicas=$2; shift 2 ;;
        --perf) perf_dir=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --node) node=$2; shift 2 ;;
        --syscalls) syscalls=1; shift ;;
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
node_ports=(18581 18582 18583)
masters=(16591 16592 16593)
redis_ports=()

start_one_redis() {
    redis_ports=(16590)
    redis-server --port 16590 --save '' --appendonly no --dir "$work" --bind 127.0.0.1 > "$work/redis.log" 2>&1 & pids+=($!)
    wait_for_port 16590
    redis_url=redis://127.0.0.1:16590
}

start_redis_cluster() {
    redis_ports=("${masters[@]}")
    for ((i = 0; i < 3 * replicas; i++)); do redis_ports+=($((16594 + i))); done
    for port in "${redis_ports[@]}"; do
        rm -rf "${work:?}/$port" && mkdir -p "$work/$port"
        redis-server --port "$port" --save '' --appendonly no --dir "$work/$port" --bind 127.0.0.1 \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 3000 \
            --cluster-require-full-coverage no > "$work/redis-$port.log" 2>&1 & pids+=($!)
    done
    for port in "${redis_ports[@]}"; do wait_for_port "$port"; done
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${redis_ports[@]}") --cluster-replicas "$replicas" --cluster-yes > "$work/create.log" 2>&1 \
        || { echo "redis-cli --cluster create failed:" >&2; cat "$work/create.log" >&2; exit 1; }
    for _ in $(seq 1 100); do
        redis-cli -p "${masters[0]}" cluster info | grep -q cluster_state:ok && break
        sleep 0.1
    done
    sleep 1
    redis_url=redis-cluster://127.0.0.1:${masters[0]},127.0.0.1:${masters[1]}
}

start_nodes() {
    for port in "${node_ports[@]}"; do
        "$node" --port "$port" --node-id "n$port" --rate 0 --redis "$redis_url" > "$work/node-$port.log" 2>&1 & pids+=($!)
        node_pids+=($!)
    done
    for port in "${node_ports[@]}"; do wait_for_port "$port"; done
    sleep 0.5
}

# calls PORT: how many commands the Redis on PORT has run.
calls() {
    redis-cli -p "$1" info commandstats | awk -F'[=,]' '/^cmdstat_/{sum += $2} END {print sum + 0}'
}

# redis_cpu: CPU-seconds of every Redis process started for this run.
redis_cpu() {
    local total=0
    for port in "${redis_ports[@]}"; do
        local pid
        pid=$(redis-cli -p "$port" info server | awk -F: '/^process_id/{print $2}' | tr -d '\r')
        local ticks
        ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        total=$((total + ticks))
    done
    echo "scale=2; $total / $(getconf CLK_TCK)" | bc
}

run() {
    local shape=$1
    node_pids=()
    if [ "$shape" = cluster ]; then start_redis_cluster; else start_one_redis; fi
    start_nodes
    declare -A before=()
    for port in "${masters[@]}"; do [ "$shape" = cluster ] && before[$port]=$(calls "$port"); done
    local redis_before
    redis_before=$(redis_cpu)
    local recorder=
    if [ -n "$perf_dir" ]; then
        perf record -g -F 499 -p "${node_pids[0]}" -o "$perf_dir/$shape-$round.data" > /dev/null 2>&1 &
        recorder=$!
    fi
    local counter=
    if [ -n "$syscalls" ]; then
        perf stat -e 'syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev' -p "${node_pids[0]}" \
            -o "$work/syscalls.txt" > /dev/null 2>&1 &
        counter=$!
    fi
    local output
    output=$("$bench" fanout --ports "${node_ports[@]}" --clients 3000 --rooms 300 --subprotocol chat.v3.json \
        --senders 30 --messages "$messages" --rate 100000 --pids "${node_pids[@]}" 2>&1)
    [ -n "$recorder" ] && { kill -INT "$recorder"; wait "$recorder" || true; }
    if [ -n "$counter" ]; then
        kill -INT "$counter"; wait "$counter" || true
        echo "  $shape: first node's system calls: $(awk '/sys_enter/{gsub("syscalls:sys_enter_", "", $2); printf "%s %s  ", $2, $1}' "$work/syscalls.txt")"
    fi
    local redis_used
    redis_used=$(echo "$(redis_cpu) - $redis_before" | bc)
    local delivered node_cpu
    delivered=$(echo "$output" | grep -o '[0-9]*/[0-9]* deliveries' | cut -d/ -f1)
    node_cpu=$(echo "$output" | grep -o 'server CPU: [0-9.]*' | grep -o '[0-9.]*$')
    local shares=
    if [ "$shape" = cluster ]; then
        local counts=() total=0
        for port in "${masters[@]}"; do
            local n=$(( $(calls "$port") - ${before[$port]} ))
            counts+=("$n"); total=$((total + n))
        done
        shares=" commands per master: $(for n in "${counts[@]}"; do printf '%d %% ' $((100 * n / total)); done)"
    fi
    echo "$output" | grep -E 'fan-out|latency' | sed "s/^/  $shape: /"
    local per_cpu
    per_cpu=$(echo "$delivered / ($node_cpu + $redis_used)" | bc)
    echo "  $shape: $per_cpu deliveries per server CPU-second (nodes ${node_cpu} CPU-s, Redis ${redis_used} CPU-s)${shares}"
    cleanup
}

for round in $(seq 1 "$rounds"); do
    echo "== round $round"
    if [ -n "${only:-}" ]; then run "$only"; elif [ $((round % 2)) -eq 1 ]; then run one; run cluster; else run cluster; run one; fi
done

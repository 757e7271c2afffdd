#!/usr/bin/env bash
# Login tokens (PROTOCOL.md §7) on 3 release nodes + Redis (docs/BENCHMARKS.md, "Login"):
#
#   storm    10 000 v3 users each say hello, then join one room (500
#            handshakes in flight), without --auth-key, with HS256 tokens
#            and with ES256 tokens; the nodes' CPU seconds for the storm
#   publish  lines published through the server API into one room, from one
#            client process, per second: one connection with one request in
#            flight, one connection pipelining 8, and 8 connections
#
#   scripts/bench-login.sh [--rounds 2]
#
# The machine is shared and noisy: compare figures of one sitting only.
set -euo pipefail
cd "$(dirname "$0")/.."

node=.build/release/chat-node
bench=.build/release/chat-bench
rounds=2
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
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

head -c 32 /dev/urandom | base64 > "$work/secret"
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$work/ec.pem" 2>/dev/null
openssl pkey -in "$work/ec.pem" -pubout -out "$work/ec.pub"
scripts/bench-tokens.py hs256 "$work/secret" 10000 > "$work/hs256.tokens"
scripts/bench-tokens.py es256 "$work/ec.pem" 10000 > "$work/es256.tokens"
head -c 24 /dev/urandom | base64 > "$work/api.key"

# start_cluster [NODE FLAGS...]
start_cluster() {
    redis-server --port 16490 --save '' --appendonly no --dir "$work" --bind 127.0.0.1 > "$work/redis.log" 2>&1 & pids+=($!)
    wait_for_port 16490
    for port in "${ports[@]}"; do
        "$node" --port "$port" --node-id "n$port" --rate 0 --redis redis://127.0.0.1:16490 "$@" > "$work/node-$port.log" 2>&1 & pids+=($!)
    done
    for port in "${ports[@]}"; do wait_for_port "$port"; done
    sleep 0.5
}

# node_cpu: the nodes' CPU seconds so far (user + system), summed.
node_cpu() {
    local total=0
    for pid in "${pids[@]:1}"; do
        total=$(awk -v t="$total" -v hz="$(getconf CLK_TCK)" '{print t + ($14 + $15) / hz}' "/proc/$pid/stat")
    done
    echo "$total"
}

storm() {
    local label=$1
    shift
    start_cluster "$@"
    local before
    before=$(node_cpu)
    "$bench" storm --ports "${ports[@]}" --users 10000 --subprotocol chat.v3.json --room one --in-flight 500 --sources 4 \
        --timeout 120 --idle 0 ${tokens:+--token-file "$tokens"} 2>&1 | grep -E '^RESULT' | grep -o 'joined=[^ ]* failed=[^ ]* join_s=[^ ]*' \
        | sed "s/^/$label  /" | tr '\n' ' '
    echo "node_cpu_s=$(awk -v a="$(node_cpu)" -v b="$before" 'BEGIN{printf "%.2f", a - b}')"
    cleanup
}

for round in $(seq "$rounds"); do
    echo "== storm, round $round: 10000 v3 users into one room"
    tokens='' storm "no-auth"
    tokens="$work/hs256.tokens" storm "hs256  " --auth-key "hs256:$work/secret"
    tokens="$work/es256.tokens" storm "es256  " --auth-key "$work/ec.pub"
done

echo "== publish through the server API into one room"
start_cluster --api-key-file "$work/api.key"
"$bench" api-publish --port "${ports[0]}" --key-file "$work/api.key" --room lobby --lines 20000 --connections 1
"$bench" api-publish --port "${ports[0]}" --key-file "$work/api.key" --room lobby --lines 20000 --connections 1 --pipeline 8
"$bench" api-publish --port "${ports[0]}" --key-file "$work/api.key" --room lobby --lines 20000 --connections 8
cleanup

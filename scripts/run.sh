#!/usr/bin/env bash
# Starts a local chat cluster on loopback: redis-server, three chat-node
# processes and HAProxy in front, and prints the one URL to open.
# Ctrl-C stops everything.
#
#   ./scripts/run.sh                  the local cluster
#   ./scripts/run.sh --redis-cluster  the same on a Redis Cluster (3 masters, 3 replicas)
#   ./scripts/run.sh --tls            the local cluster behind HAProxy speaking TLS (https://, wss://)
#                                     with a certificate from a new local authority (its PEM is printed)
#   ./scripts/run.sh --single         one standalone node (no Redis), extra flags go to chat-node
#
# Ports: CHAT_LB_PORT (8080), CHAT_NODE_PORTS ("8081 8082 8083"), CHAT_REDIS_PORT (6390;
# a Redis Cluster takes it and the next five, its bus ports 100 above).
set -euo pipefail
cd "$(dirname "$0")/.."

build_release() {
    echo "building a release chat-node (the first release build takes several minutes on 2 cores)..." >&2
    ./scripts/build-info.sh
    swift build -c release --product chat-node >&2
    bin="$(swift build -c release --show-bin-path)/chat-node"
}

if [ "${1:-}" = "--single" ]; then
    shift
    ./scripts/setup.sh
    build_release
    exec "$bin" "$@"
fi

redis_cluster=false
tls=false
while [ $# -gt 0 ]; do
    case "$1" in
        --redis-cluster) redis_cluster=true; shift ;;
        --tls) tls=true; shift ;;
        *) echo "unknown argument: $1 (see the top of scripts/run.sh)" >&2; exit 2 ;;
    esac
done

./scripts/setup.sh haproxy
build_release

lb_port=${CHAT_LB_PORT:-8080}
redis_port=${CHAT_REDIS_PORT:-6390}
read -r -a node_ports <<< "${CHAT_NODE_PORTS:-8081 8082 8083}"
run_dir=$(mktemp -d -t chat-cluster.XXXXXX)
pids=()

redis_pids=()
stop_all() {
    trap - INT TERM EXIT
    echo "stopping the cluster..."
    # Nodes first (they drain their clients through Redis), then HAProxy and Redis.
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for pid in "${redis_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${redis_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    echo "stopped; logs were in $run_dir"
}
trap stop_all INT TERM EXIT

# start_redis PORT [ARGS...]: a redis-server on loopback with its own directory.
start_redis() {
    local port=$1
    shift
    mkdir -p "$run_dir/redis-$port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$run_dir/redis-$port" "$@" \
        > "$run_dir/redis-$port.log" 2>&1 &
    redis_pids+=($!)
    for _ in $(seq 50); do
        redis-cli -p "$port" ping > /dev/null 2>&1 && break
        sleep 0.1
    done
}

if $redis_cluster; then
    cluster_ports=()
    for offset in 0 1 2 3 4 5; do
        port=$((redis_port + offset))
        start_redis "$port" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port $((port + 100)) \
            --cluster-node-timeout 3000 --cluster-require-full-coverage no
        cluster_ports+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${cluster_ports[@]}" --cluster-replicas 1 --cluster-yes > "$run_dir/cluster-create.log" 2>&1
    redis_url="redis-cluster://127.0.0.1:$redis_port,127.0.0.1:$((redis_port + 1))"
else
    start_redis "$redis_port"
    redis_url="redis://127.0.0.1:$redis_port"
fi

index=1
for port in "${node_ports[@]}"; do
    "$bin" --port "$port" --redis "$redis_url" --node-id "node-$index" \
        > "$run_dir/node-$index.out" 2> "$run_dir/node-$index.log" &
    pids+=($!)
    index=$((index + 1))
done
for index in $(seq ${#node_ports[@]}); do
    for _ in $(seq 100); do
        grep -q "listening on" "$run_dir/node-$index.out" 2>/dev/null && break
        sleep 0.1
    done
done

scheme=http
if $tls; then
    # A local authority and a certificate it signs for 127.0.0.1 and localhost.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=chat local CA" \
        -keyout "$run_dir/ca.key" -out "$run_dir/ca.pem" 2> /dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$run_dir/lb.key" -out "$run_dir/lb.csr" 2> /dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$run_dir/lb.ext"
    openssl x509 -req -in "$run_dir/lb.csr" -CA "$run_dir/ca.pem" -CAkey "$run_dir/ca.key" -CAcreateserial -days 30 \
        -extfile "$run_dir/lb.ext" -out "$run_dir/lb.crt" 2> /dev/null
    cat "$run_dir/lb.crt" "$run_dir/lb.key" > "$run_dir/lb.pem"
    export CHAT_LB_CERT="$run_dir/lb.pem"
    scheme=https
fi
./scripts/local-haproxy-config.sh "$lb_port" "${node_ports[@]}" > "$run_dir/haproxy.cfg"
haproxy -f "$run_dir/haproxy.cfg" -db > "$run_dir/haproxy.log" 2>&1 &
pids+=($!)

echo "chat cluster is up: open $scheme://127.0.0.1:$lb_port"
if $tls; then
    echo "(TLS with a certificate from a local authority: trust $run_dir/ca.pem in the browser, or curl --cacert $run_dir/ca.pem)"
fi
echo "(nodes on ports ${node_ports[*]}, Redis at $redis_url, logs in $run_dir; Ctrl-C stops everything)"
wait -n "${pids[@]}" || true

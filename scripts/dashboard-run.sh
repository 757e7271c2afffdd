#!/usr/bin/env bash
# A short monitored run for docs/OPERATIONS.md's monitoring section: Redis, three
# release nodes and a local Prometheus scraping them every second; a connect
# storm of v2 users (half of them v1), then a broadcast load; then the
# dashboard's panels drawn from Prometheus into docs/dashboard.png.
#
#   scripts/dashboard-run.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/dashboard.png}
node=.build/release/chat-node
bench=.build/release/chat-bench
[ -x "$node" ] && [ -x "$bench" ] || { echo "build first: swift build -c release" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
pids=()
trap 'for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT

redis-server --port 16392 --save '' --appendonly no --dir "$(mktemp -d)" --bind 127.0.0.1 > /dev/null 2>&1 &
pids+=($!)
ports=(18281 18282 18283)
sleep 0.5
for port in "${ports[@]}"; do
    "$node" --port "$port" --node-id "n$port" --rate 0 --redis redis://127.0.0.1:16392 > "$work/node-$port.log" 2>&1 &
    pids+=($!)
done
cat > "$work/prometheus.yml" <<CONFIG
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: chat
    static_configs: [{ targets: ["127.0.0.1:18281", "127.0.0.1:18282", "127.0.0.1:18283"] }]
CONFIG
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address=127.0.0.1:19090 > "$work/prometheus.log" 2>&1 &
pids+=($!)
sleep 3
start=$(date +%s)
sleep 10
"$bench" storm --ports "${ports[@]}" --users 3000 --subprotocol chat.v2.json --in-flight 200 --idle 15 >&2 &
storm=$!
sleep 8
"$bench" storm --ports "${ports[@]}" --users 1000 --nick-prefix v --subprotocol chat.v1.json --in-flight 100 --idle 5 --timeout 20 >&2
wait "$storm"
"$bench" fanout --ports "${ports[@]}" --clients 200 --messages 6000 --rate 200 --subprotocol chat.v2.json >&2
sleep 20
end=$(date +%s)
python3 scripts/plot-dashboard.py http://127.0.0.1:19090 "$start" "$end" "$out"

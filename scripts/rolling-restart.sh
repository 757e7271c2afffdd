#!/usr/bin/env bash
# Replaces the chat nodes of a compose deployment one at a time, so users
# never lose the service: for each running node, start one new container
# (with the image as built now), wait until it is healthy (its /readyz
# answers 200), then stop one old node with SIGTERM (it drains: its
# clients get 1001, reconnect through HAProxy to the others and resume).
#
#   docker compose build chat && scripts/rolling-restart.sh
#   scripts/rolling-restart.sh -f docker-compose.yml -f docker-compose.tls.yml
#
# Arguments are passed to `docker compose` (compose files, project name).
# The chaos scenario `rolling-restart` checks the same steps on local processes.
set -euo pipefail
cd "$(dirname "$0")/.."
compose=(docker compose "$@")

old=$("${compose[@]}" ps -q chat)
count=$(echo "$old" | grep -c . || true)
[ "$count" -gt 0 ] || { echo "no chat nodes are running" >&2; exit 1; }
echo "replacing $count chat nodes, one at a time"

wait_healthy() {
    local id=$1
    for _ in $(seq 60); do
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ] && return 0
        sleep 1
    done
    echo "node $id did not become healthy within 60 s; stopping here (the old nodes still serve)" >&2
    return 1
}

for id in $old; do
    before=$("${compose[@]}" ps -q chat | sort)
    "${compose[@]}" up -d --no-deps --no-recreate --scale chat=$((count + 1)) chat
    new=$(comm -13 <(echo "$before") <("${compose[@]}" ps -q chat | sort) | head -1)
    [ -n "$new" ] || { echo "compose started no new node" >&2; exit 1; }
    wait_healthy "$new"
    echo "node ${new:0:12} is ready; draining ${id:0:12}"
    docker stop -t 15 "$id" > /dev/null
    docker rm "$id" > /dev/null
done
echo "done: $count nodes replaced"

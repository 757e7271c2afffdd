#!/usr/bin/env bash
# Prints an HAProxy configuration for a local cluster on loopback.
# Usage: scripts/local-haproxy-config.sh LB_PORT NODE_PORT...
set -euo pipefail
lb_port=$1
shift

cat <<CONFIG
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # Upgraded WebSockets are tunnels; node heartbeats keep them busy.
    timeout tunnel 1h
    timeout client-fin 5s
    timeout http-request 10s

frontend chat
    bind 127.0.0.1:${lb_port}
    # As in deploy/haproxy/haproxy.cfg: metrics and the server API stay private.
    http-request return status 404 content-type text/plain string "not found" if { path /metrics } || { path_beg /metrics/ /api/ } || { path /api }
    default_backend nodes

backend nodes
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
CONFIG

index=1
for port in "$@"; do
    echo "    server node-${index} 127.0.0.1:${port} check"
    index=$((index + 1))
done

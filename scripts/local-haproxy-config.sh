#!/usr/bin/env bash
# Prints an HAProxy configuration for a local cluster on loopback.
# Usage: scripts/local-haproxy-config.sh LB_PORT NODE_PORT...
# With CHAT_LB_CERT (a PEM file holding the certificate chain and its key),
# LB_PORT speaks TLS (https://, wss://) with the settings of deploy/haproxy/tls.cfg.
set -euo pipefail
lb_port=$1
shift

tls_global=""
tls_bind=""
tls_headers=""
if [ -n "${CHAT_LB_CERT:-}" ]; then
    tls_global="    ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets"
    tls_bind=" ssl crt ${CHAT_LB_CERT} alpn http/1.1"
    tls_headers='    http-response set-header Strict-Transport-Security "max-age=63072000"'
fi

cat <<CONFIG
global
    maxconn 4096
${tls_global}

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
    bind 127.0.0.1:${lb_port}${tls_bind}
${tls_headers}
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

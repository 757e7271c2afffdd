#!/usr/bin/env bash
# Breaks a real local cluster under load and checks what PROTOCOL.md promises;
# one line per scenario (see docs/RELIABILITY.md).
#   ./scripts/chaos.sh            short mode (CI, a few minutes, debug build)
#   ./scripts/chaos.sh long       long mode (releases: bigger loads, the soak,
#                                 release build, then the frame decoder's fuzzer)
#   ./scripts/chaos.sh short --scenario storm flood   only some scenarios
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-short}
shift || true

# The partition scenario also needs iproute2 and iptables (and root); without
# them it prints SKIP and the others run.
if [ "$(id -u)" -eq 0 ]; then
    ./scripts/setup.sh haproxy iproute2 iptables
else
    ./scripts/setup.sh haproxy
fi
# Thousands of sockets in one process: lift the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"

if [ "$mode" = long ]; then
    swift build -c release --product chat-node
    swift build -c release --product chat-chaos
    .build/release/chat-chaos --mode long "$@"
    ./scripts/fuzz.sh 300
else
    swift build --product chat-node
    swift build --product chat-chaos
    .build/debug/chat-chaos --mode short "$@"
fi

#!/usr/bin/env bash
# Installs what is missing, builds once, runs every Swift test, the web
# client's protocol tests (node), its browser tests (headless Chromium
# against a real local cluster), then the chaos suite's short mode.
set -euo pipefail
cd "$(dirname "$0")/.."

extra=()
command -v node > /dev/null 2>&1 || extra+=(nodejs)
./scripts/setup.sh haproxy docker-compose prometheus chromium chromium-driver python3-venv "${extra[@]}"
./scripts/build-info.sh
swift build --build-tests
# The Redis Cluster suites start six redis-servers per test: they run on
# their own, after the rest, so their load does not skew timing-sensitive tests.
# The holder-script tests join them (they talk to Redis directly, and a
# connection whose ping reply is 3 s late on a loaded machine counts as lost),
# and so do the §7 suites that start a Redis and three nodes per case, and the
# slow-cluster tests, whose hello timeouts are short by design.
# Swift Testing runs every test at once by default: on 2 cores the first
# seconds of a run then stall every test's timers. Eight at a time costs the
# run about 10 s and keeps every test's clock honest.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-8}"
isolated_suites='RedisClusterClientTests|RedisClusterNodeTests|ClusterScriptSlotTests|HolderScriptsTests|ServerAPITests|SeveralConnectionsTests|PrivateRoomTests|SlowClusterTests'
if [ $# -gt 0 ]; then
    swift test --skip-build "$@"
else
    swift test --skip-build --skip "$isolated_suites"
    swift test --skip-build --filter "$isolated_suites"
fi
node --test Tests/WebClient
./scripts/browser-test.sh
./scripts/chaos.sh short

#!/usr/bin/env bash
# Runs the web client's browser tests: headless Chromium driven by Selenium
# against a real local cluster. Screenshots go to artifacts/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh haproxy chromium chromium-driver python3-venv
./scripts/build-info.sh
swift build --product chat-node

venv=.venv-browser
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import selenium, axe_selenium_python" 2>/dev/null; then
    python3 -m venv "$venv"
    # axe-selenium-python brings axe-core, for the accessibility checks.
    "$venv/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20" "pytest>=8" "axe-selenium-python>=2.1"
fi
"$venv/bin/pytest" -q Tests/Browser "$@"

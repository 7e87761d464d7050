#!/usr/bin/env bash
# The test command: installs what the build needs, then runs every test in a release build
# (numeric Swift is 10-100x slower in debug builds). Pass extra `swift test` arguments through,
# e.g. `scripts/test.sh --filter Conv2D`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift test -c release -Xswiftc -enable-testing "$@"

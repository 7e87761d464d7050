#!/usr/bin/env bash
# The test command: installs what the build needs, then runs every test in a release build
# (numeric Swift is 10-100x slower in debug builds), then the interoperability tests with the real
# A1111 and OpenAI client packages (scripts/interop-test.sh). Extra arguments go to `swift test`,
# e.g. `scripts/test.sh --filter Conv2D`, and then the interoperability tests are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift test -c release -Xswiftc -enable-testing "$@"
if (($# == 0)); then
    scripts/interop-test.sh
fi

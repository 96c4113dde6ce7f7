#!/usr/bin/env bash
# Quick start, second command: installs what is missing (test peers included), builds Release
# and runs every unit and integration test through CTest; non-zero on any failure.
#   BUILD_DIR (default build) and CMAKE_FLAGS (extra -D options) change the build; .ci/run uses
#   them for its sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
scripts/deps.sh test
# CMAKE_FLAGS holds several words on purpose.
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_FLAGS:-}
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"

#!/usr/bin/env bash
# Quick start, first command: installs what is missing, builds Release, then runs realip-echo
# on 127.0.0.1:8081 behind realip-proxy with conf/realip-proxy.conf, in the foreground.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
scripts/deps.sh build
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)" --target realip-proxy realip-echo
"$build/proxy/echo/realip-echo" -l 127.0.0.1 -p 8081 &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null || true' EXIT
echo "realip-proxy: try  curl -H 'X-Forwarded-For: 203.0.113.7' http://127.0.0.1:8080/"
"$build/proxy/realip-proxy" -c conf/realip-proxy.conf

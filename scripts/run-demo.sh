#!/usr/bin/env bash
# Starts realip-echo on 127.0.0.1:8081 and realip-proxy with conf/realip-proxy.conf in the
# foreground; Ctrl-C stops both.
set -euo pipefail
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
"$build/proxy/echo/realip-echo" -l 127.0.0.1 -p 8081 &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null || true' EXIT
echo "realip-proxy: try  curl -H 'X-Forwarded-For: 203.0.113.7' http://127.0.0.1:8080/"
"$build/proxy/realip-proxy" -c "$top/conf/realip-proxy.conf"

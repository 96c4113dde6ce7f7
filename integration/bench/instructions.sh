#!/usr/bin/env bash
# User-space instructions per proxied request under callgrind: a figure that, unlike req/s,
# barely moves on a shared, noisy machine (back-to-back runs agree within about 20).
#
# Usage: integration/bench/instructions.sh [--build DIR] [--port-base N] [--close]
#   Starts a backend nginx on N+1 and realip-proxy (DIR/proxy/realip-proxy) under callgrind on
#   N+2, warms up for 1 s, zeroes the counters, drives wrk -t1 -c8 for 4 s with a 3-hop
#   X-Forwarded-For (with --close: one request per connection) and prints
#   "requests R instructions I per-request P". The profile of the measured window is left in
#   $TMPDIR/realip-instructions-N/cg.out (callgrind_annotate --inclusive=yes on it: the self
#   costs of a dump taken mid-run are not attributed right).
# Needs valgrind (apt-get install valgrind), nginx, wrk and curl.
set -euo pipefail

build=build
base=21000
mode=keepalive
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --port-base) base=$2; shift 2 ;;
    --close) mode=close; shift ;;
    *) echo "usage: $0 [--build DIR] [--port-base N] [--close]" >&2; exit 2 ;;
  esac
done
for cmd in valgrind callgrind_control callgrind_annotate nginx wrk curl; do
  command -v "$cmd" >/dev/null || { echo "$0: $cmd is missing" >&2; exit 1; }
done

dir=${TMPDIR:-/tmp}/realip-instructions-$base
mkdir -p "$dir/body" "$dir/proxy_temp"
backend_port=$((base + 1))
proxy_port=$((base + 2))
cat >"$dir/backend.conf" <<EOC
pid $dir/backend.pid;
error_log $dir/backend-error.log crit;
daemon off;
worker_processes 1;
events { worker_connections 4000; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy_temp;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$backend_port; location / { return 200 "hello from the backend\n"; } }
}
EOC
cat >"$dir/proxy.conf" <<EOC
worker_processes 1;
events { worker_connections 4000; }
http {
  access_log off;
  keepalive_requests 1000000;
  set_real_ip_from 127.0.0.0/8;
  upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
  server {
    listen 127.0.0.1:$proxy_port;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOC

nginx -c "$dir/backend.conf" -p "$dir" >/dev/null 2>&1 &
backend=$!
rm -f "$dir"/cg.out*
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
  "$build/proxy/realip-proxy" -c "$dir/proxy.conf" >"$dir/proxy.log" 2>&1 &
proxy=$!
cleanup() {
  kill "$proxy" "$backend" 2>/dev/null || true
  wait "$proxy" "$backend" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 150); do
  curl -s -o /dev/null "http://127.0.0.1:$proxy_port/" && break
  sleep 0.2
done

extra=()
[[ $mode == close ]] && extra=(-H "Connection: close")
url="http://127.0.0.1:$proxy_port/"
wrk -t1 -c8 -d1s "${extra[@]}" "$url" >/dev/null
callgrind_control -z "$proxy" >/dev/null 2>&1
requests=$(wrk -t1 -c8 -d4s "${extra[@]}" \
  -H "X-Forwarded-For: 203.0.113.7, 198.51.100.2, 127.0.0.5" "$url" |
  awk '/requests in/ {print $1}')
callgrind_control -d "$proxy" >/dev/null 2>&1
cleanup
trap - EXIT
# The dump taken right after the load holds the measured window alone.
mv -f "$dir/cg.out.1" "$dir/cg.out"
total=$(callgrind_annotate "$dir/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "requests $requests instructions $total per-request $((total / requests))"

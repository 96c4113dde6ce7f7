#!/usr/bin/env bash
# Builds docker/Dockerfile and checks the image as a deployment would use it:
#   1. the image's own configuration on a read-only root filesystem, behind it realip-echo (run
#      from the same image) on 127.0.0.1:8081: a request with X-Forwarded-For comes back as
#      the echo's JSON with an x-real-ip header;
#   2. a replacement configuration mounted over /etc/realip-proxy/realip-proxy.conf (another
#      port, 127.0.0.1 trusted): that listener answers and x-real-ip is the forwarded address;
#   3. SIGTERM (podman stop) ends each proxy container with exit status 0.
# Exits non-zero on any failure. No Docker engine is needed: podman builds and runs the same
# Dockerfile (see ENVIRONMENT.md, "Building and running the Docker image without a Docker
# engine"); the podman-specific flags live here, never in the Dockerfile.
#
# Usage: scripts/docker-test.sh            (REALIP_IMAGE overrides the tag, default realip-proxy)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

image=${REALIP_IMAGE:-realip-proxy}
base_image=docker.io/library/debian:bookworm-slim
# crun (podman's default runtime) fails on this machine class's cgroup layout, and the default
# ulimits are above what the sandbox allows.
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

fail() { echo "docker-test: FAIL: $*" >&2; exit 1; }
step() { echo "== docker-test: $*"; }

scripts/deps.sh docker
command -v curl >/dev/null || fail "curl is needed (scripts/deps.sh test)"
command -v python3 >/dev/null || fail "python3 is needed (scripts/deps.sh test)"

# The image's own configuration listens on 8080 and proxies to 8081: check before building.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in 8080 8081; do
  port_in_use "$port" && fail "127.0.0.1:$port is in use; the image's configuration needs it"
done

work=$(mktemp -d)
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do
    "${podman[@]}" rm -f -t 0 "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The mirror of the `bookworm` stanza in the deb822 sources file: the only archive reachable.
debian_mirror() {
  local line uris="" suites="" found=""
  while IFS= read -r line || [[ -n $line ]]; do
    case "$line" in
      URIs:*) uris=${line#URIs:} ;;
      Suites:*) suites=${line#Suites:} ;;
      "")
        if [[ " $suites " == *" bookworm "* && -n $uris ]]; then found=$uris; break; fi
        uris="" suites="" ;;
    esac
  done < /etc/apt/sources.list.d/debian.sources
  if [[ -z $found && " $suites " == *" bookworm "* ]]; then found=$uris; fi
  read -r found _ <<< "$found"
  [[ -n $found ]] || fail "no bookworm URIs in /etc/apt/sources.list.d/debian.sources"
  echo "$found"
}

# No image registry is reachable: make debian:bookworm-slim locally, once, with debootstrap.
if ! "${podman[@]}" image exists "$base_image"; then
  mirror=$(debian_mirror)
  step "creating $base_image with debootstrap from $mirror"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  # As slim as the official image: no downloaded packages or package lists, and no
  # documentation, manual pages or translations, now or from later installs (dpkg excludes).
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/slim"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
    -exec rm -rf {} +
  tar -C "$rootfs" -c . | "${podman[@]}" import - "$base_image" >/dev/null
  rm -rf "$rootfs"
fi

step "building $image from docker/Dockerfile"
"${podman[@]}" build --network host "${limits[@]}" -t "$image" -f docker/Dockerfile . ||
  fail "podman build"
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
user=$("${podman[@]}" image inspect --format '{{.Config.User}}' "$image")
echo "docker-test: image $image: $((size / 1000000)) MB ($size bytes), user $user"
[[ $user == 10001:10001 ]] || fail "image user is '$user', expected 10001:10001"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run NAME ARGS...: starts a detached container on the host network with a read-only root and
# no tmpfs anywhere (as Kubernetes' readOnlyRootFilesystem without volumes would).
run() {
  local name=$1
  shift
  containers+=("$name")
  "${podman[@]}" run -d --name "$name" --network host --read-only --read-only-tmpfs=false \
    "${limits[@]}" "$@" >/dev/null || fail "podman run $name"
}

logs() { "${podman[@]}" logs "$1" 2>&1 | tail -n 40 >&2 || true; }

# wait_http NAME PORT: until something answers HTTP on 127.0.0.1:PORT; fails early if the
# container NAME stops. A bound on the wait, not a timing assertion.
wait_http() {
  local name=$1 port=$2 i
  for ((i = 0; i < 300; i++)); do
    if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then return 0; fi
    if [[ $("${podman[@]}" container inspect --format '{{.State.Running}}' "$name") != true ]]
    then
      logs "$name"
      fail "$name exited before answering on port $port"
    fi
    sleep 0.1
  done
  logs "$name"
  fail "nothing answered on 127.0.0.1:$port"
}

# real_ip PORT: the x-real-ip header that realip-echo saw for a request sent through the proxy
# on PORT with X-Forwarded-For: 203.0.113.7 ("" when absent).
real_ip() {
  curl -sS --max-time 10 -H 'X-Forwarded-For: 203.0.113.7' "http://127.0.0.1:$1/docker-test" \
    >"$work/reply.json" || fail "curl through port $1"
  python3 - "$work/reply.json" <<'PY' || { cat "$work/reply.json" >&2; fail "reply is not the echo JSON"; }
import json, sys
with open(sys.argv[1]) as f:
    reply = json.load(f)
assert reply["uri"] == "/docker-test", reply
print(reply["headers"].get("x-real-ip", ""))
PY
}

# stop_clean NAME: SIGTERM through `podman stop` (the image's STOPSIGNAL); exit status 0 within
# the grace period, not a SIGKILL (137).
stop_clean() {
  "${podman[@]}" stop -t 30 "$1" >/dev/null || fail "podman stop $1"
  local code
  code=$("${podman[@]}" container inspect --format '{{.State.ExitCode}}' "$1")
  if [[ $code != 0 ]]; then
    logs "$1"
    fail "$1 exited with status $code after SIGTERM"
  fi
}

suffix=$$
step "realip-echo from the image on 127.0.0.1:8081"
run "realip-echo-$suffix" --entrypoint /usr/local/bin/realip-echo "$image" -l 127.0.0.1 -p 8081
wait_http "realip-echo-$suffix" 8081

step "the image's own configuration, read-only root filesystem"
run "realip-proxy-$suffix" "$image"
wait_http "realip-proxy-$suffix" 8080
ip=$(real_ip 8080)
[[ -n $ip ]] || fail "no x-real-ip header reached the backend through the default configuration"
echo "docker-test: default configuration: x-real-ip $ip"
stop_clean "realip-proxy-$suffix"
echo "docker-test: default configuration: SIGTERM -> exit 0"

step "a configuration mounted over /etc/realip-proxy/realip-proxy.conf"
port=$(free_port)
cat >"$work/realip-proxy.conf" <<EOF
worker_processes 1;
events {
    worker_connections 64;
}
http {
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://127.0.0.1:8081;
        }
    }
}
EOF
chmod 644 "$work/realip-proxy.conf"
run "realip-proxy-mounted-$suffix" \
  -v "$work/realip-proxy.conf:/etc/realip-proxy/realip-proxy.conf:ro" "$image"
wait_http "realip-proxy-mounted-$suffix" "$port"
ip=$(real_ip "$port")
[[ $ip == 203.0.113.7 ]] || fail "mounted configuration: x-real-ip is '$ip', expected 203.0.113.7"
echo "docker-test: mounted configuration on port $port: x-real-ip $ip"
stop_clean "realip-proxy-mounted-$suffix"
echo "docker-test: mounted configuration: SIGTERM -> exit 0"

"${podman[@]}" stop -t 10 "realip-echo-$suffix" >/dev/null || true
echo "docker-test: passed (image $image, $((size / 1000000)) MB)"

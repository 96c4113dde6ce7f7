#!/usr/bin/env bash
# Installs the Debian 12 packages realip-proxy needs, and only those that are missing.
# Usage: scripts/deps.sh [build|runtime|test|docker|all]   (default: all)
#   build   - compilers, CMake and the libraries the proxy links
#   runtime - the shared libraries the binary needs (used by the Docker runtime stage)
#   test    - build + peers the test suite runs against (curl, haproxy, nginx, ...) + Node.js
#             and npm for the Kubernetes manifest validator
#   docker  - podman, runc and debootstrap: build and run docker/Dockerfile without a Docker
#             engine (scripts/docker-test.sh)
#   all     - everything, including the fuzzing toolchain and the benchmark driver
set -euo pipefail

build_pkgs=(cmake ninja-build g++ pkg-config
  libevent-dev node-llhttp libssl-dev libabsl-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev)
runtime_pkgs=(libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 libssl3
  libabsl20220623 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 ca-certificates)
test_pkgs=(python3 curl haproxy nginx-light openssl iproute2 procps)
extra_pkgs=(clang libclang-rt-14-dev wrk strace)
docker_pkgs=(podman runc debootstrap)
# Node.js may come from outside Debian's archive (a nodesource build installs /usr/bin/node and
# npm without the nodejs/npm package names), so these are checked by command, not by dpkg.
node_cmds=(node npm)
node_pkgs=(nodejs npm)

case "${1:-all}" in
  build) want=("${build_pkgs[@]}") ;;
  runtime) want=("${runtime_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}"); want_node=1 ;;
  docker) want=("${docker_pkgs[@]}") ;;
  all) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${extra_pkgs[@]}"); want_node=1 ;;
  *) echo "usage: $0 [build|runtime|test|docker|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${want_node:-0} -eq 1 ]]; then
  for i in "${!node_cmds[@]}"; do
    command -v "${node_cmds[$i]}" >/dev/null || missing+=("${node_pkgs[$i]}")
  done
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
# Package post-install scripts must not start nginx or haproxy as system services:
# the tests start their own instances on free loopback ports.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  added_policy=1
fi
# An if, not `[[ ]] &&`: the EXIT trap's last status becomes the script's, and a machine that
# already has the policy (Debian's Docker images do) would make every install "fail".
cleanup() {
  if [[ $added_policy -eq 1 ]]; then "${sudo[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

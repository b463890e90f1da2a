#!/usr/bin/env bash
# Installs what cutover needs (only what is missing), then configures and builds.
#   scripts/setup.sh [release|test]   release: ./build (the demo, bench); test: ./build-test (ASan+UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}

packages=(build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev libyaml-dev libpq-dev libpq5 libssh2-1-dev libssh2-1 libgit2-dev libspdlog-dev libfmt-dev catch2
  libcurl4-openssl-dev nlohmann-json3-dev libzstd-dev libarchive-dev libcli11-dev libssl-dev
  openssh-server openssh-client postgresql-15 postgresql-client-15 zstd tmux curl python3 python3-jsonschema chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The image's libssh2-1 lacks security fixes that come with libssh2-1-dev's dependency.
if dpkg-query -W -f='${Version}' libssh2-1 2>/dev/null | grep -q '+b1$'; then missing+=(libssh2-1); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# valijson is header-only, but its package depends on Qt and Poco: take only its headers.
if [ ! -f .deps/valijson/usr/include/valijson/validator.hpp ]; then
  mkdir -p .deps/valijson
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download libvalijson-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get download libvalijson-dev >/dev/null; })
  dpkg-deb -x "$tmp"/libvalijson-dev_*.deb .deps/valijson
  rm -rf "$tmp"
fi

jobs=$(nproc)
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=Release -DCUTOVER_SANITIZE=OFF) ;;
  test)    dir=build-test; flags=(-DCMAKE_BUILD_TYPE=Debug -DCUTOVER_SANITIZE=ON) ;;
  *) echo "usage: scripts/setup.sh [release|test]" >&2; exit 1 ;;
esac
export CCACHE_BASEDIR="$PWD" CCACHE_DIR="${CCACHE_DIR:-$HOME/.ccache}"
[ -f "$dir/build.ninja" ] || cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"

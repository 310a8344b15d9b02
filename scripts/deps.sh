#!/usr/bin/env bash
# Installs what lakeapi needs to build, test and run, from Debian's packages
# only. Called by `make deps` (and so by `make demo` / `make test`); a no-op
# when everything is present. Set DEPS_EXTRA to add packages (bench: wrk ...).
set -euo pipefail

pkgs=(gcc make cmake ninja-build pkg-config clang libclang-rt-dev
      libuv1-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
      postgresql postgresql-contrib python3 python3-pytest python3-httpx python3-cryptography python3-matplotlib valgrind chromium ${DEPS_EXTRA:-})

# Node.js + npm (Swagger UI, OpenAPI validator, browser tests): the machine image may ship
# its own Node.js, which Debian's npm package conflicts with, so only install when absent.
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

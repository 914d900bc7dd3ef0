#!/usr/bin/env bash
# install-deps.sh - the Debian packages luafpm needs to build, test and demo.
# Installs only what is missing; uses sudo when not root.
set -euo pipefail
packages=(build-essential autoconf automake pkg-config libfcgi-dev libluajit2-5.1-dev
          luajit2 nginx apache2 bats curl python3 spawn-fcgi wrk lua-cjson procps groff-base
          redis-server)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Any package that provides the nginx binary will do.
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    missing=("${missing[@]/#nginx}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep . || true))
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

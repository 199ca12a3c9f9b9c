#!/usr/bin/env bash
# Installs what symroute and its tests need on a Debian machine, only when missing:
# Debian packages for the kernel tools, npm packages from package-lock.json, and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need+=(iproute2)
have ss || need+=(iproute2)
have nft || need+=(nftables)
have socat || need+=(socat)
have conntrack || need+=(conntrack)
have sysctl || need+=(procps)
have ping || need+=(iputils-ping)
have iptables || need+=(iptables)
have tcpdump || need+=(tcpdump)
have arping || need+=(iputils-arping)
have ethtool || need+=(ethtool)
have iperf || need+=(iperf)
have bird || need+=(bird2)
have timeout || need+=(coreutils)
have flock || need+=(util-linux)
have promtool || need+=(prometheus)
have openssl || need+=(openssl)
have etcd || need+=(etcd-server)
have ifup || need+=(ifupdown)
[ -x /lib/systemd/systemd-networkd ] || need+=(systemd)
have chromium || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: missing ${need[*]}; run as root to install them" >&2; exit 1; fi
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
  [ -d node_modules/vitest ] || { echo "setup: npm ci failed" >&2; exit 1; }
fi

rm -f dist/symroute.mjs
npm run -s build 2>&1 | grep -v 'Unknown user config' || true
[ -f dist/symroute.mjs ] || { echo "setup: build failed" >&2; exit 1; }

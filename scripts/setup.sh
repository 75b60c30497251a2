#!/usr/bin/env bash
# Installs what PacketLife's tests and lab need on a fresh Debian machine (idempotent).
# Needs root for apt-get; without root it only says what is missing.
set -euo pipefail
need=(iptables conntrack ipset nginx-light curl iproute2 procps)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: not root; lab tests will skip. Missing packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
  fi
fi

#!/usr/bin/env bash
# Installs what the test suite needs that cargo does not bring: a real redis-server for the
# scale-out tests, Debian's Chromium and ChromeDriver for the browser tests, promtool
# (Debian's prometheus package) to check the shipped alert rules, and node for the
# JavaScript client's tests (node --test). Idempotent; uses
# apt-get as root (or through sudo) only when something is missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# redis-cli forms the Redis Cluster of the cluster tests (`redis-cli --cluster create`).
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v node >/dev/null 2>&1 || need+=(nodejs)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

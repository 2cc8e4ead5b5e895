#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks need, when they are missing.
set -euo pipefail
need=()
command -v pg_dump >/dev/null || need+=(postgresql-client)
command -v psql >/dev/null || need+=(postgresql-client)
command -v wrk >/dev/null || need+=(wrk)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing system packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null

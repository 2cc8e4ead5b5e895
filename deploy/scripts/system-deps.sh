#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks need, when they are missing.
set -euo pipefail
need=()
command -v pg_dump >/dev/null || need+=(postgresql-client)
command -v psql >/dev/null || need+=(postgresql-client)
command -v wrk >/dev/null || need+=(wrk)
command -v promtool >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
# The browser tests of the API docs pages (tests/common/test_docs_browser.py): headless Chromium and its driver.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing system packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The prometheus packages enable daemons (Prometheus 9090, Alertmanager 9093, node-exporter 9100) where systemd
# runs. The tests start their own Prometheus on a free port; a system one would only hold the host ports of the
# monitoring compose stack, so stop and disable what this script just installed.
if [[ " ${need[*]} " == *" prometheus"* ]] && [ -d /run/systemd/system ]; then
  for unit in prometheus prometheus-alertmanager prometheus-node-exporter; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
fi

#!/usr/bin/env bash
# Makes sure the services the test suite talks to are up: PostgreSQL and Redis (and RabbitMQ when installed).
# Starts a local one that is down; fails with a message naming the service when it cannot be reached.
set -uo pipefail
PGHOST=${PGHOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

wait_for() {  # name, check command
  for _ in $(seq 1 30); do eval "$2" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "error: $1 is not reachable and could not be started (see docs/operations.md)" >&2
  return 1
}

if ! pg_isready -h "$PGHOST" -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  wait_for PostgreSQL "pg_isready -h $PGHOST -p 5432 -q" || exit 1
fi

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  wait_for Redis "redis-cli -p $REDIS_PORT ping" || exit 1
fi

if command -v rabbitmq-server >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_for RabbitMQ "(exec 3<>/dev/tcp/127.0.0.1/5672)" || exit 1
fi
exit 0

#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the Postgres half of the store tests, and
# prints its URL (the last stdout line). Idempotent: a second run finds the running cluster and
# prints the same URL. Installs Debian's `postgresql` if it is missing (needs root and apt).
#
#   export TEST_POSTGRES_URL="$(scripts/start-postgres.sh)"
#
# Env: PG_TEST_DIR (default /tmp/switchboard-pg), PG_TEST_PORT (default 54329).
set -euo pipefail

dir="${PG_TEST_DIR:-/tmp/switchboard-pg}"
port="${PG_TEST_PORT:-54329}"
url="postgres://switchboard@127.0.0.1:${port}/switchboard"

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "installing postgresql (apt)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
  bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi

# PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user when we are root.
run() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  echo "$url"
  exit 0
fi

if [ ! -f "$dir/PG_VERSION" ]; then
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  # trust on loopback only: a test cluster with no password, reachable from this machine alone.
  run "'$bindir/initdb' -D '$dir' -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8" >&2
fi
# fsync off: a test cluster trades durability for speed; never use these settings for real data.
run "'$bindir/pg_ctl' -D '$dir' -l '$dir/server.log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" >&2

psql=("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'switchboard'")" != 1 ]; then
  "${psql[@]}" -c "CREATE ROLE switchboard LOGIN CREATEDB" >&2
fi
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'switchboard'")" != 1 ]; then
  "${psql[@]}" -c "CREATE DATABASE switchboard OWNER switchboard" >&2
fi
echo "$url"

#!/usr/bin/env bash
# test/lib.sh: what test/check, test/demo, bench/* and the integration tests
# in test/t share: installing missing Debian packages, building and
# installing the extension with PGXS, and starting/stopping throwaway
# clusters as user postgres (the server refuses to run as root).
#
# COLLECT_PREFIX=/some/dir installs PostgreSQL's files plus collect into a
# private copy of the server (PostgreSQL is relocatable), so several work
# trees can build and test side by side without sharing /usr/lib/postgresql.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${COLLECT_SHARED:-$ROOT/../shared}
PGVER=15
NEEDED_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron
                 libcurl4-openssl-dev make gcc)
SYSTEM_PGBIN=/usr/lib/postgresql/$PGVER/bin
PGBIN=${COLLECT_PREFIX:-}$SYSTEM_PGBIN
export PATH="$PGBIN:$PATH"

log() { printf '%s\n' "$*" >&2; }

# ensure_packages [extra packages...]: apt-get only what is missing
ensure_packages() {
  local missing=() p
  for p in "${NEEDED_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" != 0 ]; then log "missing packages (need root): ${missing[*]}"; return 1; fi
  log "installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_node_tools: npm packages the integration tests use, kept in
# .build/node (prism for the provider specs, ajv for Stripe bodies)
ensure_node_tools() {
  local dir=$ROOT/.build/node
  if [ ! -x "$dir/node_modules/.bin/prism" ] || [ ! -d "$dir/node_modules/ajv" ]; then
    command -v npm >/dev/null || ensure_packages nodejs npm
    mkdir -p "$dir"
    (cd "$dir" && [ -f package.json ] || echo '{"private":true}' > package.json)
    (cd "$dir" && npm install --silent --no-audit --no-fund @stoplight/prism-cli@5 ajv@8 ajv-formats@3 >/dev/null 2>&1)
  fi
  export NODE_TOOLS=$dir/node_modules
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# build_install: compile with PGXS and install (into COLLECT_PREFIX if set)
build_install() {
  if [ -n "${COLLECT_PREFIX:-}" ] && [ ! -x "$PGBIN/postgres" ]; then
    mkdir -p "$COLLECT_PREFIX/usr/lib/postgresql" "$COLLECT_PREFIX/usr/share/postgresql"
    cp -a "/usr/lib/postgresql/$PGVER" "$COLLECT_PREFIX/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$PGVER" "$COLLECT_PREFIX/usr/share/postgresql/"
    chmod -R a+rX "$COLLECT_PREFIX"
  fi
  make -C "$ROOT" -s -j2 PG_CONFIG=$SYSTEM_PGBIN/pg_config >&2
  make -C "$ROOT" -s install PG_CONFIG=$SYSTEM_PGBIN/pg_config \
       ${COLLECT_PREFIX:+DESTDIR=$COLLECT_PREFIX} >/dev/null
}

# cluster_start DIR [postgresql.conf lines...]: initdb + start as postgres,
# sockets in DIR; exports PGHOST/PGPORT/PGUSER/PGDATA for the caller
cluster_start() {
  local dir=$1; shift
  local port=${CLUSTER_PORT:-$(( 20000 + RANDOM % 20000 ))}
  mkdir -p "$dir"; chown postgres: "$dir" 2>/dev/null || true; chmod 755 "$dir"
  as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  {
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir'"
    echo "shared_preload_libraries = 'pg_cron,collect'"
    echo "cron.database_name = 'postgres'"
    echo "max_connections = 200"
    echo "log_min_messages = warning"
    echo "log_line_prefix = '%m [%p] %d '"
    local line; for line in "$@"; do echo "$line"; done
  } >> "$dir/data/postgresql.conf"
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
  export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATA=$dir/data
}

cluster_stop() {
  local dir=${1:-$PGHOST}
  [ -f "$dir/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# scratch_dir: a temp dir readable by postgres, removed at exit unless KEEP=1
scratch_dir() {
  local d; d=$(mktemp -d /tmp/collect.XXXXXX); chmod 755 "$d"
  echo "$d"
}

# psql_q DB SQL: one value, unaligned, errors fatal
psql_q() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$1" -c "$2"; }

# wait_until SECONDS SQL [DB]: poll until the query returns 't'
wait_until() {
  local deadline=$(( $(date +%s) + $1 )) db=${3:-postgres}
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(psql -X -qAt -d "$db" -c "$2" 2>/dev/null)" = t ] && return 0
    sleep 0.2
  done
  return 1
}

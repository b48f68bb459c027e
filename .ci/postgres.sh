#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for heal's fleet tests, and stops it.
#
#   bash .ci/postgres.sh start DIR PORT   # prints the URL on its last line
#   bash .ci/postgres.sh stop DIR
#
# The server is PostgreSQL 15 from the machine image or Debian's package (installed through
# apt-get when missing), in DIR/data, listening on 127.0.0.1:PORT only, with a password (the
# tests check it never leaks). initdb refuses to run as root, so as root the cluster belongs
# to the `postgres` user the package creates. fsync is off: the data is thrown away.
set -euo pipefail

cmd=${1:?usage: postgres.sh start DIR PORT | stop DIR}
dir=${2:?the folder of the server}

bin_dir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$found" ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  fi
  [ -n "$found" ] || { echo "postgres.sh: no PostgreSQL server is installed (apt-get install postgresql)" >&2; exit 1; }
  echo "$found"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    port=${3:?the port}
    bin=$(bin_dir)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ -d "$dir/data" ]; then
      # Started again after a stop (the fleet's outage test): same data, same password.
      password=$(cat "$dir/pw")
    else
      password=heal-pg-$RANDOM$RANDOM
      as_owner sh -c "printf '%s\n' '$password' > '$dir/pw' && chmod 600 '$dir/pw'"
      as_owner "$bin/initdb" -D "$dir/data" -U heal --pwfile="$dir/pw" -A scram-sha-256 \
        --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300 -c synchronous_commit=off" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    "$bin/pg_ctl" --version >&2
    echo "postgres://heal:$password@127.0.0.1:$port/postgres"
    ;;
  stop)
    bin=$(bin_dir)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *)
    echo "usage: postgres.sh start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac

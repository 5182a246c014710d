#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the adapter tests: its own data directory, its own port, 127.0.0.1 only.
#
#   scripts/postgres_test_server.sh start DIR PORT   initdb DIR/data (if new), start, create role and db dbt_hte
#   scripts/postgres_test_server.sh stop DIR         stop the server (fast shutdown); DIR is left for the caller
#
# Debian's postgresql package is installed with apt-get when no server binaries are found (CI runs as root on a
# fresh machine). initdb refuses to run as root, so as root the cluster belongs to the package's `postgres` user.
# Durability is switched off (fsync, full_page_writes): the cluster lives for one test session.
set -euo pipefail

command=${1:?usage: $0 start DIR PORT | stop DIR}
dir=${2:?usage: $0 start DIR PORT | stop DIR}
data="$dir/data"

find_bindir() {
    local pg_ctl
    pg_ctl=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$pg_ctl" ] && command -v pg_ctl >/dev/null 2>&1; then pg_ctl=$(command -v pg_ctl); fi
    [ -n "$pg_ctl" ] && dirname "$pg_ctl"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
start)
    port=${3:?usage: $0 start DIR PORT}
    bindir=$(find_bindir || true)
    if [ -z "$bindir" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "PostgreSQL server binaries not found and not root: install Debian's postgresql package" \
                 "(apt-get install postgresql) or put pg_ctl on PATH." >&2
            exit 1
        fi
        echo "Installing PostgreSQL with apt-get ..." >&2
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
        bindir=$(find_bindir)
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" --pgdata="$data" --username=postgres --auth=trust --encoding=UTF8 \
            --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # The socket goes into DIR too: /var/run/postgresql may not exist or may belong to another cluster.
    if ! as_owner "$bindir/pg_ctl" --pgdata="$data" --log="$dir/server.log" --wait --timeout=60 start \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off \
            -c full_page_writes=off -c synchronous_commit=off -c max_connections=30" >/dev/null; then
        cat "$dir/server.log" >&2
        exit 1
    fi
    psql=("$bindir/psql" --host=127.0.0.1 --port="$port" --username=postgres --dbname=postgres
          --no-psqlrc --quiet --set=ON_ERROR_STOP=1)
    if [ -z "$("${psql[@]}" --tuples-only --command="select 1 from pg_roles where rolname = 'dbt_hte'")" ]; then
        "${psql[@]}" --command="create role dbt_hte login superuser" \
                     --command="create database dbt_hte owner dbt_hte"
    fi
    ;;
stop)
    bindir=$(find_bindir || true)
    if [ -n "$bindir" ] && [ -f "$data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" --pgdata="$data" --mode=fast --wait stop >/dev/null
    fi
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac

#!/bin/sh
# pg_cluster.sh - a throwaway PostgreSQL cluster for test harnesses and benchmarks.
#
#   tests/pg_cluster.sh start   DIR   init DIR/pgdata if needed, start it (or reuse it when it
#                                     already answers), print the libpq environment
#   tests/pg_cluster.sh env     DIR   print the libpq environment of the cluster in DIR
#   tests/pg_cluster.sh stop    DIR   stop it (pg_ctl stop -m fast); stopping a stopped one is fine
#   tests/pg_cluster.sh destroy DIR   stop it and remove DIR
#
# The environment is one line on stdout, for eval or a split on blanks:
#   PGHOST=DIR/run PGPORT=5433 PGUSER=postgres PGDATABASE=postgres
# Everything else goes to stderr.
#
# Same layout and rules as `lakeapi demo` (src/db/cluster.c): unix socket only (no TCP),
# in DIR/run (mode 0700), trust auth, superuser role "postgres". PostgreSQL refuses to
# run as root, so as root the cluster runs as the `postgres` system user and DIR is
# handed to it: DIR must then be reachable by that user (mktemp -d under /tmp is; a
# directory under a mode 0700 /root is not, and is refused with a message).
#
# Settings: PG_CLUSTER_PORT (5433; it only names the socket file), PG_CLUSTER_OPTS (extra
# server options, e.g. "-c fsync=off"), LAKEAPI_PG_BINDIR (the server binaries; default:
# the highest /usr/lib/postgresql/<version>/bin, else pg_ctl on PATH).
# Optional, for tests that need password auth and TLS over TCP (then also pass
# PG_CLUSTER_OPTS="-c listen_addresses=127.0.0.1" and a free PG_CLUSTER_PORT):
#   PG_CLUSTER_HBA  lines put before initdb's pg_hba.conf at every start, e.g.
#                   "host all app 127.0.0.1/32 scram-sha-256" (the trust lines stay after them)
#   PG_CLUSTER_SSL  1: ssl=on with a self-signed certificate DIR/server.crt (made once)
set -eu

die() {
    echo "pg_cluster.sh: $*" >&2
    exit 1
}

[ $# -eq 2 ] || die "usage: $0 start|env|stop|destroy DIR"
cmd=$1
dir=$2

find_bindir() {
    if [ -n "${LAKEAPI_PG_BINDIR:-}" ]; then
        [ -x "$LAKEAPI_PG_BINDIR/pg_ctl" ] ||
            die "no pg_ctl in LAKEAPI_PG_BINDIR=$LAKEAPI_PG_BINDIR"
        echo "$LAKEAPI_PG_BINDIR"
        return
    fi
    best=
    for d in /usr/lib/postgresql/*/bin; do
        if [ ! -x "$d/pg_ctl" ] || [ ! -x "$d/initdb" ] || [ ! -x "$d/postgres" ]; then
            continue
        fi
        v=${d#/usr/lib/postgresql/}
        v=${v%/bin}
        if [ -z "$best" ] || [ "$v" -gt "$best" ] 2>/dev/null; then best=$v; fi
    done
    if [ -n "$best" ]; then
        echo "/usr/lib/postgresql/$best/bin"
        return
    fi
    p=$(command -v pg_ctl 2>/dev/null) || die "PostgreSQL server binaries not found"
    dirname "$(readlink -f "$p")"
}

case "$dir" in
*[[:space:]]*) die "DIR must not contain blanks: $dir" ;;
esac

# Paths are made absolute before anything runs as another user.
if [ "$cmd" = start ]; then
    mkdir -p "$dir"
fi
[ -d "$dir" ] || {
    [ "$cmd" = stop ] || [ "$cmd" = destroy ] || die "no such directory: $dir"
    exit 0
}
dir=$(cd "$dir" && pwd -P)
data=$dir/pgdata
run=$dir/run
log=$dir/postgresql.log
bindir=$(find_bindir)

# As root, run the PostgreSQL programs as the postgres user, with a clean environment.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 ||
        die "running as root but there is no 'postgres' user (PostgreSQL refuses to run as root)"
    if command -v runuser >/dev/null 2>&1; then
        asuser="runuser -u postgres --"
    else
        asuser="setpriv --reuid=postgres --regid=postgres --init-groups"
    fi
else
    asuser=
fi
pg() {
    (cd "$dir" && $asuser env -i PATH="$bindir:/usr/bin:/bin" LANG=C HOME="$dir" "$@")
}

port() {
    if [ -f "$dir/port" ]; then cat "$dir/port"; else echo "${PG_CLUSTER_PORT:-5433}"; fi
}

print_env() {
    echo "PGHOST=$run PGPORT=$(port) PGUSER=postgres PGDATABASE=postgres"
}

is_ready() {
    "$bindir/pg_isready" -q -h "$run" -p "$(port)" -U postgres -d postgres -t 2 2>/dev/null
}

do_start() {
    p=${PG_CLUSTER_PORT:-5433}
    if [ -n "$asuser" ]; then
        chown postgres: "$dir"
        chmod 700 "$dir"
        $asuser test -x "$dir" ||
            die "the postgres user cannot reach $dir (a parent directory is not traversable);" \
                "use a directory under /tmp"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        if ! pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1; then
            cat "$dir/initdb.log" >&2
            die "initdb failed"
        fi
    fi
    if [ -n "${PG_CLUSTER_HBA:-}" ]; then
        [ -f "$data/pg_hba.conf.orig" ] || pg cp pgdata/pg_hba.conf pgdata/pg_hba.conf.orig
        printf '%s\n' "$PG_CLUSTER_HBA" |
            pg sh -c 'cat - pgdata/pg_hba.conf.orig >pgdata/pg_hba.conf'
    fi
    ssl_opts=
    if [ "${PG_CLUSTER_SSL:-0}" = 1 ]; then
        if [ ! -f "$dir/server.key" ]; then
            pg openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=127.0.0.1 \
                -keyout server.key -out server.crt >"$dir/openssl.log" 2>&1 ||
                die "openssl could not make a certificate (log: $dir/openssl.log)"
            pg chmod 600 server.key
        fi
        ssl_opts="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
    fi
    mkdir -p "$run"
    [ -z "$asuser" ] || chown postgres: "$run"
    chmod 700 "$run"
    if [ -f "$data/postmaster.pid" ] && is_ready; then
        echo "pg_cluster.sh: reusing the running cluster in $dir" >&2
        print_env
        return
    fi
    echo "$p" >"$dir/port"
    if ! pg "$bindir/pg_ctl" start -w -t 60 -D "$data" -l "$log" -o "-c listen_addresses='' \
-k $run -p $p -c max_connections=200 -c shared_buffers=256MB -c unix_socket_permissions=0777 \
-c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=2GB $ssl_opts \
${PG_CLUSTER_OPTS:-}" >&2; then
        tail -n 20 "$log" >&2 || true
        die "the server did not start (log: $log)"
    fi
    i=0
    until is_ready; do
        i=$((i + 1))
        [ $i -lt 300 ] || die "the server does not answer on $run (log: $log)"
        sleep 0.1
    done
    print_env
}

do_stop() {
    [ -f "$data/postmaster.pid" ] || return 0
    if ! pg "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 >&2; then
        # Not running after all (a stale pid file) is a stopped cluster.
        pg "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1 || return 0
        die "could not stop the cluster in $dir"
    fi
}

case "$cmd" in
start) do_start ;;
env)
    [ -f "$data/PG_VERSION" ] || die "no cluster in $dir"
    print_env
    ;;
stop) do_stop ;;
destroy)
    do_stop
    rm -rf "$dir"
    ;;
*) die "unknown command: $cmd (start|env|stop|destroy)" ;;
esac

#!/usr/bin/env bash
# bench/run.sh quick|full|growth - the benchmark of issue 6 (`make bench-quick` / `make bench` /
# `make bench-growth`).
#
# Installs the peer's Debian packages if missing, then runs bench/driver.py in a
# fresh work directory under /tmp: a throwaway PostgreSQL cluster, the demo data,
# lakeapi and the FastAPI peer on loopback, wrk and pgbench. The results go to
# bench/results/<date>-<mode>.md (and .json) and to stdout; progress to stderr.
# Whatever happens, the trap stops every process the run started (by pid) and
# destroys the cluster.
#
# quick: SF 0.1, 100k users, 4 s per run, under 2 minutes.
# full:  SF 1, 1M users, 10 s per run, scaling curve, under 10 minutes.
# growth: lakeapi alone on orders at SF 0.1, 1 and 10 (bench/growth.py), about 2 minutes.
# Settings: LAKEAPI_BIN, BENCH_DURATION, BENCH_CONNS, BENCH_PGDIR, BENCH_ACCESS_LOG
# (see bench/driver.py).
set -euo pipefail

mode=${1:-quick}
case "$mode" in
quick) limit=600 ;;
full) limit=1500 ;;
growth) limit=600 ;;
*) echo "usage: $0 quick|full|growth" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

DEPS_EXTRA="wrk python3-fastapi python3-sqlalchemy python3-sqlmodel python3-asyncpg \
python3-uvicorn python3-uvloop python3-httptools" scripts/deps.sh

export LAKEAPI_BIN=${LAKEAPI_BIN:-$root/build/lakeapi}
[ -x "$LAKEAPI_BIN" ] || { echo "bench: no $LAKEAPI_BIN (run make build)" >&2; exit 1; }

# A directory the postgres user can reach when we run as root (see tests/pg_cluster.sh).
work=$(mktemp -d /tmp/lakeapi-bench.XXXXXX)
chmod 755 "$work"

cleanup() {
    rc=$?
    trap - EXIT INT TERM
    if [ -n "${driver_pid:-}" ] && kill -0 "$driver_pid" 2>/dev/null; then
        kill -TERM "$driver_pid" 2>/dev/null || true
        wait "$driver_pid" 2>/dev/null || true
    fi
    # Servers the driver started run in their own process groups: stop each group by its pid.
    if [ -f "$work/pids" ]; then
        while read -r pid; do
            kill -TERM -- "-$pid" 2>/dev/null || true
        done <"$work/pids"
        sleep 0.5
        while read -r pid; do
            kill -KILL -- "-$pid" 2>/dev/null || true
        done <"$work/pids"
    fi
    if [ -z "${BENCH_PGDIR:-}" ]; then
        tests/pg_cluster.sh destroy "$work/pg" >/dev/null 2>&1 || true
        # growth: one cluster per scale factor.
        for d in "$work"/pg-sf*; do
            [ -d "$d" ] && { tests/pg_cluster.sh destroy "$d" >/dev/null 2>&1 || true; }
        done
    else
        tests/pg_cluster.sh stop "$BENCH_PGDIR" >/dev/null 2>&1 || true
    fi
    if [ "$rc" -ne 0 ] && [ -d "$work" ]; then
        for f in "$work"/lakeapi.log "$work"/fastapi.log; do
            # The servers' own messages, not their access logs.
            [ -s "$f" ] && { echo "--- $f (last lines without access log)" >&2;
                grep -v -e '"type":"access"' -e '^INFO: *127\.0\.0\.1:' "$f" | tail -n 15 >&2; }
        done
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: $mode run in $work (lakeapi: $LAKEAPI_BIN, bounded to ${limit}s)" >&2
# The driver runs in the background so that the traps above fire at once on a signal.
if [ "$mode" = growth ]; then
    timeout --signal=TERM "$limit" /usr/bin/python3 "$here/growth.py" "$work" &
else
    timeout --signal=TERM "$limit" /usr/bin/python3 "$here/driver.py" "$mode" "$work" &
fi
driver_pid=$!
wait "$driver_pid"

"""WORKERS: several event loops in one process (src/cli/workers.c). Each loop has its
own listening socket on the same port (SO_REUSEPORT), pool slice and counters;
/metrics merges every loop's so it reads as one loop would; SIGTERM drains all."""
import http.client
import os
import threading

import httpx

from test_metrics import parse


def loop_threads(pid):
    """{tid: cpu ticks} of the process's event-loop threads (named lakeapi-loopN)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith("lakeapi-loop"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return out


def hammer(port, connections, per_connection):
    """GET by key on many keep-alive connections at once; returns the failures."""
    failures = []

    def run():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(per_connection):
            c.request("GET", "/api/v1/orders/1")
            r = c.getresponse()
            r.read()
            if r.status not in (200, 404):
                failures.append(r.status)
        c.close()

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def route_count(text, route="/api/v1/orders/{order_key:int}"):
    fams = parse(text)
    return sum(v for _, labels, v in fams["lakeapi_http_requests_total"]["samples"]
               if labels["route"] == route)


def test_two_loops_serve_and_metrics_read_as_one(lakeapi_server):
    s = lakeapi_server(WORKERS="2", DB_POOL_SIZE="4", DB_MAX_OVERFLOW="2")
    pid = s.proc.pid
    assert len(loop_threads(pid)) == 2
    before = loop_threads(pid)
    assert hammer(s.port, connections=16, per_connection=150) == []
    after = loop_threads(pid)
    # The kernel spread the connections: both loops did work.
    assert all(after[t] > before[t] for t in before), (before, after)
    text = httpx.get(s.url + "/metrics").text
    assert route_count(text) == 16 * 150
    fams = parse(text)
    size = fams["lakeapi_db_pool_size"]["samples"][0][2]
    assert size == 4  # the setting is a total; each loop has its slice
    total = [v for _, lab, v in fams["lakeapi_db_pool_connections"]["samples"]
             if lab["state"] == "total"][0]
    assert 2 <= total <= 4 + 2
    assert [v for _, _, v in fams["lakeapi_build_info"]["samples"]] == [1]
    assert [v for _, _, v in fams["lakeapi_db_pool_healthy"]["samples"]] == [1]
    # Every scrape of any loop agrees (counted once more per scrape of /metrics itself).
    again = httpx.get(s.url + "/metrics").text
    assert route_count(again) == 16 * 150
    assert s.stop() == 0


def test_workers_one_is_one_loop(lakeapi_server):
    s = lakeapi_server(WORKERS="1")
    assert loop_threads(s.proc.pid) == {}  # the main thread runs the only loop
    assert httpx.get(s.url + "/api/v1/orders/1").status_code in (200, 404)
    assert s.stop() == 0


def test_sigterm_drains_every_loop(lakeapi_server):
    s = lakeapi_server(WORKERS="3")
    assert len(loop_threads(s.proc.pid)) == 3
    assert hammer(s.port, connections=6, per_connection=20) == []
    assert s.stop() == 0
    out = s.output()
    assert out.count("http server drained") == 3
    assert out.count("database pool closed") == 3


def test_loops_share_one_schema_snapshot(lakeapi_server, loaded):
    """Loop 0 loads the Data API's snapshot; the other loops adopt it, also after a reload."""
    from conftest import psql
    s = lakeapi_server(WORKERS="2")
    psql(loaded, "DROP TABLE IF EXISTS workers_t; CREATE TABLE workers_t (id int PRIMARY KEY); "
                 "INSERT INTO workers_t VALUES (1), (2)")
    psql(loaded, "NOTIFY lakeapi, 'reload schema'")

    def all_see(path, want):
        codes = []
        for _ in range(24):  # fresh connections: the kernel spreads them over both loops
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            codes.append(r.status)
            c.close()
        return codes == [want] * 24

    import time
    deadline = time.time() + 10
    while not all_see("/rest/v1/workers_t", 200) and time.time() < deadline:
        time.sleep(0.2)
    assert all_see("/rest/v1/workers_t", 200)
    psql(loaded, "DROP TABLE workers_t")
    psql(loaded, "NOTIFY lakeapi, 'reload schema'")
    deadline = time.time() + 10
    while not all_see("/rest/v1/workers_t", 404) and time.time() < deadline:
        time.sleep(0.2)
    assert all_see("/rest/v1/workers_t", 404)
    assert s.stop() == 0
    out = s.output()
    # One load per change, by loop 0 alone (with a snapshot per loop there would be two).
    assert out.count("Data API: schema snapshot 1:") == 1, out[-2000:]

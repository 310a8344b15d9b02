"""Failure semantics against a real PostgreSQL (SPEC section 5): what a client sees when
the pool is exhausted, a statement times out, the database goes away and comes back, a
client disconnects mid-request, or the server is stopped under load - and that every
error body is {"detail": ...} without internal text.

Slow queries are made without any test-only code in lakeapi: a psql session holds
`LOCK TABLE orders_synced IN ACCESS EXCLUSIVE MODE` in an open transaction, so every
query on that table blocks until the lock is released (or statement_timeout fires).
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import httpx
import pytest

from conftest import BIN, ROOT, clean_env, psql

ORDER = "/api/v1/orders/1"  # one uncached query per request


class TableLock:
    """Holds an ACCESS EXCLUSIVE lock on a table from a psql session until release()."""

    def __init__(self, pg, table="orders_synced"):
        self.proc = subprocess.Popen(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, **pg))
        self.proc.stdin.write(f"BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n"
                              "\\echo locked\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""
        if line.strip() != "locked":
            self.proc.kill()
            raise RuntimeError(f"could not lock {table}: {self.proc.stderr.read()}")

    def release(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("COMMIT;\n\\q\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def wait_ready(url, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("server never became ready")


def metric(url, name, labels=""):
    """Value of one sample of /metrics (labels as written, e.g. 'state="busy"')."""
    text = httpx.get(url + "/metrics", timeout=5).text
    want = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{want} not in /metrics")


def timed_get(client, path, out, i):
    t0 = time.monotonic()
    try:
        r = client.get(path)
        out[i] = (r.status_code, r.headers.get("retry-after"), r.text, time.monotonic() - t0)
    except httpx.HTTPError as e:
        out[i] = (None, None, repr(e), time.monotonic() - t0)


def start_threads(url, path, n):
    """n concurrent GETs, each on its own connection of one shared client (creating a
    client per thread costs ~0.1 s of CPU each and would spread the requests out)."""
    client = httpx.Client(base_url=url, timeout=30,
                          limits=httpx.Limits(max_connections=n + 8,
                                              max_keepalive_connections=n + 8))
    out = [None] * n
    threads = [threading.Thread(target=timed_get, args=(client, path, out, i))
               for i in range(n)]
    for t in threads:
        t.start()
    return out, threads


def lakeapi_backends(pg, appname="lakeapi"):
    """lakeapi's pool connections: the Data API's schema-reload LISTEN connections are not."""
    return int(psql(pg, "SELECT count(*) FROM pg_stat_activity "
                        f"WHERE application_name = '{appname}' AND backend_type = 'client backend' "
                        "AND query NOT LIKE 'LISTEN %'"))


# ---- pool exhausted -> 503 + Retry-After within the acquire timeout ----

def test_pool_exhausted_is_503_with_retry_after(loaded, lakeapi_server):
    # One connection carries at most 32 pipelined queries (the pool's depth): 48 blocked
    # requests fill it and leave 16 waiting for a connection that never frees up.
    s = lakeapi_server(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=0.5,
                       DB_COMMAND_TIMEOUT=20)
    wait_ready(s.url)
    with TableLock(loaded) as lock:
        out, threads = start_threads(s.url, ORDER, 48)
        deadline = time.time() + 5
        while time.time() < deadline and sum(1 for o in out if o and o[0] == 503) < 16:
            time.sleep(0.05)
        rejected = [o for o in out if o and o[0] == 503]
        assert len(rejected) >= 16, out
        for status, retry_after, body, elapsed in rejected:
            assert retry_after is not None and int(retry_after) >= 1
            assert json.loads(body) == {"detail": "Database connection pool exhausted"}
            assert 0.4 < elapsed < 2.0, elapsed  # the acquire timeout, never a hang
        lock.release()
        for t in threads:
            t.join(timeout=20)
    assert all(not t.is_alive() for t in threads)
    assert all(o[0] in (200, 503) for o in out), out
    assert sum(1 for o in out if o[0] == 200) >= 1
    assert metric(s.url, "lakeapi_db_pool_acquire_timeouts_total") >= 16
    assert httpx.get(s.url + ORDER, timeout=5).status_code == 200


# ---- statement timeout -> 504, and the connection stays usable ----

def test_statement_timeout_is_504_and_connection_survives(loaded, lakeapi_server):
    s = lakeapi_server(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=5,
                       DB_COMMAND_TIMEOUT=0.3)
    wait_ready(s.url)
    assert httpx.get(s.url + ORDER, timeout=5).status_code == 200
    reconnects = metric(s.url, "lakeapi_db_reconnects_total")
    with TableLock(loaded):
        t0 = time.monotonic()
        r = httpx.get(s.url + ORDER, timeout=10)
        elapsed = time.monotonic() - t0
    assert r.status_code == 504
    assert r.json() == {"detail": "Database statement timed out"}
    assert 0.25 < elapsed < 2.0
    # The same single connection answers the next query.
    r = httpx.get(s.url + ORDER, timeout=5)
    assert r.status_code == 200 and r.json()["o_orderkey"] == 1
    assert metric(s.url, "lakeapi_db_statement_timeouts_total") >= 1
    assert metric(s.url, "lakeapi_db_reconnects_total") == reconnects
    assert metric(s.url, "lakeapi_db_pool_connections", 'state="total"') == 1


# ---- database down -> 503 within a second; recovers within 2 s of coming back ----

@pytest.fixture
def own_cluster(loaded):
    base = tempfile.mkdtemp(prefix="lakeapi-test-pgdown-")
    os.chmod(base, 0o755)
    script = os.path.join(ROOT, "tests", "pg_cluster.sh")
    env = dict(os.environ, PG_CLUSTER_OPTS="-c fsync=off", PG_CLUSTER_PORT="5439")

    def ctl(cmd):
        return subprocess.run(["sh", script, cmd, base], check=True, capture_output=True,
                              text=True, env=env, timeout=120)

    out = ctl("start")
    pg = dict(kv.split("=", 1) for kv in out.stdout.split())
    subprocess.run([BIN, "load", "all", "--sf", "0.001", "--rows", "100"], env=clean_env(pg),
                   check=True, capture_output=True, timeout=300)
    yield pg, ctl
    subprocess.run(["sh", script, "destroy", base], capture_output=True, env=env)
    shutil.rmtree(base, ignore_errors=True)


def poll_until(fn, timeout):
    """Calls fn until it returns truthy; returns (value, seconds taken) or (None, timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = fn()
        if v:
            return v, time.monotonic() - t0
        time.sleep(0.02)
    return None, timeout


def test_database_down_503_then_recovers(own_cluster, lakeapi_server):
    pg, ctl = own_cluster
    s = lakeapi_server(**pg, DB_POOL_TIMEOUT=2, DB_COMMAND_TIMEOUT=5)
    wait_ready(s.url)
    assert httpx.get(s.url + ORDER, timeout=5).status_code == 200

    ctl("stop")

    def both_503():
        ready = httpx.get(s.url + "/readyz", timeout=2)
        api = httpx.get(s.url + ORDER, timeout=2)
        return (ready, api) if ready.status_code == 503 and api.status_code == 503 else None

    got, took = poll_until(both_503, 1.0)
    assert got, "readyz and the API did not turn 503 within a second"
    ready, api = got
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["detail"] == "Database unavailable"  # a category, not libpq's text
    assert api.json() == {"detail": "Database unavailable"}
    assert api.headers["retry-after"] == "1"
    # While it is down, answers stay fast and the process stays up.
    for _ in range(5):
        t0 = time.monotonic()
        assert httpx.get(s.url + ORDER, timeout=5).status_code == 503
        assert time.monotonic() - t0 < 1.0
        time.sleep(0.1)
    assert httpx.get(s.url + "/livez", timeout=2).status_code == 200

    ctl("start")
    # With one event loop per core each loop's pool reconnects on its own backoff (at most
    # 500 ms apart), so the API and /readyz may be answered by different loops: both must
    # be back within the window, not necessarily at the same instant.
    got, took = poll_until(
        lambda: httpx.get(s.url + ORDER, timeout=2).status_code == 200
        and httpx.get(s.url + "/readyz", timeout=2).status_code == 200, 2.0)
    assert got, "the API and /readyz did not recover within 2 s of PostgreSQL coming back"
    assert s.proc.poll() is None
    assert s.stop() == 0


# ---- a client that disconnects mid-request leaks nothing ----

def test_client_disconnect_does_not_leak_connections(loaded, lakeapi_server):
    # Its own application_name: the session server's connections (one per loop) are not counted.
    s = lakeapi_server(DB_POOL_SIZE=2, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=5,
                       DB_COMMAND_TIMEOUT=20, PGAPPNAME="lakeapi-leak-test")
    wait_ready(s.url)
    with TableLock(loaded) as lock:
        socks = []
        for k in range(1, 13):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(f"GET /api/v1/orders/{k} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(c)
        # Every request is in the server, blocked on the lock; then the clients vanish.
        _, _ = poll_until(lambda: metric(s.url, "lakeapi_http_requests_in_flight") >= 13, 5)
        for c in socks:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()  # RST
        time.sleep(0.2)
        lock.release()

    def settled():
        return (metric(s.url, "lakeapi_http_requests_in_flight") == 1  # this scrape
                and metric(s.url, "lakeapi_db_pool_connections", 'state="busy"') == 0
                and metric(s.url, "lakeapi_db_pool_waiting") == 0)

    ok, _ = poll_until(settled, 10)
    assert ok, httpx.get(s.url + "/metrics").text
    assert metric(s.url, "lakeapi_db_pool_connections", 'state="total"') <= 2
    assert lakeapi_backends(loaded, "lakeapi-leak-test") <= 2  # DB_POOL_SIZE is the total
    for k in range(1, 6):
        assert httpx.get(f"{s.url}/api/v1/orders/{k}", timeout=5).status_code in (200, 404)


# ---- SIGTERM under load: drain in-flight requests, refuse new ones, exit 0 ----

def test_sigterm_drains_in_flight_requests(loaded, lakeapi_server):
    s = lakeapi_server(DB_POOL_SIZE=2, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=10,
                       DB_COMMAND_TIMEOUT=20)
    wait_ready(s.url)
    with TableLock(loaded) as lock:
        out, threads = start_threads(s.url, ORDER, 10)
        ok, _ = poll_until(lambda: metric(s.url, "lakeapi_http_requests_in_flight") >= 11, 5)
        assert ok
        s.proc.send_signal(signal.SIGTERM)
        refused, _ = poll_until(lambda: connect_refused(s.port), 2)
        assert refused, "still accepting connections after SIGTERM"
        assert s.proc.poll() is None  # still draining: the requests are blocked
        lock.release()
        for t in threads:
            t.join(timeout=20)
    assert s.proc.wait(timeout=20) == 0
    assert all(o and o[0] == 200 for o in out), out  # none cut
    assert all(json.loads(o[2])["o_orderkey"] == 1 for o in out)
    log = s.output()
    assert "drained" in log and "database pool closed" in log


def connect_refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


# ---- error bodies: always {"detail": ...}, never internal text ----

LEAKS = ("select ", "insert ", "update ", "error:", "sqlstate", "postgres", "relation ",
         "syntax", "libpq", "pg_", "socket", "traceback", "orders_synced")


def raw_exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(data)
        chunks = []
        while True:
            try:
                b = c.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not b:
                break
            chunks.append(b)
    out = b"".join(chunks)
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
    return status, head.decode("latin-1"), body


def check_error_body(what, status, content_type, body):
    assert status is not None and status >= 400, (what, status)
    assert content_type.startswith("application/json"), (what, content_type)
    doc = json.loads(body)
    assert isinstance(doc, dict) and "detail" in doc, (what, body)
    detail = doc["detail"]
    if status == 422 and isinstance(detail, list):
        assert detail, what
        for item in detail:
            assert {"type", "loc", "msg"} <= set(item), (what, item)
            assert isinstance(item["loc"], list), (what, item)
        # FastAPI echoes the client's own input: that is not ours to hide.
        detail = [{k: v for k, v in item.items() if k != "input"} for item in detail]
    else:
        assert isinstance(detail, str) and detail, (what, body)
    low = json.dumps(detail).lower()
    for leak in LEAKS:
        assert leak not in low, (what, leak, body)


def test_error_bodies_are_consistent(client, server):
    requests = [
        ("GET", "/nope", None), ("GET", "/api/v1/orders/", None), ("DELETE", "/livez", None),
        ("PATCH", "/api/v1/orders/1", None), ("GET", "/api/v1/orders/abc", None),
        ("GET", "/api/v1/orders/0", None), ("GET", "/api/v1/orders/-5", None),
        ("GET", "/api/v1/orders/999999999999", None),
        ("GET", "/api/v1/orders/99999999999999999999999999", None),
        ("GET", "/api/v1/orders/1%27%20OR%201=1--", None),
        ("GET", "/api/v1/orders/pages?page=abc", None),
        ("GET", "/api/v1/orders/pages?page=0&page_size=5000", None),
        ("GET", "/api/v1/orders/pages?include_count=maybe", None),
        ("GET", "/api/v1/orders/pages?page_size=1;DROP TABLE orders_synced", None),
        ("GET", "/api/v1/orders/stream?cursor=-1", None),
        ("GET", "/api/v1/orders/stream?cursor=1e9", None),
        ("POST", "/api/v1/orders/1/status", b"{not json"),
        ("POST", "/api/v1/orders/1/status", b"[]"),
        ("POST", "/api/v1/orders/1/status", b'{"o_orderstatus": "ff"}'),
        ("POST", "/api/v1/orders/1/status", b'{"o_orderstatus": 7}'),
        ("POST", "/api/v1/orders/0/status", b'{"o_orderstatus": "F"}'),
        ("POST", "/api/v1/orders/999999999/status", b'{"o_orderstatus": "F"}'),
        ("POST", "/api/v1/orders/1/status", b""),
        ("POST", "/api/v1/orders/1/status", b'{"o_orderstatus": "\xff"}'),
        ("GET", "/user?id=abc", None), ("GET", "/user", None),
        ("POST", "/user", b'{"email": "not-an-email"}'),
        ("POST", "/user", b'{"ip_address": "999.1.1.1", "unknown": 1}'),
        ("PUT", "/user/999999999", b'{"first_name": "x"}'),
        ("DELETE", "/user/abc", None),
        ("GET", "/users/?limit=0", None),
        ("POST", "/api/v1/notes", b'{"content": ""}'),
        ("GET", "/docs/..%2F..%2Fetc%2Fpasswd", None), ("GET", "/docs/package.json", None),
    ]
    for method, path, body in requests:
        r = client.request(method, path, content=body,
                           headers={"Content-Type": "application/json"} if body is not None
                           else {})
        check_error_body(f"{method} {path}", r.status_code, r.headers.get("content-type", ""),
                         r.content)

    raw = [
        b"GARBAGE\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
        b"POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
        b"GET /api/v1/orders/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    ]
    for data in raw:
        status, head, body = raw_exchange(server.port, data)
        ct = ""
        for line in head.split("\r\n"):
            if line.lower().startswith("content-type:"):
                ct = line.split(":", 1)[1].strip()
        check_error_body(repr(data[:40]), status, ct, body)

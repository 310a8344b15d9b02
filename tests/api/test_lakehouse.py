"""The Lakehouse backend (issue 15) against the fake SQL warehouse (tests/fake_warehouse.py).

The fake speaks the Statement Execution API over real HTTP on loopback and runs every
statement on sqlite3, so what lakeapi sends is really executed. The users table in the
warehouse is a copy of the test Postgres's users, so the seed 000 walk-through can be run
against both backends and the answers compared.
"""
import concurrent.futures
import json
import socket
import threading
import time

import httpx
import pytest

from conftest import Server, free_port, psql
from fake_workspace import FakeWorkspace

PAT = "dapi-lakehouse-test-secret-0123456789"
WAREHOUSE = "wh0123456789abcd"
COLUMNS = ["id", "first_name", "last_name", "email", "address", "ip_address"]


@pytest.fixture(scope="module")
def fake(loaded):
    ws = FakeWorkspace({}, pat=PAT, port=free_port()).start()
    wh = ws.add_warehouse(warehouse_id=WAREHOUSE, catalog="main", schema="default")
    wh.execute("CREATE TABLE users (id BIGINT NOT NULL, first_name STRING, last_name STRING, "
               "email STRING, address STRING, ip_address STRING)")
    rows = psql(loaded, "SELECT json_agg(u ORDER BY id) FROM (SELECT id, first_name, last_name,"
                        " email, address, ip_address FROM users) u")
    wh.executemany("INSERT INTO users VALUES (?,?,?,?,?,?)",
                   [tuple(r[c] for c in COLUMNS) for r in json.loads(rows)])
    wh.execute("CREATE TABLE prices (id BIGINT, amount DECIMAL(38,2), big BIGINT, ok BOOLEAN, "
               "day DATE, at TIMESTAMP, tags ARRAY<INT>, attrs MAP<STRING,INT>, ratio DOUBLE)")
    wh.executemany("INSERT INTO prices VALUES (?,?,?,?,?,?,?,?,?)", [
        (i, f"{i}12345678901234567890.{i:02d}", 9007199254740993 + i, i % 2,
         f"2024-01-{i:02d}", f"2024-01-{i:02d} 03:04:05.123", f"[{i},{i + 1}]",
         json.dumps({"k": i}), i / 4) for i in range(1, 11)])
    yield ws, wh
    ws.stop()


def lake_env(ws, **extra):
    env = {"DATABRICKS_HOST": ws.url, "DATABRICKS_TOKEN": PAT,
           "DATABRICKS_HTTP_PATH": f"/sql/1.0/warehouses/{WAREHOUSE}",
           "USERS_BACKEND": "lakehouse", "LAKEHOUSE_CATALOG": "main",
           "LAKEHOUSE_SCHEMA": "default", "LOG_LEVEL": "debug"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def lake(fake, loaded):
    ws, wh = fake
    wh.control(latency=0, pending=0, chunk_rows=1000, state="RUNNING", rate_limit=0,
               fail_next=0, reset=True)
    servers = []

    def start(**extra):
        s = Server(dict(loaded, **lake_env(ws, **extra)))
        s.fake = ws
        servers.append(s)
        wait_discovered(s)
        return s

    yield start
    for s in servers:
        rc = s.stop()
        out = s.output()
        assert PAT not in out, "the workspace token appeared in the server output"
        assert rc == 0, out[-3000:]


def wait_discovered(s, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = httpx.get(s.url + "/lakehouse/v1/")
        if r.status_code == 200 and any(t.endswith(".users") for t in r.json()["tables"]):
            return
        time.sleep(0.05)
    raise AssertionError("tables not discovered: " + s.output()[-2000:])


def seed_walkthrough(url):
    """Seed 000's curl sequence; returns every (status, body) in order."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.get("/user", params={"id": 1})
        out.append((r.status_code, r.json()))
        r = c.post("/user", json={"first_name": "Lake", "last_name": "House"})
        out.append((r.status_code, list(r.json())))
        uid = r.json()["user_id"]
        r = c.put(f"/user/{uid}", json={"first_name": "Databricks", "last_name": "LakeHouse"})
        out.append((r.status_code, r.json() == {"user_id": uid}))
        r = c.get("/user", params={"id": uid})
        row = r.json()[0]
        out.append((r.status_code, {k: v for k, v in row.items() if k != "id"}))
        r = c.delete(f"/user/{uid}")
        out.append((r.status_code, r.json() == {"user_id": uid, "msg": "record deleted"}))
        r = c.get("/user", params={"id": uid})
        out.append((r.status_code, r.json()))
        r = c.delete(f"/user/{uid}")
        out.append((r.status_code, r.json()))
        r = c.put(f"/user/{uid}", json={"email": "not-an-email"})
        out.append((r.status_code, r.json()["detail"][0]["type"]))
        r = c.get("/user", params={"id": "x"})
        out.append((r.status_code, r.json()))
        r = c.get("/users/", params={"limit": 3, "after": 5})
        out.append((r.status_code, r.json(), r.headers.get("link")))
    return out, uid


def test_seed_walkthrough_matches_postgres(lake, server):
    s = lake()
    got, uid = seed_walkthrough(s.url)
    want, _ = seed_walkthrough(server.url)
    # the new ids come from different allocators; everything else is the same
    assert [g for g in got] == [w for w in want]
    assert got[3] == (200, {"first_name": "Databricks", "last_name": "LakeHouse", "email": None,
                            "address": None, "ip_address": None})
    snap = fake_snapshot(s)
    texts = "\n".join(snap["statements"])
    assert "INSERT INTO `main`.`default`.`users`" in texts
    assert "UPDATE `main`.`default`.`lakeapi_id_ranges`" in texts
    assert "DELETE FROM `main`.`default`.`users`" in texts


def fake_snapshot(s):
    return s.fake.snapshot()["warehouse"]


def pg_get(server, path, **params):
    r = httpx.get(server.url + path, params=params, timeout=30)
    return r.status_code, r.json(), r.headers.get("link")


def test_three_chunks_assembled_in_order(lake, fake, server):
    ws, wh = fake
    s = lake()
    wh.control(chunk_rows=4, reset=True)
    r = httpx.get(s.url + "/users/", params={"limit": 10, "after": 100}, timeout=30)
    assert r.status_code == 200
    assert r.headers["x-lakeapi-cache"] == "miss"
    snap = wh.snapshot()
    assert snap["submitted"] == 1 and snap["chunk_fetches"] == 2  # 11 rows: chunks 0, 1, 2
    assert (r.status_code, r.json(), r.headers.get("link")) == pg_get(server, "/users/",
                                                                      limit=10, after=100)
    assert [u["id"] for u in r.json()] == list(range(101, 111))


def test_cached_read_then_write_invalidates(lake, fake):
    ws, wh = fake
    s = lake()
    with httpx.Client(base_url=s.url, timeout=30) as c:
        wh.control(reset=True)
        first = c.get("/user", params={"id": 3})
        again = c.get("/user", params={"id": 3})
        assert first.headers["x-lakeapi-cache"] == "miss"
        assert again.headers["x-lakeapi-cache"] == "hit"
        assert again.json() == first.json()
        assert wh.snapshot()["submitted"] == 1  # the hit asked nobody
        old = first.json()[0]["last_name"]
        assert c.put("/user/3", json={"last_name": "Invalidated"}).status_code == 200
        after = c.get("/user", params={"id": 3})
        assert after.headers["x-lakeapi-cache"] == "miss"
        assert after.json()[0]["last_name"] == "Invalidated"
        c.put("/user/3", json={"last_name": old})
        m = c.get("/metrics").text
        assert 'lakeapi_lakehouse_cache_total{result="hit"} 1' in m


def test_thousand_identical_reads_one_statement(lake, fake):
    ws, wh = fake
    s = lake(WORKERS=2)  # the cache and its coalescing are the process's, not a loop's
    wh.control(latency=0.5, reset=True)
    n = 1000

    async def one(i):
        import asyncio
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(b"GET /user?id=42 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data

    async def all_of_them():
        import asyncio
        return await asyncio.gather(*(one(i) for i in range(n)))

    import asyncio
    t0 = time.time()
    answers = asyncio.run(all_of_them())
    took = time.time() - t0
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers[0][:200]
    bodies = {a.split(b"\r\n\r\n", 1)[1] for a in answers}
    assert len(bodies) == 1 and b'"id":42' in bodies.pop()
    assert wh.snapshot()["submitted"] == 1
    assert took < 5, took


def test_client_that_leaves_cancels_its_statement(lake, fake):
    ws, wh = fake
    s = lake(LAKEHOUSE_WAIT_TIMEOUT=0)
    wh.control(latency=5, reset=True)
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.sendall(b"GET /user?id=11 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.5)
    sock.close()
    deadline = time.time() + 3
    while time.time() < deadline and wh.snapshot()["canceled"] == 0:
        time.sleep(0.05)
    snap = wh.snapshot()
    assert snap["submitted"] == 1 and snap["canceled"] == 1, snap


def test_coalesced_clients_that_leave_on_every_loop_cancel_the_statement(lake, fake):
    """Eight identical reads over two loops share one statement (the first asker's loop
    runs it); when they all leave, each loop notices its own clients and the statement is
    cancelled. Eight connections all landing on one loop would be a 1-in-128 chance."""
    ws, wh = fake
    s = lake(LAKEHOUSE_WAIT_TIMEOUT=0, WORKERS=2)
    wh.control(latency=5, reset=True)
    socks = []
    for _ in range(8):
        k = socket.create_connection(("127.0.0.1", s.port))
        k.sendall(b"GET /user?id=17 HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(k)
    time.sleep(0.5)
    for k in socks:
        k.close()
    deadline = time.time() + 3
    while time.time() < deadline and wh.snapshot()["canceled"] == 0:
        time.sleep(0.05)
    snap = wh.snapshot()
    assert snap["submitted"] == 1 and snap["canceled"] == 1, snap


def test_command_timeout_is_504_and_cancels(lake, fake):
    ws, wh = fake
    s = lake(DB_COMMAND_TIMEOUT=1, LAKEHOUSE_WAIT_TIMEOUT=0)
    wh.control(latency=4, reset=True)
    t0 = time.time()
    r = httpx.get(s.url + "/user", params={"id": 12}, timeout=30)
    assert r.status_code == 504, r.text
    assert time.time() - t0 < 2.5
    deadline = time.time() + 3
    while time.time() < deadline and wh.snapshot()["canceled"] == 0:
        time.sleep(0.05)
    assert wh.snapshot()["canceled"] == 1


def test_starting_warehouse_is_503_with_retry_after(lake, fake):
    ws, wh = fake
    s = lake(LAKEHOUSE_WAIT_TIMEOUT=0, WORKERS=2)  # /readyz on any loop knows the state
    wh.control(start_delay=30, state="STARTING")
    time.sleep(1.1)  # past the last probe's freshness
    try:
        r = httpx.get(s.url + "/user", params={"id": 13}, timeout=30)
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["warehouse_state"] == "STARTING"
        rz = httpx.get(s.url + "/readyz")
        assert rz.status_code == 503 and "STARTING" in rz.json()["warehouse"]
    finally:
        wh.control(state="RUNNING")
    deadline = time.time() + 10
    while time.time() < deadline:
        r = httpx.get(s.url + "/user", params={"id": 13}, timeout=30)
        if r.status_code == 200:
            break
        time.sleep(0.5)
    assert r.status_code == 200 and r.json()[0]["id"] == 13
    assert httpx.get(s.url + "/readyz").status_code == 200


def test_rate_limit_429_is_honoured(lake, fake):
    ws, wh = fake
    s = lake()
    wh.control(rate_limit=2, retry_after=1, reset=True)
    t0 = time.time()
    r = httpx.get(s.url + "/user", params={"id": 14}, timeout=30)
    assert r.status_code == 200 and r.json()[0]["id"] == 14
    assert time.time() - t0 >= 1.0  # waited as told
    snap = wh.snapshot()
    assert snap["rate_limited"] == 2 and snap["submitted"] == 1


def test_failed_statement_is_502_with_error_code(lake, fake):
    ws, wh = fake
    s = lake()
    wh.control(fail_next=1, fail_code="BAD_REQUEST", fail_message="[DELTA_BROKEN] boom")
    r = httpx.get(s.url + "/user", params={"id": 15}, timeout=30)
    assert r.status_code == 502
    assert "BAD_REQUEST" in r.json()["detail"] and "DELTA_BROKEN" in r.json()["detail"]
    r = httpx.get(s.url + "/user", params={"id": 15}, timeout=30)  # failures are not cached
    assert r.status_code == 200 and r.headers["x-lakeapi-cache"] == "miss"


def test_check_config_reports_the_warehouse(fake, loaded):
    import subprocess
    from conftest import BIN, clean_env
    ws, wh = fake
    out = subprocess.run([BIN, "check-config"], env=clean_env(dict(loaded, **lake_env(ws))),
                         capture_output=True, text=True, timeout=30)
    assert f"SQL warehouse {WAREHOUSE}: answers, state RUNNING" in out.stdout, out.stdout
    assert PAT not in out.stdout + out.stderr


# ---- /lakehouse/v1: the Data API's read grammar over the warehouse ----

def test_types_mapped_faithfully(lake):
    s = lake()
    r = httpx.get(s.url + "/lakehouse/v1/prices", params={"id": "eq.3"}, timeout=30)
    assert r.status_code == 200, r.text
    raw = r.text
    row = r.json()[0]
    assert '"amount":312345678901234567890.03' in raw  # DECIMAL(38,2): every digit, a number
    assert '"big":9007199254740996' in raw  # beyond 2^53, exact
    assert row["ok"] is True and row["day"] == "2024-01-03"
    assert row["at"].startswith("2024-01-03T03:04:05")
    assert row["tags"] == [3, 4] and row["attrs"] == {"k": 3} and row["ratio"] == 0.75


def test_read_grammar(lake, fake):
    ws, wh = fake
    s = lake()
    with httpx.Client(base_url=s.url, timeout=30) as c:
        r = c.get("/lakehouse/v1/main.default.users",
                  params={"select": "id,name:first_name", "id": "in.(3,1,2)", "order": "id.desc"})
        assert r.status_code == 200, r.text
        assert [u["id"] for u in r.json()] == [3, 2, 1]
        assert list(r.json()[0]) == ["id", "name"]
        # Other suites add users to the shared database before this module copies it, so
        # the expectations come from the warehouse's own rows.
        ids = [i for (i,) in wh.execute("SELECT id FROM users ORDER BY id")]
        matching = [i for i in ids if i < 3 or i > 1998]
        r = c.get("/lakehouse/v1/users", params={"or": "(id.lt.3,id.gt.1998)", "order": "id",
                                                 "limit": 2, "offset": 1},
                  headers={"Prefer": "count=exact"})
        assert r.status_code == 206, r.text
        assert [u["id"] for u in r.json()] == matching[1:3]
        assert r.headers["content-range"] == f"1-2/{len(matching)}"
        r = c.get("/lakehouse/v1/users", params={"id": "eq.not-a-number"})
        assert r.status_code == 400 and r.json()["code"] == "22P02"
        r = c.get("/lakehouse/v1/users", params={"nope": "eq.1"})
        assert r.status_code == 400 and r.json()["code"] == "42703"
        r = c.get("/lakehouse/v1/no_such_table")
        assert r.status_code == 404 and r.json()["code"] == "PGRST205"
        r = c.get("/lakehouse/v1/users", params={"select": "id", "id": "lte.2"},
                  headers={"Accept": "application/x-ndjson"})
        assert r.status_code == 200 and r.text == '{"id":1}\n{"id":2}\n'
        # every value went as a parameter: the statement text has none of them
        stmts = wh.snapshot()["statements"]
        assert not any("1998" in t or "not-a-number" in t for t in stmts)


def test_csv_export_through_external_links(lake, fake, loaded):
    ws, wh = fake
    s = lake()
    wh.control(chunk_rows=300, reset=True)
    r = httpx.get(s.url + "/lakehouse/v1/users", params={"select": "id,first_name", "order": "id"},
                  headers={"Accept": "text/csv"}, timeout=60)
    assert r.status_code == 200, r.text
    lines = r.text.splitlines()
    assert lines[0] == "id,first_name"
    ids = [i for (i,) in wh.execute("SELECT id FROM users ORDER BY id")]  # see test_read_grammar
    assert len(ids) >= 2000
    assert [int(l.split(",")[0]) for l in lines[1:]] == ids  # every row, chunks in order
    snap = wh.snapshot()
    assert snap["external_fetches"] == -(-len(ids) // 300) and snap["external_with_auth"] == 0


def test_reload_discovers_new_tables(lake, fake):
    ws, wh = fake
    s = lake()
    wh.execute("CREATE TABLE late_table (k BIGINT)")
    try:
        assert httpx.get(s.url + "/lakehouse/v1/late_table").status_code == 404
        r = httpx.post(s.url + "/lakehouse/v1/_reload", timeout=30)
        assert r.status_code == 200 and "main.default.late_table" in r.json()["tables"]
        assert httpx.get(s.url + "/lakehouse/v1/late_table").json() == []
    finally:
        wh.execute("DROP TABLE late_table")


def test_stale_while_revalidate(lake, fake):
    ws, wh = fake
    s = lake(LAKEHOUSE_CACHE_TTL=1)
    wh.control(reset=True)
    with httpx.Client(base_url=s.url, timeout=30) as c:
        assert c.get("/user", params={"id": 21}).headers["x-lakeapi-cache"] == "miss"
        wh.control(latency=1.0)
        time.sleep(1.2)
        t0 = time.time()
        r = c.get("/user", params={"id": 21})
        assert r.headers["x-lakeapi-cache"] == "stale" and r.json()[0]["id"] == 21
        assert time.time() - t0 < 0.5  # answered from memory, not after the 1 s statement
        time.sleep(1.5)  # the background refresh has landed
        r = c.get("/user", params={"id": 21})
        assert r.headers["x-lakeapi-cache"] == "hit"
        assert wh.snapshot()["submitted"] == 2


def test_reload_needs_an_admin_once_auth_is_configured(lake, fake):
    import jwt_tokens as jt
    secret = "hs-secret-for-the-lakehouse-tests-0123456789"
    s = lake(JWT_SECRET=secret, ADMIN_CLAIM=".lakeapi_admin == true", DB_ANON_ROLE="lakeapi_anon")
    user = jt.token(jt.claims("bob"), alg="HS256", secret=secret)
    admin = jt.token(jt.claims("ann", lakeapi_admin=True), alg="HS256", secret=secret)
    r = httpx.post(s.url + "/lakehouse/v1/_reload", headers={"Authorization": f"Bearer {user}"})
    assert r.status_code == 403 and r.json()["code"] == "PGRST403"
    r = httpx.post(s.url + "/lakehouse/v1/_reload", headers={"Authorization": f"Bearer {admin}"},
                   timeout=30)
    assert r.status_code == 200 and "main.default.users" in r.json()["tables"]


def test_oauth_m2m_workspace_auth(loaded):
    """The warehouse through OAuth M2M (the same workspace auth the Lakebase credentials use)."""
    cid, csecret = "lakehouse-m2m-client", "lakehouse-m2m-secret-0123456789"
    ws = FakeWorkspace({}, client_id=cid, client_secret=csecret, port=free_port()).start()
    try:
        wh = ws.add_warehouse(warehouse_id=WAREHOUSE)
        wh.execute("CREATE TABLE users (id BIGINT NOT NULL, first_name STRING, last_name STRING, "
                   "email STRING, address STRING, ip_address STRING)")
        wh.execute("INSERT INTO users VALUES (7, 'Ada', 'Lovelace', NULL, NULL, NULL)")
        env = {k: v for k, v in lake_env(ws).items() if k != "DATABRICKS_TOKEN"}
        env.update(DATABRICKS_CLIENT_ID=cid, DATABRICKS_CLIENT_SECRET=csecret)
        s = Server(dict(loaded, **env))
        try:
            wait_discovered(s)
            r = httpx.get(s.url + "/user", params={"id": 7}, timeout=30)
            assert r.status_code == 200 and r.json()[0]["last_name"] == "Lovelace"
            assert ws.snapshot()["oidc_ok"] >= 1
        finally:
            assert s.stop() == 0
            assert csecret not in s.output()
    finally:
        ws.stop()


def test_concurrent_creates_never_share_an_id(lake, fake):
    """Two event loops (WORKERS=2) each reserve their own id range; 40 concurrent creates."""
    ws, wh = fake
    s = lake(WORKERS=2)

    def create(i):
        r = httpx.post(s.url + "/user", json={"first_name": f"C{i}"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["user_id"]

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(create, range(40)))
    assert len(set(ids)) == 40
    rows = wh.execute("SELECT id, first_name FROM users WHERE first_name LIKE 'C%' AND id > 2000")
    inserts = [t for t in wh.snapshot()["statements"] if t.startswith("INSERT INTO `main`.`default`.`users`")]
    assert len(inserts) == 40, (len(inserts), wh.params_log[-3:])
    assert len(rows) == 40 and {r[0] for r in rows} == set(ids)
    with httpx.Client(base_url=s.url, timeout=30) as c:
        for uid in ids:
            assert c.delete(f"/user/{uid}").status_code == 200


def test_cache_byte_budget_evicts_least_recently_used(lake, fake):
    ws, wh = fake
    s = lake(LAKEHOUSE_CACHE_MB=1)  # ten pages of 1,000 users are ~1.5 MB of results
    with httpx.Client(base_url=s.url, timeout=30) as c:
        def page(after):
            return c.get("/users/", params={"limit": 1000, "after": after})
        for k in range(10):
            assert page(k * 100).headers["x-lakeapi-cache"] == "miss"
        assert page(900).headers["x-lakeapi-cache"] == "hit"  # the newest stayed
        assert page(0).headers["x-lakeapi-cache"] == "miss"  # the oldest was evicted

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

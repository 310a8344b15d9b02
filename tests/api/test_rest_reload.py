"""Schema reload without a restart: CREATE TABLE + NOTIFY lakeapi, 'reload schema' (or
SIGUSR1) and the table is served and documented, while requests keep succeeding.
"""
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import httpx
import pytest

from conftest import ROOT, psql
from test_openapi import BUILD, NODE_MODULES, node
from rest_support import api, rest_server  # noqa: F401 (fixtures)


def wait_status(url, status, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = httpx.get(url)
        if r.status_code == status:
            return r
        time.sleep(0.02)
    raise AssertionError(f"{url} never answered {status}: {r.status_code} {r.text}")


def test_notify_serves_and_documents_a_new_table(rest_server, loaded):
    base = rest_server.url + "/rest/v1"
    assert httpx.get(base + "/rx_fresh").json()["code"] == "PGRST205"
    psql(loaded, "CREATE TABLE rx_fresh (id int PRIMARY KEY, v text NOT NULL); "
                 "INSERT INTO rx_fresh VALUES (1, 'a'), (2, 'b')")
    psql(loaded, "NOTIFY lakeapi, 'reload schema'")
    r = wait_status(base + "/rx_fresh?order=id&v=eq.b", 200)
    assert r.json() == [{"id": 2, "v": "b"}]
    r = httpx.get(base + "/rx_fresh", params={"limit": 1}, headers={"Prefer": "count=exact"})
    assert r.headers["content-range"] == "0-0/2"
    doc = httpx.get(rest_server.url + "/openapi.json").json()
    assert "/rest/v1/rx_fresh" in doc["paths"]
    schema = doc["components"]["schemas"]["public.rx_fresh"]
    assert schema["required"] == ["id", "v"] and schema["properties"]["id"]["type"] == "integer"
    psql(loaded, "DROP TABLE rx_fresh; NOTIFY lakeapi, 'reload schema'")
    wait_status(base + "/rx_fresh", 404)


def wait_no_reload(server, quiet=1.0, timeout=15):
    """Until no schema load has been logged for `quiet` seconds: a reload queued behind an
    earlier test's NOTIFY (one that arrives during a load is loaded again after it) would
    otherwise pick up a table this test means to be unknown."""
    deadline = time.time() + timeout
    last, since = None, time.time()
    while time.time() < deadline:
        n = server.output().count("Data API: schema snapshot")
        if n != last:
            last, since = n, time.time()
        elif time.time() - since >= quiet:
            return
        time.sleep(0.1)
    raise AssertionError("the schema kept reloading")


def test_sigusr1_reloads(rest_server, loaded):
    base = rest_server.url + "/rest/v1"
    wait_no_reload(rest_server)
    psql(loaded, "CREATE TABLE rx_sig (id int PRIMARY KEY)")
    time.sleep(0.3)
    assert httpx.get(base + "/rx_sig").status_code == 404  # no NOTIFY: not yet known
    rest_server.proc.send_signal(signal.SIGUSR1)
    wait_status(base + "/rx_sig", 200)
    psql(loaded, "DROP TABLE rx_sig")


def test_reloads_under_load_fail_no_request(rest_server, loaded):
    base = rest_server.url + "/rest/v1"
    stop = threading.Event()
    failures, done = [], [0]

    def hammer():
        with httpx.Client(base_url=base, timeout=10) as c:
            while not stop.is_set():
                r = c.get("/rx_orders", params={"select": "id,rx_customers(name)", "order": "id"})
                if r.status_code != 200 or len(r.json()) < 6:
                    failures.append((r.status_code, r.text[:200]))
                done[0] += 1

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(5):
            psql(loaded, f"CREATE TABLE rx_load_{i} (id int PRIMARY KEY); NOTIFY lakeapi, 'reload schema'")
            wait_status(f"{base}/rx_load_{i}", 200)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert done[0] > 20
    for i in range(5):
        psql(loaded, f"DROP TABLE rx_load_{i}")
    psql(loaded, "NOTIFY lakeapi, 'reload schema'")
    assert "schema snapshot" in rest_server.output()


def test_document_of_every_table_validates(rest_server, tmp_path):
    """The generated paths and row schemas of the fixture (every type, two schemas) pass the
    same OpenAPI validator the tutorial's document passes."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm not installed: no OpenAPI validator")
    doc = httpx.get(rest_server.url + "/openapi.json").json()
    assert "/rest/v1/rx_types" in doc["paths"] and "/rest/v1/messages" in doc["paths"]
    assert doc["components"]["schemas"]["public.rx_types"]["properties"]["arr"]["type"] == ["array", "null"]
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    if not os.path.isdir(NODE_MODULES):
        r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "swagger.sh"), "--tests", BUILD],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
    r = node("validate.js", str(path), node_modules=NODE_MODULES)
    assert r.returncode == 0 and r.stdout.startswith("valid:"), r.stdout + r.stderr


def test_a_type_changed_under_the_snapshot_is_503_then_reloaded(rest_server, loaded):
    """Plain reads are encoded by lakeapi for the types the snapshot lists; a column whose
    type changed to one it does not encode (here an enum) without a NOTIFY gets a clear 503
    (PGRST002) and a reload, after which the read is served through json_agg."""
    base = rest_server.url + "/rest/v1"
    psql(loaded, "DROP TABLE IF EXISTS rx_retyped; DROP TYPE IF EXISTS rx_mood; "
                 "CREATE TABLE rx_retyped (id int PRIMARY KEY, mood text); "
                 "INSERT INTO rx_retyped VALUES (1, 'ok')")
    psql(loaded, "NOTIFY lakeapi, 'reload schema'")
    assert wait_status(base + "/rx_retyped", 200).text == '[{"id":1,"mood":"ok"}]'
    wait_no_reload(rest_server)
    psql(loaded, "CREATE TYPE rx_mood AS ENUM ('ok', 'sad'); "
                 "ALTER TABLE rx_retyped ALTER COLUMN mood TYPE rx_mood USING mood::rx_mood")
    r = httpx.get(base + "/rx_retyped")
    assert r.status_code == 503 and r.json()["code"] == "PGRST002", r.text
    assert wait_status(base + "/rx_retyped", 200).json() == [{"id": 1, "mood": "ok"}]
    psql(loaded, "DROP TABLE rx_retyped; DROP TYPE rx_mood; NOTIFY lakeapi, 'reload schema'")

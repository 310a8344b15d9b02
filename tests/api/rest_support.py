"""Shared by the Data API suites (tests/api/test_rest_*.py): loads the fixture schema
(tests/rest/fixture.sql) into the session cluster and starts a lakeapi that exposes
`public` and `rest_fx`, waiting until its schema snapshot is in.
"""
import os
import subprocess
import time

import httpx
import pytest

from conftest import ROOT, Server, psql

FIXTURE = os.path.join(ROOT, "tests", "rest", "fixture.sql")


def load_fixture(pg):
    subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-f", FIXTURE],
                   env=dict(os.environ, **pg), capture_output=True, text=True, check=True)


def wait_snapshot(url, table="rx_customers", timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = httpx.get(f"{url}/rest/v1/{table}?limit=0")
        if r.status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"the Data API never served {table}: {r.status_code} {r.text}")


@pytest.fixture(scope="module")
def rest_server(loaded):
    load_fixture(loaded)
    s = Server(dict(loaded, LAKEAPI_SCHEMAS="public, rest_fx", DB_MAX_ROWS="1000"))
    wait_snapshot(s.url)
    yield s
    rc = s.stop()
    assert rc == 0, f"lakeapi exited with {rc}:\n{s.output()[-4000:]}"


@pytest.fixture
def api(rest_server):
    with httpx.Client(base_url=rest_server.url + "/rest/v1", timeout=10) as c:
        yield c


def sql_json(pg, query):
    """What PostgreSQL itself says, as JSON text parsed by the caller."""
    return psql(pg, f"SELECT coalesce(json_agg(_q), '[]') FROM ({query}) _q")

"""The read/write split over HTTP (PGHOST_READ). The "replica" here is the test
cluster itself (a second pool on the primary): enough for where reads go, the
X-Lakeapi-Min-LSN header, its validation, the metrics and the fallback from a
replica that is not there. Streaming replication with a delayed replica, nginx
and two instances is tests/scale/scale_test.py (make scale-test)."""
import re
import time

import httpx
import pytest


def metric(text, name, **labels):
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_replica_up(c, up=1.0, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if metric(c.get("/metrics").text, "lakeapi_db_target_up", role="replica") == up:
            return
        time.sleep(0.1)
    raise AssertionError("the replica's lakeapi_db_target_up never became %s" % up)


@pytest.fixture
def split(lakeapi_server, loaded):
    s = lakeapi_server(PGHOST_READ=f"{loaded['PGHOST']}:{loaded['PGPORT']}")
    with httpx.Client(base_url=s.url, timeout=10) as c:
        wait_replica_up(c)
        yield c


def test_write_answers_its_lsn_and_a_read_with_it_sees_the_write(split):
    w = split.post("/user", json={"first_name": "Replica", "email": "replica@example.com"})
    assert w.status_code == 200, w.text
    lsn = w.headers["x-lakeapi-min-lsn"]
    assert re.fullmatch(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}", lsn)
    uid = w.json()["user_id"]
    r = split.get("/user", params={"id": uid}, headers={"X-Lakeapi-Min-LSN": lsn})
    assert r.status_code == 200
    assert r.json()[0]["email"] == "replica@example.com"
    # Reads never carry the header.
    assert "x-lakeapi-min-lsn" not in r.headers


def test_reads_go_to_the_replica(split, loaded):
    before = metric(split.get("/metrics").text, "lakeapi_db_target_queries_total", role="replica")
    for _ in range(5):
        assert split.get("/api/v1/orders/1").status_code in (200, 404)
    after = metric(split.get("/metrics").text, "lakeapi_db_target_queries_total", role="replica")
    assert after >= before + 5


@pytest.mark.parametrize("bad", ["", "x", "1", "1/2/3", "123456789/0", "1/ 2", "-1/0"])
def test_malformed_min_lsn_is_400(split, bad):
    r = split.get("/api/v1/orders/1", headers={"X-Lakeapi-Min-LSN": bad})
    assert r.status_code == 400
    assert "X-Lakeapi-Min-LSN" in r.json()["detail"]


def test_metrics_name_every_target(split):
    text = split.get("/metrics").text
    assert metric(text, "lakeapi_db_target_up", target="primary") == 1
    for fam in ("lakeapi_db_target_queries_total", "lakeapi_db_replica_lag_seconds",
                "lakeapi_db_target_fallbacks_total", "lakeapi_db_primary_reads_total",
                "lakeapi_db_write_lsn_reads_total"):
        assert f"# TYPE {fam} " in text, fam


def test_replica_not_there_reads_fall_back_to_primary(lakeapi_server, loaded):
    s = lakeapi_server(PGHOST_READ="/nonexistent-lakeapi-socket-dir:5432")
    with httpx.Client(base_url=s.url, timeout=10) as c:
        for _ in range(3):
            assert c.get("/api/v1/orders/1").status_code in (200, 404)
        text = c.get("/metrics").text
        assert metric(text, "lakeapi_db_target_up", role="replica") == 0
        assert metric(text, "lakeapi_db_primary_reads_total", reason="no_replica") >= 3
        assert c.get("/readyz").status_code == 200


def test_without_replicas_writes_carry_no_lsn(client):
    w = client.post("/user", json={"first_name": "Plain"})
    assert w.status_code == 200
    assert "x-lakeapi-min-lsn" not in w.headers
    assert "lakeapi_db_target_up" not in client.get("/metrics").text


def test_cors_still_answers_behind_the_split(lakeapi_server, loaded):
    s = lakeapi_server(PGHOST_READ=f"{loaded['PGHOST']}:{loaded['PGPORT']}",
                       CORS_ALLOW_ORIGINS="http://app.example")
    r = httpx.options(s.url + "/api/v1/orders/1",
                      headers={"Origin": "http://app.example",
                               "Access-Control-Request-Method": "GET"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://app.example"


def test_data_api_reads_use_the_replica_and_see_their_writes(split):
    """Run-time statements (the Data API's SQL cache) follow reads to the replica."""
    before = metric(split.get("/metrics").text, "lakeapi_db_target_queries_total", role="replica")
    for _ in range(3):
        r = split.get("/rest/v1/users", params={"select": "id,email", "limit": "2"})
        assert r.status_code == 200, r.text
        assert len(r.json()) == 2
    after = metric(split.get("/metrics").text, "lakeapi_db_target_queries_total", role="replica")
    assert after >= before + 3
    w = split.post("/rest/v1/users", json={"first_name": "Rest", "email": "rest-ryw@example.com"},
                   headers={"Prefer": "return=representation"})
    assert w.status_code == 201, w.text
    lsn = w.headers.get("x-lakeapi-min-lsn")
    assert lsn, w.headers
    r = split.get("/rest/v1/users", params={"email": "eq.rest-ryw@example.com"},
                  headers={"X-Lakeapi-Min-LSN": lsn})
    assert r.status_code == 200 and len(r.json()) == 1

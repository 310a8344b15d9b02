"""@supabase/postgrest-js (from npm, run with node) as a real client of the Data API.

Every call goes through the library unchanged (tests/rest_js/run.js chains the builder
methods given here) and each answer is compared with what psql returns for the equivalent
SQL: select, filters (eq, gt, in, is, like, or), order, range, single, count, embedding,
insert, upsert, update, delete and csv. The package is pinned by tests/rest_js/package-lock.json
and installed into the build tree by scripts/swagger.sh --tests.
"""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT, psql
from rest_support import rest_server  # noqa: F401 (fixture)

BUILD = os.path.dirname(os.path.abspath(BIN))
NODE_MODULES = os.path.join(BUILD, "tests-rest-js", "node_modules")


@pytest.fixture(scope="module")
def node_modules():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm not installed (Debian packages nodejs npm): no postgrest-js")
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "swagger.sh"), "--tests", BUILD],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return NODE_MODULES


def run_js(url, cases, node_modules):
    r = subprocess.run(["node", os.path.join(ROOT, "tests", "rest_js", "run.js"),
                        url + "/rest/v1"], input=json.dumps(cases), capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, NODE_PATH=node_modules))
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["name"] for o in out] == [c["name"] for c in cases]
    return {o["name"]: o for o in out}


def rows(pg, sql):
    return json.loads(psql(pg, f"SELECT coalesce(json_agg(_q), '[]') FROM ({sql}) _q"))


# name, table, builder steps, equivalent SQL (its rows are the expected data)
READS = [
    ("select", "rx_customers", [["select", "id,name,city"], ["order", "id"]],
     "SELECT id, name, city FROM rx_customers ORDER BY id"),
    ("eq", "rx_orders", [["select", "id,total,status"], ["eq", "status", "new"], ["order", "id"]],
     "SELECT id, total, status FROM rx_orders WHERE status = 'new' ORDER BY id"),
    ("gt_desc", "rx_orders",
     [["select", "id,total"], ["gt", "total", 50], ["order", "total", {"ascending": False}]],
     "SELECT id, total FROM rx_orders WHERE total > 50 ORDER BY total DESC, id"),
    ("in", "rx_orders", [["select", "id"], ["in", "id", [1, 3, 5]], ["order", "id"]],
     "SELECT id FROM rx_orders WHERE id IN (1, 3, 5) ORDER BY id"),
    ("is_null", "rx_orders", [["select", "id,note"], ["is", "note", None], ["order", "id"]],
     "SELECT id, note FROM rx_orders WHERE note IS NULL ORDER BY id"),
    ("like", "rx_orders", [["select", "id,note"], ["like", "note", "%please%"]],
     "SELECT id, note FROM rx_orders WHERE note LIKE '%please%'"),
    ("ilike_unicode", "rx_customers", [["select", "id,name"], ["ilike", "name", "zo%"]],
     "SELECT id, name FROM rx_customers WHERE name ILIKE 'zo%'"),
    ("or", "rx_orders",
     [["select", "id,status,total"], ["or", "status.eq.cancelled,total.lt.10"], ["order", "id"]],
     "SELECT id, status, total FROM rx_orders WHERE status = 'cancelled' OR total < 10 ORDER BY id"),
    ("nulls_first", "rx_orders",
     [["select", "id,note"], ["order", "note", {"ascending": True, "nullsFirst": True}],
      ["order", "id"]],
     "SELECT id, note FROM rx_orders ORDER BY note ASC NULLS FIRST, id"),
    ("range", "rx_orders", [["select", "id"], ["order", "id"], ["range", 1, 3]],
     "SELECT id FROM rx_orders ORDER BY id OFFSET 1 LIMIT 3"),
    ("embed_to_one", "rx_orders", [["select", "id,rx_customers(name)"], ["in", "id", [2, 5]],
                                   ["order", "id"]],
     "SELECT o.id, (SELECT json_build_object('name', c.name) FROM rx_customers c "
     "WHERE c.id = o.customer_id) AS rx_customers FROM rx_orders o WHERE o.id IN (2, 5) "
     "ORDER BY o.id"),
    ("embed_to_many", "rx_customers",
     [["select", "id,rx_orders(id)"], ["eq", "id", 2], ["order", "id", {"foreignTable": "rx_orders"}]],
     "SELECT c.id, (SELECT coalesce(json_agg(json_build_object('id', o.id) ORDER BY o.id), '[]') "
     "FROM rx_orders o WHERE o.customer_id = c.id) AS rx_orders FROM rx_customers c "
     "WHERE c.id = 2"),
]


def test_reads_match_psql(rest_server, loaded, node_modules):  # noqa: F811
    cases = [{"name": n, "from": t, "steps": s} for n, t, s, _ in READS]
    cases += [
        {"name": "single", "from": "rx_orders",
         "steps": [["select", "id,total"], ["eq", "id", 2], ["single"]]},
        {"name": "single_many", "from": "rx_orders", "steps": [["select", "id"], ["single"]]},
        {"name": "count_head", "from": "rx_orders",
         "steps": [["select", "*", {"count": "exact", "head": True}]]},
        {"name": "count_range", "from": "rx_orders",
         "steps": [["select", "id", {"count": "exact"}], ["order", "id"], ["range", 0, 1]]},
        {"name": "csv", "from": "rx_customers",
         "steps": [["select", "id,name,city"], ["order", "id"], ["csv"]]},
        {"name": "unknown_table", "from": "rx_nope", "steps": [["select", "*"]]},
    ]
    got = run_js(rest_server.url, cases, node_modules)
    for name, _, _, sql in READS:
        assert got[name]["error"] is None, (name, got[name]["error"])
        assert got[name]["data"] == rows(loaded, sql), name
    assert got["single"]["data"] == rows(loaded, "SELECT id, total FROM rx_orders WHERE id = 2")[0]
    assert got["single_many"]["status"] == 406
    assert got["single_many"]["error"]["code"] == "PGRST116"
    n = int(psql(loaded, "SELECT count(*) FROM rx_orders"))
    assert got["count_head"]["count"] == n and got["count_head"]["data"] is None
    assert got["count_range"]["count"] == n and got["count_range"]["status"] == 206
    assert got["count_range"]["data"] == rows(loaded, "SELECT id FROM rx_orders ORDER BY id LIMIT 2")
    want_csv = psql(loaded, "COPY (SELECT id, name, city FROM rx_customers ORDER BY id) TO STDOUT "
                            "(FORMAT csv, HEADER)")
    assert got["csv"]["data"].rstrip("\n") == want_csv
    assert got["unknown_table"]["status"] == 404
    assert got["unknown_table"]["error"]["code"] == "PGRST205"


def test_writes_match_psql(rest_server, loaded, node_modules):  # noqa: F811
    one = "SELECT id, name, city, tier FROM rx_customers WHERE id = 100"
    got = run_js(rest_server.url, [
        {"name": "insert", "from": "rx_customers",
         "steps": [["insert", {"id": 100, "name": "Neu ✓", "city": "Köln"}], ["select"]]},
    ], node_modules)
    assert got["insert"]["status"] == 201, got["insert"]
    assert got["insert"]["data"] == rows(loaded, one)
    assert rows(loaded, one)[0]["name"] == "Neu ✓"
    got = run_js(rest_server.url, [
        {"name": "upsert", "from": "rx_customers",
         "steps": [["upsert", {"id": 100, "name": "Neu2", "city": None, "tier": 4}], ["select"]]},
    ], node_modules)
    assert got["upsert"]["error"] is None, got["upsert"]
    assert got["upsert"]["data"] == rows(loaded, one)
    assert rows(loaded, one) == [{"id": 100, "name": "Neu2", "city": None, "tier": 4}]
    got = run_js(rest_server.url, [
        {"name": "update", "from": "rx_customers",
         "steps": [["update", {"tier": 7}], ["eq", "id", 100], ["select", "id,tier"]]},
    ], node_modules)
    assert got["update"]["data"] == rows(loaded, "SELECT id, tier FROM rx_customers WHERE id = 100")
    assert rows(loaded, one)[0]["tier"] == 7
    got = run_js(rest_server.url, [
        {"name": "delete", "from": "rx_customers",
         "steps": [["delete"], ["eq", "id", 100], ["select", "id"]]},
        {"name": "delete_unfiltered", "from": "rx_customers", "steps": [["delete"]]},
    ], node_modules)
    assert got["delete"]["data"] == [{"id": 100}]
    assert rows(loaded, one) == []
    assert got["delete_unfiltered"]["status"] == 400
    assert int(psql(loaded, "SELECT count(*) FROM rx_customers")) == 5

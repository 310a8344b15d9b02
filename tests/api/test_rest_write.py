"""The Data API's writes (POST/PUT/PATCH/DELETE /rest/v1/{table}) against a real PostgreSQL:
the table's state is checked with psql after each step.
"""
import json

from conftest import psql
from rest_support import api, rest_server  # noqa: F401 (fixtures)

J = {"Content-Type": "application/json"}


def rows(pg, sql):
    return json.loads(psql(pg, f"SELECT coalesce(json_agg(_q), '[]') FROM ({sql}) _q"))


def test_post_one_and_bulk(api, loaded):
    r = api.post("/rx_customers", json={"id": 100, "name": "One"})
    assert r.status_code == 201 and r.content == b"" and r.headers["content-range"] == "*/*"
    r = api.post("/rx_customers", params={"select": "id,name"}, headers={"Prefer": "return=representation"},
                 json=[{"id": 101, "name": "A"}, {"id": 102, "name": "B"}])
    assert r.status_code == 201 and r.json() == [{"id": 101, "name": "A"}, {"id": 102, "name": "B"}]
    assert rows(loaded, "SELECT id, name, tier FROM rx_customers WHERE id >= 100 ORDER BY id") == [
        {"id": 100, "name": "One", "tier": 1}, {"id": 101, "name": "A", "tier": 1},
        {"id": 102, "name": "B", "tier": 1}]
    big = [{"id": 1000 + i, "name": f"n{i}"} for i in range(2000)]
    assert api.post("/rx_customers", json=big).status_code == 201
    assert psql(loaded, "SELECT count(*) FROM rx_customers WHERE id >= 1000") == "2000"
    r = api.post("/rx_customers", json=[{"id": 5000, "name": "x"}, {"id": 5001}])
    assert r.status_code == 400 and r.json()["code"] == "PGRST102"


def test_post_types_and_location(api, loaded):
    body = ('{"id": 50, "num": 1.250, "i8": 9007199254740993, "arr": [4, 5], "jb": {"x": [1]},'
            ' "d": "2020-01-31", "tstz": "2020-01-31T10:00:00Z", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}')
    r = api.post("/rx_types", headers=dict(J, Prefer="return=headers-only"), content=body.encode())
    assert r.status_code == 201 and r.headers["location"] == "/rx_types?id=eq.50"
    assert psql(loaded, "SELECT i8::text || '|' || num::text || '|' || arr::text || '|' || jb::text "
                        "FROM rx_types WHERE id = 50") == '9007199254740993|1.250|{4,5}|{"x": [1]}'


def test_columns_param(api, loaded):
    r = api.post("/rx_customers", params={"columns": "id,name"},
                 json=[{"id": 200, "name": "c", "city": "ignored"}])
    assert r.status_code == 201
    assert rows(loaded, "SELECT city FROM rx_customers WHERE id = 200") == [{"city": None}]
    r = api.post("/rx_customers", params={"columns": "id,nope"}, json=[{"id": 201}])
    assert r.status_code == 400 and r.json()["code"] == "PGRST204"


def test_upserts(api, loaded):
    api.post("/rx_customers", json={"id": 300, "name": "orig", "city": "a"})
    r = api.post("/rx_customers", json={"id": 300, "name": "dup"})
    assert r.status_code == 409 and r.json()["code"] == "23505"
    r = api.post("/rx_customers", headers={"Prefer": "resolution=merge-duplicates,return=representation"},
                 json=[{"id": 300, "name": "merged"}, {"id": 301, "name": "new"}])
    assert r.status_code == 201 and [x["name"] for x in r.json()] == ["merged", "new"]
    assert rows(loaded, "SELECT name, city FROM rx_customers WHERE id = 300") == [{"name": "merged", "city": "a"}]
    r = api.post("/rx_customers", headers={"Prefer": "resolution=ignore-duplicates,return=representation"},
                 json=[{"id": 300, "name": "ignored"}, {"id": 302, "name": "n2"}])
    assert [x["id"] for x in r.json()] == [302]
    assert rows(loaded, "SELECT name FROM rx_customers WHERE id = 300") == [{"name": "merged"}]
    r = api.post("/rx_items", params={"on_conflict": "order_id,line"},
                 headers={"Prefer": "resolution=merge-duplicates"}, json={"order_id": 1, "line": 1, "sku": "Z", "qty": 9})
    assert r.status_code == 201
    assert rows(loaded, "SELECT sku, qty FROM rx_items WHERE order_id = 1 AND line = 1") == [{"sku": "Z", "qty": 9}]


def test_put(api, loaded):
    r = api.put("/rx_customers", params={"id": "eq.400"}, headers={"Prefer": "return=representation"},
                json={"id": 400, "name": "put", "city": "p", "tier": 2})
    assert r.status_code == 200 and r.json() == [{"id": 400, "name": "put", "city": "p", "tier": 2}]
    r = api.put("/rx_customers", params={"id": "eq.400"}, json={"id": 400, "name": "again", "city": None, "tier": 3})
    assert r.status_code == 204
    assert rows(loaded, "SELECT name, tier FROM rx_customers WHERE id = 400") == [{"name": "again", "tier": 3}]
    assert api.put("/rx_customers", params={"id": "eq.400"}, json={"id": 401, "name": "x"}).json()["code"] == "PGRST115"
    assert api.put("/rx_customers", params={"name": "eq.x"}, json={"id": 1, "name": "x"}).json()["code"] == "PGRST105"


def test_patch_delete_and_guards(api, loaded):
    api.post("/rx_customers", json=[{"id": 500, "name": "p1"}, {"id": 501, "name": "p2"}])
    r = api.patch("/rx_customers", params={"id": "in.(500,501)"}, json={"city": "Q"})
    assert r.status_code == 204 and r.headers["content-range"] == "0-1/*"
    assert psql(loaded, "SELECT string_agg(city, ',') FROM rx_customers WHERE id IN (500, 501)") == "Q,Q"
    r = api.patch("/rx_customers", params={"id": "eq.500", "select": "id,city"},
                  headers={"Prefer": "return=representation"}, json={"city": "R"})
    assert r.status_code == 200 and r.json() == [{"id": 500, "city": "R"}]
    for method in ("PATCH", "DELETE"):
        r = api.request(method, "/rx_customers", json={"city": "all"} if method == "PATCH" else None)
        assert r.status_code == 400 and r.json()["code"] == "21000"
    assert psql(loaded, "SELECT count(*) FROM rx_customers WHERE city = 'all'") == "0"
    r = api.patch("/rx_customers", params={"id": "gte.500"}, headers={"Prefer": "max-affected=1"}, json={"city": "S"})
    assert r.status_code == 400 and r.json()["code"] == "PGRST124"
    assert psql(loaded, "SELECT count(*) FROM rx_customers WHERE city = 'S'") == "0"
    r = api.delete("/rx_customers", params={"id": "in.(500,501)"}, headers={"Prefer": "return=representation,tx=rollback"})
    assert r.status_code == 200 and [x["id"] for x in r.json()] == [500, 501]
    assert psql(loaded, "SELECT count(*) FROM rx_customers WHERE id IN (500, 501)") == "2"
    r = api.delete("/rx_customers", params={"id": "in.(500,501)"})
    assert r.status_code == 204
    assert psql(loaded, "SELECT count(*) FROM rx_customers WHERE id IN (500, 501)") == "0"


def test_constraint_errors(api, loaded):
    r = api.post("/rx_orders", json={"customer_id": 999, "total": 1})
    assert r.status_code == 409 and r.json()["code"] == "23503"
    r = api.post("/rx_items", json={"order_id": 1, "line": 50, "sku": "x", "qty": 0})
    assert r.status_code == 400 and r.json()["code"] == "23514"
    r = api.post("/rx_orders", json={"customer_id": 1})
    assert r.status_code == 400 and r.json()["code"] == "23502"
    r = api.post("/rx_orders", content=b"{nope", headers=J)
    assert r.status_code == 400 and r.json()["code"] == "PGRST102"
    r = api.post("/rx_orders", json={"nope": 1})
    assert r.status_code == 400 and r.json()["code"] == "PGRST204"


def test_writes_invalidate_the_cached_count(api, loaded):
    h = {"Prefer": "count=exact"}
    before = int(api.get("/rx_orders", params={"limit": 1}, headers=h).headers["content-range"].split("/")[1])
    api.post("/rx_orders", json={"customer_id": 1, "total": 3})
    after = int(api.get("/rx_orders", params={"limit": 1}, headers=h).headers["content-range"].split("/")[1])
    assert after == before + 1
    assert str(after) == psql(loaded, "SELECT count(*) FROM rx_orders")

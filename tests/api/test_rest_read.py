"""The Data API's reads (GET/HEAD /rest/v1/{table}) against a real PostgreSQL: every
answer is compared with what PostgreSQL returns for the equivalent SQL.
"""
import decimal
import json
import os
import subprocess

from conftest import psql
from rest_support import api, rest_server, sql_json  # noqa: F401 (fixtures)


def exact(text):
    return json.loads(text, parse_float=decimal.Decimal)


def same(r, pg, query):
    assert r.status_code in (200, 206), r.text
    assert exact(r.text) == exact(sql_json(pg, query)), r.text


def test_every_type_as_postgres_writes_it(api, loaded):
    r = api.get("/rx_types", params={"order": "id"})
    same(r, loaded, "SELECT * FROM rx_types ORDER BY id")
    row = exact(r.text)[0]
    assert row["i8"] == 9007199254740993  # beyond 2^53, exact
    assert str(row["num"]) == "123456789012345678901234567890.123456789"
    assert row["j"]["a"][1] == decimal.Decimal("2.50")
    assert row["arr"] == [1, 2, None] and row["tarr"] == ["a,b", 'c"d']
    assert row["tstz"] == "2024-02-29T11:14:15+00:00" and row["d"] == "2024-02-29"
    assert row["by"] == "\\xdeadbeef" and row["iv"] == "1 day 02:03:04"
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-range"] == "0-2/*"


EDGE_COLUMNS = "id,num,f4,f8,t,c,j,jb,ts,tstz,tm,ttz,m,bits"


def sql_raw(pg, query):
    """psql's output as bytes decoded, without text mode's newline translation (a json
    value's CR LF must stay CR LF)."""
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query],
                         env=dict(os.environ, **pg), capture_output=True, check=True)
    return out.stdout.decode().rstrip("\n")


def json_agg(pg, query):
    return sql_raw(pg, f"SELECT coalesce(json_agg(_q), '[]') FROM ({query}) _q")


def test_plain_reads_are_json_agg_byte_for_byte(api, loaded):
    """Plain-column reads are encoded by lakeapi (the server only runs the SELECT): the body
    must be what json_agg writes for the same rows, byte for byte, for every edge value."""
    r = api.get("/rx_edges", params={"order": "id"})
    assert r.status_code == 200, r.text
    assert r.text == json_agg(loaded, "SELECT * FROM rx_edges ORDER BY id")
    r = api.get("/rx_edges", params={"select": EDGE_COLUMNS, "order": "id.desc", "limit": 2})
    assert r.text == json_agg(loaded, f"SELECT {EDGE_COLUMNS} FROM rx_edges ORDER BY id DESC LIMIT 2")
    cols = "id,i2,i8,num,f8,b,t,d,ts,tstz,j,jb,u,ip,iv,by,tsv"  # every encodable type of rx_types
    r = api.get("/rx_types", params={"select": cols, "order": "id"})
    assert r.text == json_agg(loaded, f"SELECT {cols} FROM rx_types ORDER BY id")
    assert api.get("/rx_edges", params={"id": "eq.99"}).text == "[]"
    one = api.get("/rx_edges", params={"id": "eq.1"}, headers={"Accept": "application/vnd.pgrst.object+json"})
    assert one.status_code == 200 and one.text == sql_raw(loaded, "SELECT row_to_json(e) FROM rx_edges e WHERE id = 1")


def test_plain_read_cursor_link_walks_every_row(api, loaded):
    """The next-page cursor of a plain read comes from its last row: walking the Links visits
    every row once, in order, as the json_agg read with a cursor column did."""
    seen, url = [], "/rx_types?select=id,t&order=t.desc.nullslast&limit=1"
    for _ in range(10):
        r = api.get(url)
        assert r.status_code == 200, r.text
        seen += [row["id"] for row in r.json()]
        link = r.headers.get("link")
        if not link:
            break
        url = link[link.index("<") + 1:link.index(">")].replace("/rest/v1", "", 1)
    want = [int(x) for x in psql(loaded, "SELECT id FROM rx_types ORDER BY t DESC NULLS LAST, id").split()]
    assert seen == want


def test_select_alias_cast_json_path(api, loaded):
    r = api.get("/rx_types", params={"select": "id,label:t,num::text,jb->k->>n,j->a", "id": "eq.1"})
    assert r.json() == [{"id": 1, "label": "plain", "num": "123456789012345678901234567890.123456789",
                         "n": "1", "a": [1, 2.5, None]}]
    assert api.get("/rx_types", params={"select": "id::nosuchtype"}).json()["code"] == "PGRST100"


def test_filters_match_sql(api, loaded):
    cases = [
        ({"total": "gt.100"}, "total > 100"),
        ({"total": "lte.99.99"}, "total <= 99.99"),
        ({"status": "neq.new"}, "status <> 'new'"),
        ({"note": "is.null"}, "note IS NULL"),
        ({"note": "not.is.null"}, "note IS NOT NULL"),
        ({"note": "like.*please"}, "note LIKE '%please'"),
        ({"note": "ilike.*GIFT*"}, "note ILIKE '%gift%'"),
        ({"note": "match.^ru"}, "note ~ '^ru'"),
        ({"status": "in.(new,cancelled)"}, "status IN ('new','cancelled')"),
        ({"status": "not.in.(new)"}, "NOT status IN ('new')"),
        ({"customer_id": "isdistinct.1"}, "customer_id IS DISTINCT FROM 1"),
        ({"status": "eq(any).{new,shipped}"}, "status = ANY('{new,shipped}')"),
        ({"or": "(total.gt.200,and(status.eq.new,note.is.null))"},
         "total > 200 OR (status = 'new' AND note IS NULL)"),
        ({"not.or": "(status.eq.new,status.eq.shipped)"}, "NOT (status = 'new' OR status = 'shipped')"),
        ({"total": "gte.10", "status": "eq.shipped"}, "total >= 10 AND status = 'shipped'"),
    ]
    for params, where in cases:
        r = api.get("/rx_orders", params=dict(params, order="id"))
        same(r, loaded, f"SELECT * FROM rx_orders WHERE {where} ORDER BY id")


def test_array_range_fts_operators(api, loaded):
    for params, where in [
        ({"arr": "cs.{1,2}"}, "arr @> '{1,2}'"),
        ({"arr": "cd.{1,2,3,NULL}"}, "arr <@ '{1,2,3,NULL}'"),
        ({"tarr": "ov.{a,b,c}"}, "tarr && '{a,b,c}'"),
        ({"r": "adj.[10,20)"}, "r -|- '[10,20)'"),
        ({"r": "sl.[20,30)"}, "r << '[20,30)'"),
        ({"tsv": "fts(english).fox"}, "tsv @@ to_tsquery('english', 'fox')"),
        ({"tsv": "plfts.lazy dogs"}, "tsv @@ plainto_tsquery('lazy dogs')"),
        ({"t": "wfts(english).unï"}, "to_tsvector('english', t) @@ websearch_to_tsquery('english', 'unï')"),
        ({"jb->>s": "eq.v"}, "jb->>'s' = 'v'"),
    ]:
        r = api.get("/rx_types", params=dict(params, order="id", select="id"))
        same(r, loaded, f"SELECT id FROM rx_types WHERE {where} ORDER BY id")


def test_order_nulls_limit_offset_range(api, loaded):
    r = api.get("/rx_orders", params={"order": "total.desc,note.asc.nullsfirst,id", "select": "id,total,note"})
    same(r, loaded, "SELECT id, total, note FROM rx_orders ORDER BY total DESC, note ASC NULLS FIRST, id")
    r = api.get("/rx_orders", params={"order": "id", "limit": 2, "offset": 1})
    same(r, loaded, "SELECT * FROM rx_orders ORDER BY id LIMIT 2 OFFSET 1")
    assert r.headers["content-range"] == "1-2/*"
    r = api.get("/rx_orders", params={"order": "id"}, headers={"Range": "2-3", "Range-Unit": "items"})
    same(r, loaded, "SELECT * FROM rx_orders ORDER BY id LIMIT 2 OFFSET 2")
    assert r.headers["content-range"] == "2-3/*"
    r = api.get("/rx_orders", headers={"Range": "5-2"})
    assert r.status_code == 416 and r.json()["code"] == "PGRST103"


def test_counts(api, loaded):
    r = api.get("/rx_orders", params={"limit": 2, "order": "id"}, headers={"Prefer": "count=exact"})
    assert r.status_code == 206
    assert r.headers["content-range"] == "0-1/6"
    assert "count=exact" in r.headers["preference-applied"]
    r = api.get("/rx_orders", params={"status": "eq.new"}, headers={"Prefer": "count=exact"})
    assert r.status_code == 200 and r.headers["content-range"] == "0-2/3"
    r = api.get("/rx_orders", params={"limit": 1}, headers={"Prefer": "count=planned"})
    total = int(r.headers["content-range"].split("/")[1])
    assert r.status_code in (200, 206) and total >= 0
    r = api.get("/rx_orders", params={"limit": 1}, headers={"Prefer": "count=estimated"})
    assert r.headers["content-range"] == "0-0/6"  # under DB_MAX_ROWS: exact
    r = api.get("/rx_orders", params={"offset": 10}, headers={"Prefer": "count=exact"})
    assert r.status_code == 416 and r.json()["code"] == "PGRST103"
    r = api.get("/rx_orders", params={"id": "eq.-1"}, headers={"Prefer": "count=exact"})
    assert r.status_code == 200 and r.headers["content-range"] == "*/0" and r.json() == []


def test_singular_object(api):
    h = {"Accept": "application/vnd.pgrst.object+json"}
    r = api.get("/rx_customers", params={"id": "eq.4"}, headers=h)
    assert r.status_code == 200 and r.json() == {"id": 4, "name": "Ηρώ", "city": "Αθήνα", "tier": None}
    assert r.headers["content-type"].startswith("application/vnd.pgrst.object+json")
    r = api.get("/rx_customers", headers=h)
    assert r.status_code == 406
    assert r.json()["code"] == "PGRST116" and r.json()["details"] == "The result contains 5 rows"
    assert api.get("/rx_customers", params={"id": "eq.99"}, headers=h).json()["details"] == \
        "The result contains 0 rows"


def test_embedding_both_directions(api, loaded):
    r = api.get("/rx_orders", params={"select": "id,buyer:rx_customers(name)", "id": "in.(1,5)", "order": "id"})
    assert r.json() == [{"id": 1, "buyer": {"name": "Ada"}}, {"id": 5, "buyer": None}]
    r = api.get("/rx_customers", params={"select": "name,rx_orders(id,total)", "id": "eq.1",
                                          "rx_orders.order": "id.desc"})
    assert exact(r.text) == [{"name": "Ada", "rx_orders": [{"id": 2, "total": decimal.Decimal("250.00")},
                                                          {"id": 1, "total": decimal.Decimal("10.50")}]}]
    r = api.get("/rx_customers", params={"select": "id,rx_orders!inner(id)", "rx_orders.status": "eq.shipped",
                                          "order": "id"})
    same(r, loaded, "SELECT c.id, (SELECT json_agg(json_build_object('id', o.id)) FROM rx_orders o "
                    "WHERE o.customer_id = c.id AND o.status = 'shipped') AS rx_orders FROM rx_customers c "
                    "WHERE EXISTS (SELECT 1 FROM rx_orders o WHERE o.customer_id = c.id AND o.status = 'shipped') "
                    "ORDER BY c.id")
    r = api.get("/rx_orders", params={"select": "id,rx_items(sku)", "rx_items.limit": 1, "id": "eq.1"})
    assert r.json() == [{"id": 1, "rx_items": [{"sku": "A-1"}]}]


def test_embedding_errors_and_hints(api):
    h = {"Accept-Profile": "rest_fx"}
    r = api.get("/messages", params={"select": "id,people(name)"}, headers=h)
    assert r.status_code == 300 and r.json()["code"] == "PGRST201"
    assert "messages_sender_id_fkey" in r.json()["hint"]
    r = api.get("/messages", params={"select": "id,sender:people!messages_sender_id_fkey(name)", "order": "id"},
                headers=h)
    assert r.json() == [{"id": 1, "sender": {"name": "ann"}}, {"id": 2, "sender": {"name": "bob"}}]
    r = api.get("/rx_orders", params={"select": "id,nosuch(*)"})
    assert r.status_code == 400 and r.json()["code"] == "PGRST200"
    r = api.get("/rx_orders", params={"rx_items.sku": "eq.x"})
    assert r.status_code == 400 and r.json()["code"] == "PGRST108"


def test_profiles(api):
    r = api.get("/rx_customers", headers={"Accept-Profile": "rest_fx"})
    assert r.json() == [{"id": 1, "label": "other schema"}]
    assert r.headers["content-profile"] == "rest_fx"
    r = api.get("/rx_customers", headers={"Accept-Profile": "nope"})
    assert r.status_code == 406 and r.json()["code"] == "PGRST106"


def test_errors_in_postgrest_shape(api):
    for path, params, status, code in [
        ("/rx_nope", {}, 404, "PGRST205"),
        ("/rx_orders", {"select": "nope"}, 400, "PGRST204"),
        ("/rx_orders", {"nope": "eq.1"}, 400, "PGRST204"),
        ("/rx_orders", {"order": "nope.desc"}, 400, "PGRST204"),
        ("/rx_orders", {"id": "eq.abc"}, 400, "22P02"),
        ("/rx_orders", {"id": "bogus.1"}, 400, "PGRST100"),
        ("/rx_orders", {"select": "id,("}, 400, "PGRST100"),
        ("/rx_orders", {"limit": "x"}, 400, "PGRST100"),
    ]:
        r = api.get(path, params=params)
        assert r.status_code == status, (path, params, r.text)
        body = r.json()
        assert set(body) == {"code", "message", "details", "hint"} and body["code"] == code, body
    assert api.get("/rx_ordrs").json()["hint"] == "Perhaps you meant the table 'public.rx_orders'"
    assert api.get("/rx_orders", params={"select": "totl"}).json()["hint"] == "Perhaps you meant 'total'"


def test_sql_looking_input_is_only_data(api, loaded):
    r = api.get("/rx_customers", params={"name": "eq.x'; DROP TABLE rx_customers; --"})
    assert r.status_code == 200 and r.json() == []
    r = api.get("/rx_customers", params={"select": 'id,"name""; DROP TABLE x; --"'})
    assert r.status_code == 400
    r = api.get("/rx_customers", params={"select": "id,x:name", "x": "eq.1"})
    assert r.status_code == 400  # an alias is not a column
    assert loaded and api.get("/rx_customers", params={"limit": 0}).status_code == 200


def test_head_and_max_rows(api, rest_server):
    r = api.head("/rx_orders", headers={"Prefer": "count=exact"})
    assert r.status_code == 200 and r.content == b"" and r.headers["content-range"] == "0-5/6"


def test_streaming_export(api, loaded):
    r = api.get("/rx_customers", params={"order": "id", "select": "id,name"},
                headers={"Accept": "application/x-ndjson"})
    assert r.status_code == 200
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert lines == json.loads(sql_json(loaded, "SELECT id, name FROM rx_customers ORDER BY id"))
    r = api.get("/rx_customers", params={"order": "id", "select": "id,city", "id": "lt.4"},
                headers={"Accept": "text/csv"})
    assert r.text == "id,city\n1,London\n2,New York\n3,\n"


def test_keyset_cursor_pages_walk_every_row_once(api, loaded):
    import re
    for order in ["note.desc.nullsfirst", "total.desc,note.asc.nullslast", "status,placed_at.desc",
                  "customer_id.asc.nullsfirst"]:
        sql_order = ", ".join(
            " ".join([t.split(".")[0]] + [{"desc": "DESC", "asc": "ASC", "nullsfirst": "NULLS FIRST",
                                           "nullslast": "NULLS LAST"}[w] for w in t.split(".")[1:]])
            for t in order.split(","))
        want = [r["id"] for r in json.loads(sql_json(loaded, f"SELECT id FROM rx_orders ORDER BY {sql_order}, id"))]
        r = api.get("/rx_orders", params={"select": "id", "order": order, "limit": 2})
        got = [x["id"] for x in r.json()]
        pages = 1
        while "link" in r.headers:
            link = re.match(r'<([^>]*)>; rel="next"', r.headers["link"]).group(1)
            assert link.startswith("/rest/v1/rx_orders?") and "offset=" not in link
            r = api.get(link.removeprefix("/rest/v1"))
            assert r.status_code == 200, r.text
            got += [x["id"] for x in r.json()]
            pages += 1
        assert got == want, order
        assert pages >= 3
    r = api.get("/rx_orders", params={"select": "id", "order": "id", "limit": 2})
    token = re.search(r"cursor=([^>&]*)", r.headers["link"]).group(1)
    assert api.get("/rx_orders", params={"order": "id", "cursor": token}).json()[0]["id"] == 3
    for bad in [{"order": "id.desc", "cursor": token}, {"order": "id", "cursor": token[:-2] + "AA"},
                {"order": "total", "cursor": token}]:
        r = api.get("/rx_orders", params=bad)
        assert r.status_code == 400 and r.json()["code"].startswith("PGRST"), bad
    assert "link" not in api.get("/rx_orders", params={"order": "id"}).headers  # not a full page

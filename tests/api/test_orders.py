"""The orders API (SPEC section 2) against SF 0.01 TPC-H orders."""
import concurrent.futures

import pytest

from conftest import first_422, psql

N = 15000


def orderkey(i):
    return ((i >> 3) << 5) | (i & 7)


ALL_KEYS = [orderkey(i) for i in range(1, N + 1)]

ROW1 = {
    "o_orderkey": 1, "o_custkey": 370, "o_orderstatus": "O", "o_totalprice": 172799.49,
    "o_orderdate": "1996-01-02", "o_orderpriority": "5-LOW", "o_clerk": "Clerk#000000951",
    "o_shippriority": 0, "o_comment": "nstructions sleep furiously among ",
}
ROW_KEYS = list(ROW1)


def test_count(client):
    r = client.get("/api/v1/orders/count")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"total_orders": N}


def test_sample(client):
    body = client.get("/api/v1/orders/sample").json()
    keys = body["sample_order_keys"]
    assert len(keys) == 5 and all(k in set(ALL_KEYS) for k in keys)


def test_get_row_exact(client):
    r = client.get("/api/v1/orders/1")
    assert r.status_code == 200
    assert r.json() == ROW1
    assert list(r.json()) == ROW_KEYS  # key order is part of the contract
    # the price is the stored decimal text, never a float re-rounding
    assert '"o_totalprice":172799.49' in r.text.replace(" ", "")


def test_get_last_row(client):
    r = client.get("/api/v1/orders/60000")
    assert r.json()["o_orderstatus"] == "P"
    assert r.json()["o_totalprice"] == 299401.61
    assert r.json()["o_orderdate"] == "1995-04-21"


@pytest.mark.parametrize("key,status,detail", [
    ("0", 400, "Invalid order key provided"),
    ("-5", 400, "Invalid order key provided"),
    ("8", 404, "Order with key '8' not found"),       # sparse: bits 3-4 set
    ("60001", 404, "Order with key '60001' not found"),
    ("99999999999999999999", 404, None),
])
def test_get_errors(client, key, status, detail):
    r = client.get(f"/api/v1/orders/{key}")
    assert r.status_code == status
    if detail:
        assert r.json() == {"detail": detail}


def test_get_not_an_int(client):
    item = first_422(client.get("/api/v1/orders/abc"), "int_parsing", ["path", "order_key"])
    assert item["input"] == "abc"


def test_pages_defaults(client):
    body = client.get("/api/v1/orders/pages").json()
    assert [o["o_orderkey"] for o in body["orders"]] == ALL_KEYS[:100]
    assert body["pagination"] == {"page": 1, "page_size": 100, "total_pages": 150,
                                  "total_count": N, "has_next": True, "has_previous": False}


def test_pages_without_count(client):
    body = client.get("/api/v1/orders/pages",
                      params={"page": 3, "page_size": 7, "include_count": "no"}).json()
    assert [o["o_orderkey"] for o in body["orders"]] == ALL_KEYS[14:21]
    p = body["pagination"]
    assert p["total_pages"] == -1 and p["total_count"] == -1
    assert p["has_next"] and p["has_previous"]


def test_pages_last_and_beyond(client):
    body = client.get("/api/v1/orders/pages", params={"page": 15, "page_size": 1000}).json()
    assert body["orders"][-1]["o_orderkey"] == 60000
    assert body["pagination"]["has_next"] is False
    body = client.get("/api/v1/orders/pages", params={"page": 16, "page_size": 1000}).json()
    assert body["orders"] == [] and body["pagination"]["has_next"] is False
    huge = client.get("/api/v1/orders/pages", params={"page": 10**30}).json()
    assert huge["orders"] == []


@pytest.mark.parametrize("word,value", [
    ("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True),
    ("No", False), ("on", True), ("off", False)])
def test_pages_bool_words(client, word, value):
    p = client.get("/api/v1/orders/pages",
                   params={"page_size": 1, "include_count": word}).json()["pagination"]
    assert (p["total_count"] == N) is value


@pytest.mark.parametrize("params,loc,typ", [
    ({"page": "0"}, "page", "greater_than_equal"),
    ({"page": "x"}, "page", "int_parsing"),
    ({"page": "1.5"}, "page", "int_parsing"),
    ({"page_size": "0"}, "page_size", "greater_than_equal"),
    ({"page_size": "1001"}, "page_size", "less_than_equal"),
    ({"page_size": ""}, "page_size", "int_parsing"),
    ({"include_count": "maybe"}, "include_count", "bool_parsing"),
])
def test_pages_422(client, params, loc, typ):
    item = first_422(client.get("/api/v1/orders/pages", params=params), typ, ["query", loc])
    assert item["input"] == list(params.values())[0]
    assert isinstance(item["msg"], str) and item["msg"]


def test_pages_422_reports_every_bad_parameter(client):
    r = client.get("/api/v1/orders/pages", params={"page": "0", "page_size": "5000"})
    assert r.status_code == 422
    assert [d["loc"][1] for d in r.json()["detail"]] == ["page", "page_size"]
    assert r.json()["detail"][1]["ctx"] == {"le": 1000}


def test_stream_first_page(client):
    body = client.get("/api/v1/orders/stream", params={"page_size": 10}).json()
    assert [o["o_orderkey"] for o in body["orders"]] == ALL_KEYS[:10]
    assert body["pagination"] == {"page_size": 10, "has_next": True, "has_previous": False,
                                  "next_cursor": ALL_KEYS[9], "previous_cursor": None}


def test_stream_walk_every_key_once(client):
    seen, cursor, pages = [], 0, 0
    while True:
        body = client.get("/api/v1/orders/stream",
                          params={"cursor": cursor, "page_size": 1000}).json()
        seen += [o["o_orderkey"] for o in body["orders"]]
        pages += 1
        if not body["pagination"]["has_next"]:
            assert body["pagination"]["next_cursor"] is None
            break
        cursor = body["pagination"]["next_cursor"]
    assert seen == ALL_KEYS
    assert pages == 15


def test_stream_and_pages_agree(client):
    cursor = 0
    for page in range(1, 6):
        s = client.get("/api/v1/orders/stream", params={"cursor": cursor, "page_size": 37}).json()
        p = client.get("/api/v1/orders/pages", params={"page": page, "page_size": 37}).json()
        assert s["orders"] == p["orders"]
        cursor = s["pagination"]["next_cursor"]


@pytest.mark.parametrize("page_size", [1, 3, 10, 100])
def test_previous_cursor_on_sparse_keys(client, page_size):
    """Following previous_cursor from any page lands exactly on the page before it."""
    cursor, history = 0, []
    for _ in range(6):
        body = client.get("/api/v1/orders/stream",
                          params={"cursor": cursor, "page_size": page_size}).json()
        history.append((cursor, [o["o_orderkey"] for o in body["orders"]]))
        prev = body["pagination"]["previous_cursor"]
        if cursor == 0:
            assert prev is None and body["pagination"]["has_previous"] is False
        else:
            back = client.get("/api/v1/orders/stream",
                              params={"cursor": prev, "page_size": page_size}).json()
            assert [o["o_orderkey"] for o in back["orders"]] == history[-2][1]
        cursor = body["pagination"]["next_cursor"]


def test_previous_cursor_from_arbitrary_cursor(client):
    # cursor 100 is not a key; the keys <= 100 are 1..7, 32..39 (minus 8..31), 64..71, 96..100
    keys_le = [k for k in ALL_KEYS if k <= 100]
    body = client.get("/api/v1/orders/stream", params={"cursor": 100, "page_size": 5}).json()
    assert body["pagination"]["previous_cursor"] == keys_le[-6]
    body = client.get("/api/v1/orders/stream", params={"cursor": 5, "page_size": 10}).json()
    assert body["pagination"]["previous_cursor"] == 0


@pytest.mark.parametrize("start,page_size", [(0, 7), (100, 5), (1000, 30), (4099, 1)])
def test_previous_cursor_of_sequential_reads(client, start, page_size):
    """A forward walk gets its previous cursors from the pages it just read (web/cursors.c),
    starting from a key, from 0, or from a cursor that is no key: each must equal the
    definition, the (page_size+1)-th largest key <= cursor (0 when there are not that many)."""
    cursor = start
    for _ in range(8):
        body = client.get("/api/v1/orders/stream",
                          params={"cursor": cursor, "page_size": page_size}).json()
        keys_le = [k for k in ALL_KEYS if k <= cursor]
        want = keys_le[-(page_size + 1)] if len(keys_le) > page_size else 0
        assert body["pagination"]["previous_cursor"] == (want if cursor > 0 else None)
        cursor = body["pagination"]["next_cursor"]


@pytest.mark.parametrize("params,loc,typ", [
    ({"cursor": "-1"}, "cursor", "greater_than_equal"),
    ({"cursor": "a"}, "cursor", "int_parsing"),
    ({"page_size": "1001"}, "page_size", "less_than_equal"),
])
def test_stream_422(client, params, loc, typ):
    first_422(client.get("/api/v1/orders/stream", params=params), typ, ["query", loc])


def test_stream_past_the_end(client):
    body = client.get("/api/v1/orders/stream", params={"cursor": 60000}).json()
    assert body["orders"] == []
    assert body["pagination"]["has_next"] is False
    assert body["pagination"]["has_previous"] is True


def test_status_update_visible_and_restored(client, loaded):
    key = 33
    before = client.get(f"/api/v1/orders/{key}").json()["o_orderstatus"]
    new = "X" if before != "X" else "Y"
    r = client.post(f"/api/v1/orders/{key}/status", json={"o_orderstatus": new})
    assert r.status_code == 200
    assert r.json() == {"o_orderkey": key, "o_orderstatus": new,
                        "message": "Order status updated successfully"}
    assert client.get(f"/api/v1/orders/{key}").json()["o_orderstatus"] == new
    assert psql(loaded, f"SELECT o_orderstatus FROM orders_synced WHERE o_orderkey={key}") == new
    client.post(f"/api/v1/orders/{key}/status", json={"o_orderstatus": before})
    assert client.get(f"/api/v1/orders/{key}").json()["o_orderstatus"] == before


def test_status_unknown_and_invalid_keys(client):
    r = client.post("/api/v1/orders/8/status", json={"o_orderstatus": "F"})
    assert r.status_code == 404 and r.json() == {"detail": "Order with key '8' not found"}
    r = client.post("/api/v1/orders/0/status", json={"o_orderstatus": "F"})
    assert r.status_code == 400 and r.json() == {"detail": "Invalid order key provided"}


@pytest.mark.parametrize("body,typ,loc", [
    ('{"o_orderstatus": "FF"}', "string_pattern_mismatch", ["body", "o_orderstatus"]),
    ('{"o_orderstatus": "f"}', "string_pattern_mismatch", ["body", "o_orderstatus"]),
    ('{"o_orderstatus": ""}', "string_pattern_mismatch", ["body", "o_orderstatus"]),
    ('{"o_orderstatus": 1}', "string_type", ["body", "o_orderstatus"]),
    ('{"o_orderstatus": null}', "string_type", ["body", "o_orderstatus"]),
    ('{"status": "F"}', "missing", ["body", "o_orderstatus"]),
    ('{}', "missing", ["body", "o_orderstatus"]),
    ('["F"]', "model_attributes_type", ["body"]),
    ('"F"', "model_attributes_type", ["body"]),
    ('{"o_orderstatus": "F"', "json_invalid", None),
    ('not json', "json_invalid", None),
    ('', "missing", ["body"]),
])
def test_status_body_422(client, body, typ, loc):
    r = client.post("/api/v1/orders/1/status", content=body,
                    headers={"content-type": "application/json"})
    first_422(r, typ, loc)
    assert client.get("/api/v1/orders/1").json()["o_orderstatus"] == "O"


def test_sql_looking_input_changes_nothing(client, loaded):
    r = client.post("/api/v1/orders/1/status",
                    json={"o_orderstatus": "F'; DROP TABLE orders_synced; --"})
    assert r.status_code == 422
    r = client.get("/api/v1/orders/1;DROP TABLE orders_synced")
    assert r.status_code in (404, 422)
    assert psql(loaded, "SELECT count(*) FROM orders_synced") == str(N)


def test_concurrent_requests(server):
    import httpx
    keys = ALL_KEYS[::97][:120]

    def get(k):
        with httpx.Client(base_url=server.url, timeout=10) as c:
            return [c.get(f"/api/v1/orders/{k}").json()["o_orderkey"] for _ in range(3)]

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        results = list(ex.map(get, keys))
    assert results == [[k] * 3 for k in keys]


@pytest.mark.parametrize("page,size", [(2, 1000), (3, 999), (7, 1000), (12, 1000), (15, 1000),
                                       (101, 100), (1499, 10), (1500, 10), (1501, 10)])
def test_deep_pages_identical_to_offset(client, loaded, page, size):
    """Deep pages start from keyset anchors once built; results must equal OFFSET's."""
    expected = [ALL_KEYS[i] for i in range((page - 1) * size, min(page * size, N))]
    import time
    for _ in range(3):  # first call may build the anchors in the background
        body = client.get("/api/v1/orders/pages",
                          params={"page": page, "page_size": size, "include_count": "false"}).json()
        assert [o["o_orderkey"] for o in body["orders"]] == expected
        assert body["pagination"]["has_next"] == (page * size < N)
        time.sleep(0.2)
    offset = (page - 1) * size
    sql_keys = psql(loaded, f"SELECT string_agg(o_orderkey::text, ',') FROM (SELECT o_orderkey "
                            f"FROM orders_synced ORDER BY o_orderkey OFFSET {offset} LIMIT {size}) s")
    assert ([int(k) for k in sql_keys.split(",")] if sql_keys else []) == expected


def test_count_follows_external_inserts(client, loaded):
    """Rows added outside lakeapi show in /count within the cache TTL, and deep pages
    stay identical to OFFSET once the count moved (the anchors shift)."""
    import time

    def offset_keys(offset, size):
        out = psql(loaded, f"SELECT string_agg(o_orderkey::text, ',') FROM (SELECT o_orderkey "
                           f"FROM orders_synced ORDER BY o_orderkey OFFSET {offset} LIMIT {size}) s")
        return [int(k) for k in out.split(",")] if out else []

    def page_keys(page, size):
        body = client.get("/api/v1/orders/pages",
                          params={"page": page, "page_size": size, "include_count": "0"}).json()
        return [o["o_orderkey"] for o in body["orders"]]

    for _ in range(3):  # make sure the anchors are built before the change
        assert page_keys(5, 1000) == offset_keys(4000, 1000)
        time.sleep(0.2)
    # keys 9..15 do not exist in TPC-H (bits 3-4 set): every later position shifts by 7
    psql(loaded, "INSERT INTO orders_synced SELECT o_orderkey + 8, o_custkey, "
                 "o_orderstatus, o_totalprice, o_orderdate, o_orderpriority, o_clerk, "
                 "o_shippriority, o_comment FROM orders_synced WHERE o_orderkey BETWEEN 1 AND 7")
    try:
        deadline = time.time() + 5
        while time.time() < deadline:
            if client.get("/api/v1/orders/count").json()["total_orders"] == N + 7:
                break
            time.sleep(0.2)
        assert client.get("/api/v1/orders/count").json()["total_orders"] == N + 7
        for _ in range(3):
            assert page_keys(5, 1000) == offset_keys(4000, 1000)
            assert page_keys(16, 1000) == offset_keys(15000, 1000)
            time.sleep(0.2)
    finally:
        psql(loaded, "DELETE FROM orders_synced WHERE o_orderkey BETWEEN 9 AND 15")
        deadline = time.time() + 5
        while time.time() < deadline:
            if client.get("/api/v1/orders/count").json()["total_orders"] == N:
                break
            time.sleep(0.2)

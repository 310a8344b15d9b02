"""The users API (SPEC section 3, seeds 000 and 003) against 2000 generated users."""
import concurrent.futures
import json
import re
import shutil
import subprocess

import httpx
import pytest

from conftest import USERS, first_422, psql

N = int(USERS)
COLUMNS = ["id", "first_name", "last_name", "email", "address", "ip_address"]
FULL = {"first_name": "Sierra", "last_name": "Keller",
        "email": "sbartlett@sanchez-zimmerman.com",
        "address": "29032 Montes Village\nLake Josechester, NJ 42870",
        "ip_address": "172.26.121.155"}


def db_user(pg, uid):
    """The row as the database has it, or None."""
    out = psql(pg, "SELECT row_to_json(u) FROM (SELECT id, first_name, last_name, email, address,"
                   f" ip_address FROM users WHERE id = {int(uid)}) u")
    return json.loads(out) if out else None


def create(client, body):
    r = client.post("/user", json=body)
    assert r.status_code == 200, r.text
    assert list(r.json()) == ["user_id"]
    return r.json()["user_id"]


def count(pg):
    return int(psql(pg, "SELECT count(*) FROM users"))


# ---- GET /user?id=N ----

def test_get_user_by_id(client, loaded):
    r = client.get("/user", params={"id": 1})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    rows = r.json()
    assert isinstance(rows, list) and len(rows) == 1
    assert list(rows[0]) == COLUMNS  # key order is stable
    assert rows[0] == db_user(loaded, 1)
    assert rows[0]["id"] == 1 and "\n" in rows[0]["address"]


@pytest.mark.parametrize("uid", [0, -1, N + 10**6, "99999999999999999999"])
def test_get_unknown_user_is_empty_array(client, uid):
    r = client.get("/user", params={"id": uid})
    assert r.status_code == 200 and r.json() == []


def test_get_user_id_missing(client):
    r = client.get("/user")
    assert r.status_code == 422
    assert r.json() == {"detail": [{"type": "missing", "loc": ["query", "id"],
                                    "msg": "Field required", "input": None}]}


@pytest.mark.parametrize("raw", ["abc", "1.5", "", "1;DROP TABLE users"])
def test_get_user_id_not_int(client, loaded, raw):
    item = first_422(client.get("/user", params={"id": raw}), "int_parsing", ["query", "id"])
    assert item["input"] == raw
    assert count(loaded) >= N - 50


# ---- the seed's sequence, with curl as the article runs it ----

@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_seed_000_curl_sequence(server, loaded):
    url = server.url

    def curl(*args):
        out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True,
                             text=True, check=True, timeout=20)
        body, status = out.stdout.rsplit("\n", 1)
        return int(status), json.loads(body)

    status, body = curl("-X", "GET", f"{url}/user?id=1")
    assert status == 200 and len(body) == 1 and body[0]["id"] == 1
    assert set(body[0]) == set(COLUMNS)

    status, body = curl("-X", "POST", f"{url}/user", "--header", "Content-Type: application/json",
                        "--data-raw", '{\n    "first_name": "Lake",\n    "last_name": "House"\n}')
    assert status == 200 and list(body) == ["user_id"]
    uid = body["user_id"]
    assert uid > N  # the identity continues after the loaded rows

    status, body = curl("-X", "PUT", f"{url}/user/{uid}", "--header",
                        "Content-Type: application/json", "--data-raw",
                        '{\n    "first_name": "Databricks",\n    "last_name": "LakeHouse"\n}')
    assert status == 200 and body == {"user_id": uid}
    assert db_user(loaded, uid)["first_name"] == "Databricks"
    assert db_user(loaded, uid)["last_name"] == "LakeHouse"

    status, body = curl("-X", "DELETE", f"{url}/user/{uid}")
    assert status == 200 and body == {"user_id": uid, "msg": "record deleted"}
    assert db_user(loaded, uid) is None


# ---- the full cycle ----

def test_create_read_update_read_delete_read(client, loaded):
    uid = create(client, FULL)
    assert client.get("/user", params={"id": uid}).json() == [dict(id=uid, **FULL)]
    assert db_user(loaded, uid) == dict(id=uid, **FULL)

    # partial update: only what is sent changes
    r = client.put(f"/user/{uid}", json={"last_name": "Lakehouse", "ip_address": "10.0.0.7"})
    assert r.status_code == 200 and r.json() == {"user_id": uid}
    after = client.get("/user", params={"id": uid}).json()
    assert after == [dict(id=uid, **dict(FULL, last_name="Lakehouse", ip_address="10.0.0.7"))]

    r = client.delete(f"/user/{uid}")
    assert r.status_code == 200 and r.json() == {"user_id": uid, "msg": "record deleted"}
    assert client.get("/user", params={"id": uid}).json() == []
    assert db_user(loaded, uid) is None

    # gone: both writes answer 404 and change nothing
    r = client.put(f"/user/{uid}", json={"first_name": "Ghost"})
    assert r.status_code == 404 and r.json() == {"detail": f"User with id '{uid}' not found"}
    r = client.delete(f"/user/{uid}")
    assert r.status_code == 404 and r.json() == {"detail": f"User with id '{uid}' not found"}
    assert db_user(loaded, uid) is None


def test_create_with_some_fields_leaves_others_null(client):
    uid = create(client, {"first_name": "Lake", "last_name": "House"})
    assert client.get("/user", params={"id": uid}).json() == [
        {"id": uid, "first_name": "Lake", "last_name": "House", "email": None, "address": None,
         "ip_address": None}]
    client.delete(f"/user/{uid}")


def test_create_empty_object_is_all_null(client):
    uid = create(client, {})
    row = client.get("/user", params={"id": uid}).json()[0]
    assert row == {"id": uid, **{c: None for c in COLUMNS[1:]}}
    client.delete(f"/user/{uid}")


def test_update_null_clears_and_empty_object_is_noop(client, loaded):
    uid = create(client, FULL)
    r = client.put(f"/user/{uid}", json={"email": None, "address": None})
    assert r.status_code == 200
    assert db_user(loaded, uid) == dict(id=uid, **dict(FULL, email=None, address=None))
    r = client.put(f"/user/{uid}", json={})
    assert r.status_code == 200 and r.json() == {"user_id": uid}
    assert db_user(loaded, uid) == dict(id=uid, **dict(FULL, email=None, address=None))
    client.delete(f"/user/{uid}")


def test_update_every_field(client, loaded):
    uid = create(client, {"first_name": "A"})
    new = {"first_name": "B", "last_name": "C", "email": "b.c@example.org",
           "address": "1 Main St\nTown, ST 00001", "ip_address": "::1"}
    assert client.put(f"/user/{uid}", json=new).json() == {"user_id": uid}
    assert db_user(loaded, uid) == dict(id=uid, **new)
    client.delete(f"/user/{uid}")


def test_update_and_delete_on_loaded_rows(client, loaded):
    before = db_user(loaded, 17)
    try:
        assert client.put("/user/17", json={"first_name": "Changed"}).json() == {"user_id": 17}
        assert db_user(loaded, 17) == dict(before, first_name="Changed")
    finally:
        client.put("/user/17", json={"first_name": before["first_name"]})
    assert db_user(loaded, 17) == before


def test_path_id_forms(client):
    uid = create(client, {"first_name": "Zero"})
    # pydantic parses "007" as 7; the answer carries the canonical id
    r = client.put(f"/user/{uid:07d}", json={"first_name": "Padded"})
    assert r.status_code == 200 and r.json() == {"user_id": uid}
    for bad in ("0", "-3", "99999999999999999999"):
        assert client.put(f"/user/{bad}", json={}).status_code == 404
        assert client.delete(f"/user/{bad}").status_code == 404
    r = client.delete(f"/user/{uid:07d}")
    assert r.json() == {"user_id": uid, "msg": "record deleted"}


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_path_id_not_int(client, method):
    r = client.request(method, "/user/abc", json={} if method == "PUT" else None)
    assert first_422(r, "int_parsing", ["path", "id"])["input"] == "abc"


def test_put_reports_path_and_body_errors_together(client):
    r = client.put("/user/abc", json={"email": "nope"})
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["path", "id"], ["body", "email"]]


# ---- values: kept verbatim, normalised only where pydantic would ----

def test_sql_injection_text_stored_verbatim(client, loaded):
    evil = {"first_name": "Robert'); DROP TABLE users;--",
            "last_name": "\" OR 1=1 --",
            "address": "1; DELETE FROM users WHERE 't'='t'\n$1 $$ \\x00 %s {}",
            "email": "o'brien+x@example.com"}
    n = count(loaded)
    uid = create(client, evil)
    assert count(loaded) == n + 1
    assert client.get("/user", params={"id": uid}).json()[0] == dict(id=uid, ip_address=None,
                                                                     **evil)
    assert db_user(loaded, uid) == dict(id=uid, ip_address=None, **evil)
    r = client.put(f"/user/{uid}", json={"last_name": "x'; TRUNCATE users; --"})
    assert r.status_code == 200
    assert db_user(loaded, uid)["last_name"] == "x'; TRUNCATE users; --"
    client.delete(f"/user/{uid}")
    assert count(loaded) == n


def test_unicode_and_length_in_characters(client, loaded):
    name = "é" * 255  # 255 characters, 510 bytes: allowed
    uid = create(client, {"first_name": name, "last_name": "湖边小屋 🏠",
                          "address": "ü" * 1000, "email": "émilie@exemple.fr"})
    row = db_user(loaded, uid)
    assert row["first_name"] == name and row["last_name"] == "湖边小屋 🏠"
    assert row["address"] == "ü" * 1000 and row["email"] == "émilie@exemple.fr"
    client.delete(f"/user/{uid}")


def test_email_kept_as_given_and_ip_normalised(client, loaded):
    uid = create(client, {"email": "Mixed.Case+Tag@Example.COM", "ip_address": "2001:DB8:0::1"})
    row = db_user(loaded, uid)
    assert row["email"] == "Mixed.Case+Tag@Example.COM"
    assert row["ip_address"] == "2001:db8::1"  # what str(IPv6Address(...)) gives
    client.delete(f"/user/{uid}")


# ---- 422s: every one changes nothing ----

EMAIL_CASES = [
    ("plainaddress", "An email address must have an @-sign."),
    ("@example.com", "There must be something before the @-sign."),
    ("user@", "There must be something after the @-sign."),
    ("user@localhost", "The part after the @-sign is not valid. It should have a period."),
    ("a b@example.com", "The email address contains invalid characters before the @-sign: SPACE."),
    ("a@b@example.com", "The email address contains invalid characters before the @-sign: '@'."),
    ("user@exa_mple.com", "The part after the @-sign contains invalid characters: '_'."),
    ("us..er@example.com", "An email address cannot have two periods in a row."),
    ("x" * 65 + "@example.com",
     "The email address is too long before the @-sign (1 character too many)."),
]


@pytest.mark.parametrize("email,reason", EMAIL_CASES)
def test_invalid_email(client, loaded, email, reason):
    n = count(loaded)
    r = client.post("/user", json={"first_name": "E", "email": email})
    assert r.status_code == 422
    assert r.json()["detail"] == [{
        "type": "value_error", "loc": ["body", "email"],
        "msg": f"value is not a valid email address: {reason}", "input": email,
        "ctx": {"reason": reason}}]
    assert count(loaded) == n


@pytest.mark.parametrize("ip", ["1.2.3", "256.1.1.1", "01.2.3.4", "1.2.3.4/24", "::g", "host",
                                " 1.2.3.4", "", "1" * 300])
def test_invalid_ip(client, loaded, ip):
    n = count(loaded)
    r = client.post("/user", json={"ip_address": ip})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "ip_any_address", "loc": ["body", "ip_address"],
                                   "msg": "value is not a valid IPv4 or IPv6 address",
                                   "input": ip}]
    assert count(loaded) == n


@pytest.mark.parametrize("field,limit", [("first_name", 255), ("last_name", 255),
                                         ("email", 255), ("address", 1000)])
def test_string_too_long(client, loaded, field, limit):
    value = "a" * (limit + 1)
    r = client.post("/user", json={field: value})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "string_too_long", "loc": ["body", field],
                                   "msg": f"String should have at most {limit} characters",
                                   "input": value, "ctx": {"max_length": limit}}]


@pytest.mark.parametrize("value", [1, 1.5, True, ["a"], {"a": 1}])
def test_wrong_type(client, value):
    r = client.post("/user", json={"first_name": value})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "string_type", "loc": ["body", "first_name"],
                                   "msg": "Input should be a valid string", "input": value}]


def test_unknown_field_forbidden(client):
    r = client.post("/user", json={"first_name": "A", "id": 5, "password": "x"})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"type": "extra_forbidden", "loc": ["body", "id"], "msg": "Extra inputs are not permitted",
         "input": 5},
        {"type": "extra_forbidden", "loc": ["body", "password"],
         "msg": "Extra inputs are not permitted", "input": "x"}]


def test_every_error_reported_at_once(client):
    r = client.post("/user", json={"first_name": 5, "email": "bad", "ip_address": "x",
                                   "address": "a" * 1001, "nope": None})
    assert r.status_code == 422
    assert [(d["type"], d["loc"][1]) for d in r.json()["detail"]] == [
        ("string_type", "first_name"), ("value_error", "email"), ("string_too_long", "address"),
        ("ip_any_address", "ip_address"), ("extra_forbidden", "nope")]


@pytest.mark.parametrize("body,typ,loc", [
    ("", "missing", ["body"]),
    ("{", "json_invalid", None),
    ('{"first_name": "A",}', "json_invalid", None),
    ("not json", "json_invalid", None),
    ('{"first_name": "A", "first_name": "B"}', "json_invalid", None),
    ('["A"]', "model_attributes_type", ["body"]),
    ('"A"', "model_attributes_type", ["body"]),
])
@pytest.mark.parametrize("method,path", [("POST", "/user"), ("PUT", "/user/1")])
def test_malformed_bodies(client, loaded, body, typ, loc, method, path):
    before = db_user(loaded, 1)
    n = count(loaded)
    r = client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    item = r.json()["detail"][0]
    assert item["type"] == typ
    if loc:
        assert item["loc"] == loc
    else:
        assert item["loc"][0] == "body" and isinstance(item["loc"][1], int)
    assert count(loaded) == n and db_user(loaded, 1) == before


def test_invalid_utf8_body(client, loaded):
    n = count(loaded)
    r = client.post("/user", content=b'{"first_name": "\xff\xfe"}',
                    headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)
    assert count(loaded) == n


def test_update_with_one_bad_field_changes_nothing(client, loaded):
    before = db_user(loaded, 2)
    r = client.put("/user/2", json={"first_name": "Partial", "email": "broken"})
    assert r.status_code == 422
    assert db_user(loaded, 2) == before


# ---- concurrency ----

def test_concurrent_posts_get_distinct_ids(server, loaded):
    n = count(loaded)
    # One client shared by the threads: building an httpx.Client costs more than a request.
    limits = httpx.Limits(max_connections=32)
    with httpx.Client(base_url=server.url, timeout=20, limits=limits) as c, \
            concurrent.futures.ThreadPoolExecutor(32) as ex:
        def post(i):
            r = c.post("/user", json={"first_name": f"c{i}", "last_name": str(i)})
            assert r.status_code == 200, r.text
            return r.json()["user_id"]

        ids = list(ex.map(post, range(200)))
        assert len(set(ids)) == 200
        assert count(loaded) == n + 200
        got = psql(loaded, "SELECT string_agg(id || '=' || first_name, ',' ORDER BY id) FROM users"
                           " WHERE id IN (%s)" % ",".join(map(str, ids)))
        assert got == ",".join(f"{uid}=c{i}" for uid, i in sorted(zip(ids, range(200))))
        assert set(ex.map(lambda uid: c.delete(f"/user/{uid}").status_code, ids)) == {200}
    assert count(loaded) == n


# ---- GET /users/ : bounded, keyset, Link header ----

LINK = re.compile(r'^<(/users/\?after=(\d+)&limit=(\d+))>; rel="next"$')


def walk(client, limit):
    url, ids, pages = f"/users/?limit={limit}", [], 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        page = r.json()
        assert len(page) <= limit
        ids += [u["id"] for u in page]
        pages += 1
        link = r.headers.get("link")
        if link is None:
            break
        m = LINK.match(link)
        assert m, link
        assert int(m.group(2)) == page[-1]["id"] and int(m.group(3)) == limit
        url = m.group(1)
    return ids, pages


@pytest.mark.parametrize("limit", [1000, 333])
def test_users_walk_sees_every_row_once(client, loaded, limit):
    expected = [int(x) for x in psql(loaded, "SELECT id FROM users ORDER BY id").split()]
    ids, pages = walk(client, limit)
    assert ids == expected  # every row, once, in order
    assert pages == -(-len(expected) // limit)  # limit+1 rows fetched: no empty last page


def test_users_default_page(client, loaded):
    r = client.get("/users/")
    page = r.json()
    assert len(page) == 100 and [u["id"] for u in page] == list(range(1, 101))
    assert list(page[0]) == COLUMNS
    assert page[0] == db_user(loaded, 1)
    assert r.headers["link"] == '</users/?after=100&limit=100>; rel="next"'


def test_users_after_and_last_page(client, loaded):
    last = int(psql(loaded, "SELECT max(id) FROM users"))
    r = client.get("/users/", params={"after": last - 3, "limit": 3})
    assert [u["id"] for u in r.json()] == [last - 2, last - 1, last]
    assert "link" not in r.headers  # exactly limit rows left: no next page
    r = client.get("/users/", params={"after": last})
    assert r.json() == [] and "link" not in r.headers
    r = client.get("/users/", params={"after": -10, "limit": 2})
    assert [u["id"] for u in r.json()] == [1, 2]


@pytest.mark.parametrize("params,loc,typ", [
    ({"limit": "0"}, "limit", "greater_than_equal"),
    ({"limit": "1001"}, "limit", "less_than_equal"),
    ({"limit": "x"}, "limit", "int_parsing"),
    ({"after": "1.5"}, "after", "int_parsing"),
])
def test_users_list_422(client, params, loc, typ):
    first_422(client.get("/users/", params=params), typ, ["query", loc])


def test_users_without_slash_redirects(client):
    r = client.get("/users", params={"limit": 5}, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "/users/?limit=5"
    r = client.get("/users", params={"limit": 5}, follow_redirects=True)
    assert r.status_code == 200 and len(r.json()) == 5

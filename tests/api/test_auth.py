"""Access control (issue 10) against a real Postgres, real HTTP and a JWKS served by
the fake workspace on loopback.

A table public.auth_users (the users table's columns plus user_id) carries the
PostgREST-style policy user_id = request.jwt.claims->>'sub'; the users routes are
pointed at it (USERS_TABLE), so the tutorial routes run under the request's role.
Every server started here is checked at teardown: none of the tokens, the JWT
secret or the metrics token may appear in its log (LOG_LEVEL=debug).
"""
import json
import os
import re
import socket
import subprocess
import time

import httpx
import pytest

from conftest import BIN, checked_servers, clean_env, psql
from fake_workspace import FakeWorkspace
import jwt_tokens as jt

SECRET = "hs-secret-for-the-auth-tests-0123456789abcdef"
METRICS_TOKEN = "metrics-token-auth-tests-5f1e2d"
AUD = "lakeapi"
ISSUED = []  # every token handed to a server: none may be logged


def issue(tok):
    ISSUED.append(tok)
    return tok


SETUP = """
DO $$ BEGIN
  CREATE ROLE lakeapi_anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE lakeapi_user NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE "carol@example.com" NOLOGIN IN ROLE lakeapi_user;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT lakeapi_anon, lakeapi_user, "carol@example.com" TO CURRENT_USER;
DROP TABLE IF EXISTS public.auth_users;
CREATE TABLE public.auth_users (LIKE public.users INCLUDING ALL);
ALTER TABLE public.auth_users ADD COLUMN user_id text
  DEFAULT nullif(current_setting('request.jwt.claims', true), '')::json->>'sub';
ALTER TABLE public.auth_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.auth_users TO lakeapi_user
  USING (user_id = current_setting('request.jwt.claims', true)::json->>'sub')
  WITH CHECK (user_id = current_setting('request.jwt.claims', true)::json->>'sub');
CREATE POLICY anon_public ON public.auth_users FOR SELECT TO lakeapi_anon USING (user_id IS NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.auth_users TO lakeapi_user;
GRANT SELECT ON public.auth_users TO lakeapi_anon;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO lakeapi_user;
INSERT INTO public.auth_users (id, first_name, email, user_id) OVERRIDING SYSTEM VALUE VALUES
  (1, 'Public', 'public@example.com', NULL),
  (2, 'Alice', 'alice@example.com', 'alice'),
  (3, 'Bob', 'bob@example.com', 'bob'),
  (4, 'Carol', 'carol@example.com', 'carol');
SELECT setval(pg_get_serial_sequence('public.auth_users', 'id'), 100);
CREATE OR REPLACE FUNCTION public.auth_pre_request() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF current_setting('request.headers', true)::json->>'x-block' = 'yes' THEN
    RAISE insufficient_privilege USING MESSAGE = 'blocked by the pre-request';
  END IF;
END $f$;
"""


@pytest.fixture(scope="module")
def db(loaded):
    psql(loaded, SETUP)
    return loaded


@pytest.fixture(scope="module")
def keys():
    return {"rsa": jt.Key("RSA", "rsa-1"), "ec256": jt.Key("EC", "ec-256", "P-256"),
            "ec384": jt.Key("EC", "ec-384", "P-384"), "ed": jt.Key("OKP", "ed-1"),
            "rotated": jt.Key("RSA", "rsa-2")}


@pytest.fixture(scope="module")
def ws(db, keys):
    w = FakeWorkspace(db).start()
    w.jwks = {"keys": [keys[k].jwk for k in ("rsa", "ec256", "ec384", "ed")]}
    yield w
    w.stop()


@pytest.fixture(scope="module")
def start(db, ws):
    def env(**extra):
        base = dict(db, USERS_TABLE="public.auth_users", LOG_LEVEL="debug", JWT_SECRET=SECRET,
                    JWT_ISSUER=ws.url + "/oidc", JWT_AUDIENCE=AUD, DB_ANON_ROLE="lakeapi_anon",
                    ADMIN_CLAIM=".lakeapi_admin == true", METRICS_TOKEN=METRICS_TOKEN,
                    JWT_JWKS_REFRESH_INTERVAL="2", DB_PRE_REQUEST="public.auth_pre_request")
        return {**base, **extra}

    yield from checked_servers(env, lambda: [SECRET, METRICS_TOKEN] + ISSUED)


@pytest.fixture(scope="module")
def server(start):
    s = start()
    wait_ready(s)
    return s


def wait_ready(s):
    deadline = time.time() + 10
    while time.time() < deadline:
        if httpx.get(s.url + "/readyz", timeout=5).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("not ready:\n" + s.output()[-2000:])


def claims_for(ws, sub, **extra):
    return jt.claims(sub, iss=ws.url + "/oidc", aud=AUD, **extra)


def bearer(tok):
    return {"Authorization": "Bearer " + issue(tok)}


def rs(keys, ws, sub, **extra):
    return bearer(jt.token(claims_for(ws, sub, **extra), "RS256", keys["rsa"]))


def ids(r):
    assert r.status_code == 200, r.text
    return sorted(u["id"] for u in r.json()["users"]) if isinstance(r.json(), dict) else \
        sorted(u["id"] for u in r.json())


def listed(server, headers):
    r = httpx.get(server.url + "/users/?limit=100", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    rows = body if isinstance(body, list) else body.get("users", body.get("items", []))
    return sorted(u["id"] for u in rows)


def count_rows(db):
    return int(psql(db, "SELECT count(*) FROM public.auth_users"))


# ---- row-level security through a tutorial route ----

def test_two_users_see_and_change_only_their_rows(server, keys, ws, db):
    alice, bob = rs(keys, ws, "alice"), rs(keys, ws, "bob")
    assert listed(server, alice) == [2]
    assert listed(server, bob) == [3]
    r = httpx.post(server.url + "/user", json={"first_name": "A2", "email": "a2@example.com"},
                   headers=alice, timeout=10)
    assert r.status_code in (200, 201), r.text
    new_id = r.json()["user_id"]
    assert psql(db, f"SELECT user_id FROM public.auth_users WHERE id = {new_id}") == "alice"
    assert listed(server, alice) == [2, new_id]
    assert new_id not in listed(server, bob)
    # bob can neither read, change nor delete alice's rows
    r = httpx.get(server.url + f"/user?id={new_id}", headers=bob)
    assert r.status_code == 200 and r.json() == []
    r = httpx.put(server.url + f"/user/{new_id}", json={"first_name": "hacked"}, headers=bob)
    assert r.status_code == 404
    assert httpx.delete(server.url + f"/user/{new_id}", headers=bob).status_code == 404
    assert psql(db, f"SELECT first_name FROM public.auth_users WHERE id = {new_id}") == "A2"
    # alice can
    r = httpx.put(server.url + f"/user/{new_id}", json={"first_name": "A3"}, headers=alice)
    assert r.status_code == 200, r.text
    assert httpx.get(server.url + f"/user?id={new_id}", headers=alice).json()[0]["first_name"] == "A3"
    assert httpx.delete(server.url + f"/user/{new_id}", headers=alice).status_code == 200
    assert psql(db, f"SELECT count(*) FROM public.auth_users WHERE id = {new_id}") == "0"


def test_anonymous_sees_what_the_anon_role_may(server, db):
    assert listed(server, {}) == [1]
    before = count_rows(db)
    r = httpx.post(server.url + "/user", json={"first_name": "anon"}, timeout=10)
    # the anon role has no INSERT grant: 42501 -> 401 with a Bearer challenge
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert count_rows(db) == before


def test_authenticated_refusal_is_403(server, keys, ws, db):
    # a role without the table's grants: the database refuses (42501), an identity is known
    before = count_rows(db)
    r = httpx.post(server.url + "/user", json={"first_name": "x"},
                   headers=rs(keys, ws, "alice", role="lakeapi_anon"), timeout=10)
    assert r.status_code == 403, r.text
    assert count_rows(db) == before


def test_request_settings_reach_the_pre_request_function(server, keys, ws):
    h = rs(keys, ws, "alice")
    assert httpx.get(server.url + "/users/?limit=5", headers=h).status_code == 200
    r = httpx.get(server.url + "/users/?limit=5", headers=dict(h, **{"X-Block": "yes"}))
    assert r.status_code == 403, r.text


# ---- every algorithm ----

@pytest.mark.parametrize("alg,key", [("RS256", "rsa"), ("RS384", "rsa"), ("RS512", "rsa"),
                                     ("ES256", "ec256"), ("ES384", "ec384"), ("EdDSA", "ed"),
                                     ("HS256", None), ("HS384", None), ("HS512", None)])
def test_every_algorithm_is_accepted(server, keys, ws, alg, key):
    c = claims_for(ws, "alice")
    tok = jt.token(c, alg, keys[key]) if key else jt.token(c, alg, secret=SECRET)
    assert listed(server, bearer(tok)) == [2]


# ---- refused tokens: each a 401, nothing changed ----

def refused_tokens(keys, ws):
    rsa = keys["rsa"]
    good = claims_for(ws, "alice")
    valid = jt.token(good, "RS256", rsa)
    head, payload, sig = valid.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    now = int(time.time())
    return {
        "bad signature": f"{head}.{payload}.{flipped}",
        "alg none": jt.token(good, "none", kid=rsa.kid),
        "HS256 signed with the RSA public key": jt.token(good, "HS256",
                                                         secret=rsa.public_pem(), kid=rsa.kid),
        "expired": jt.token(dict(good, exp=now - 120), "RS256", rsa),
        "nbf in the future": jt.token(dict(good, nbf=now + 300), "RS256", rsa),
        "wrong aud": jt.token(dict(good, aud="someone-else"), "RS256", rsa),
        "wrong iss": jt.token(dict(good, iss="https://evil.example.com"), "RS256", rsa),
        "unknown kid": jt.token(good, "RS256", keys["rotated"]),
        "malformed base64": head + ".e30!." + sig,
        "malformed JSON": jt.b64u('{"alg":"RS256"') + "." + payload + "." + sig,
        "two parts": f"{head}.{payload}",
        "claims not an object": jt.token([1, 2], "HS256", secret=SECRET),
        "wrong HMAC secret": jt.token(good, "HS256", secret="x" * 40),
    }


REFUSED = ["bad signature", "alg none", "HS256 signed with the RSA public key", "expired",
           "nbf in the future", "wrong aud", "wrong iss", "unknown kid", "malformed base64",
           "malformed JSON", "two parts", "claims not an object", "wrong HMAC secret"]


@pytest.mark.parametrize("case", REFUSED)
def test_refused_tokens_are_401_without_side_effects(server, keys, ws, db, case):
    tok = refused_tokens(keys, ws)[case]
    before = count_rows(db)
    r = httpx.post(server.url + "/user", json={"first_name": "intruder"}, headers=bearer(tok),
                   timeout=15)
    assert r.status_code == 401, (case, r.text)
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert tok not in r.text and tok not in str(r.headers)
    r = httpx.get(server.url + "/users/?limit=5", headers=bearer(tok), timeout=15)
    assert r.status_code == 401, (case, r.text)
    assert count_rows(db) == before


def test_unknown_kid_is_accepted_after_the_jwks_rotates(start, keys, ws):
    # Two event loops: the JWKS is the process's (one refresh per unknown kid and interval,
    # whatever loop each request lands on), so the exact fetch counts below hold.
    server = start(WORKERS="2")
    wait_ready(server)
    tok = jt.token(claims_for(ws, "bob"), "RS256", keys["rotated"])
    time.sleep(2.1)  # past the refresh interval of an earlier unknown kid
    fetches = ws.snapshot()["jwks"]
    r = httpx.get(server.url + "/users/?limit=5", headers=bearer(tok))
    assert r.status_code == 401
    assert ws.snapshot()["jwks"] == fetches + 1  # the unknown kid asked for one refresh
    r = httpx.get(server.url + "/users/?limit=5", headers=bearer(tok))
    assert r.status_code == 401
    assert ws.snapshot()["jwks"] == fetches + 1  # ... and not another one within the interval
    ws.jwks = {"keys": ws.jwks["keys"] + [keys["rotated"].jwk]}
    time.sleep(2.1)
    assert listed(server, bearer(tok)) == [3]  # no restart
    assert ws.snapshot()["jwks"] == fetches + 2


# ---- admin gate, metrics token, forwarded identity ----

def test_resource_routes_need_the_admin_claim(server, keys, ws):
    url = server.url + "/api/v1/resources/status"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=rs(keys, ws, "alice")).status_code == 403
    r = httpx.get(url, headers=rs(keys, ws, "root", lakeapi_admin=True))
    assert r.status_code not in (401, 403), r.text  # past the gate (no workspace: 503)


def test_metrics_token(server):
    assert httpx.get(server.url + "/metrics").status_code == 401
    r = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert r.status_code == 200
    assert 'lakeapi_auth_identities_total{outcome="jwt_refused"}' in r.text


def test_forwarded_identity_is_off_by_default(server):
    fwd = {"X-Forwarded-Email": "alice@example.com", "X-Forwarded-User": "alice"}
    assert listed(server, fwd) == [1]  # anonymous: only the public row


def test_forwarded_identity_when_trusted(start):
    s = start(TRUST_FORWARDED_IDENTITY="true", ROLE_FROM_EMAIL="true", JWT_SECRET=None,
              JWT_ISSUER=None, JWT_AUDIENCE=None)
    wait_ready(s)
    fwd = {"X-Forwarded-Email": "carol@example.com", "X-Forwarded-User": "carol",
           "X-Forwarded-Access-Token": issue("dapi-forwarded-access-token-abcdef")}
    assert listed(s, fwd) == [4]
    assert listed(s, {}) == [1]


# ---- rate limits ----

def test_rate_limit_burst_then_429_others_unaffected(start, keys, ws):
    s = start(RATE_LIMIT_RPS="1", RATE_LIMIT_BURST="3")
    wait_ready(s)
    a, b = rs(keys, ws, "alice"), rs(keys, ws, "bob")
    codes = [httpx.get(s.url + "/users/?limit=1", headers=a) for _ in range(5)]
    assert [r.status_code for r in codes[:3]] == [200, 200, 200]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    r = limited[0]
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["ratelimit-policy"] == '"default";q=3;w=3'
    assert re.fullmatch(r'"default";r=0;t=\d+', r.headers["ratelimit"])
    ok = httpx.get(s.url + "/users/?limit=1", headers=b)
    assert ok.status_code == 200 and ok.headers["ratelimit"].startswith('"default";r=2')
    m = httpx.get(s.url + "/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert re.search(r'lakeapi_rate_limit_total\{outcome="limited"\} [1-9]', m.text)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def pipelined(port, reqs, batch=500):
    """Sends raw requests pipelined on one connection; returns the status codes."""
    codes = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        f = sock.makefile("rb")
        for i in range(0, len(reqs), batch):
            sock.sendall(b"".join(reqs[i:i + batch]))
            for _ in reqs[i:i + batch]:
                status = f.readline()
                codes.append(int(status.split()[1]))
                length = 0
                while True:
                    line = f.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                f.read(length)
    return codes


def test_many_identities_keep_memory_bounded(start, ws):
    extra = {}
    if "ASAN_OPTIONS" in os.environ:  # ASan's quarantine would hold every freed block
        extra["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + \
            ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    s = start(RATE_LIMIT_RPS="100", RATE_LIMIT_BURST="100", LOG_LEVEL="warning", **extra)
    wait_ready(s)
    iss = ws.url + "/oidc"

    def reqs(lo, hi):
        out = []
        for i in range(lo, hi):
            tok = jt.token({"sub": f"user-{i}", "role": "lakeapi_user", "aud": AUD, "iss": iss},
                           "HS256", secret=SECRET)
            out.append(b"GET /livez HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                       tok.encode() + b"\r\n\r\n")
        return out

    assert set(pipelined(s.port, reqs(0, 20000))) == {200}
    after_20k = rss_kb(s.proc.pid)
    assert set(pipelined(s.port, reqs(20000, 100000))) == {200}
    after_100k = rss_kb(s.proc.pid)
    # the token cache (10k) and the buckets (16k) are full after 20k: 80k more cost nothing
    assert after_100k - after_20k < 16 * 1024, (after_20k, after_100k)
    m = httpx.get(s.url + "/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert "lakeapi_rate_limit_buckets 16384" in m.text


# ---- hygiene and modes ----

def test_cors_preflight_never_echoes_the_authorization_value(start, keys, ws):
    s = start(CORS_ALLOW_ORIGINS="https://app.example.com")
    tok = rs(keys, ws, "alice")["Authorization"]
    r = httpx.options(s.url + "/users/", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization", "Authorization": tok})
    assert r.status_code == 204
    assert tok.split()[1] not in str(r.headers) + r.text


def test_short_jwt_secret_is_a_startup_error(db):
    r = subprocess.run([BIN, "check-config"], env=clean_env(dict(db, JWT_SECRET="short-secret")),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "JWT_SECRET must be at least 32 bytes" in r.stderr + r.stdout
    assert "short-secret" not in r.stderr + r.stdout


def test_check_config_masks_the_auth_secrets(db):
    r = subprocess.run([BIN, "check-config"],
                       env=clean_env(dict(db, JWT_SECRET=SECRET, METRICS_TOKEN=METRICS_TOKEN,
                                          DB_ANON_ROLE="lakeapi_anon")),
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert "JWT_SECRET = ****" in out and "METRICS_TOKEN = ****" in out
    assert "DB_ANON_ROLE = lakeapi_anon" in out
    assert SECRET not in out and METRICS_TOKEN not in out


def test_open_mode_says_so_and_keeps_the_resource_routes_off(lakeapi_server):
    s = lakeapi_server()
    r = httpx.get(s.url + "/api/v1/resources/status", timeout=10)
    assert r.status_code == 403 and "RESOURCES_ENABLED" in r.json()["detail"]
    assert httpx.get(s.url + "/api/v1/orders/1", timeout=10).status_code == 200
    s.stop()
    assert "OPEN: no authentication configured" in s.output()


# ---- the same policies through the Data API (PostgREST grammar) ----

def rest_ids(server, headers, query="select=id&order=id"):
    r = httpx.get(server.url + "/rest/v1/auth_users?" + query, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()]


def test_data_api_runs_under_the_request_role(server, keys, ws, db):
    alice, bob = rs(keys, ws, "alice"), rs(keys, ws, "bob")
    assert rest_ids(server, alice) == [2]
    assert rest_ids(server, bob) == [3]
    assert rest_ids(server, {}) == [1]  # DB_ANON_ROLE's policy: the public row
    r = httpx.post(server.url + "/rest/v1/auth_users", headers=dict(alice, Prefer="return=representation"),
                   json={"first_name": "Rest", "email": "rest@example.com"}, timeout=10)
    assert r.status_code == 201, r.text
    new_id = r.json()[0]["id"]
    assert r.json()[0]["user_id"] == "alice"
    assert rest_ids(server, alice) == [2, new_id]
    assert new_id not in rest_ids(server, bob)
    # bob's PATCH and DELETE of alice's row match nothing
    httpx.patch(server.url + f"/rest/v1/auth_users?id=eq.{new_id}", headers=bob,
                json={"first_name": "hacked"}, timeout=10)
    httpx.delete(server.url + f"/rest/v1/auth_users?id=eq.{new_id}", headers=bob, timeout=10)
    assert psql(db, f"SELECT first_name FROM public.auth_users WHERE id = {new_id}") == "Rest"
    r = httpx.delete(server.url + f"/rest/v1/auth_users?id=eq.{new_id}", headers=alice, timeout=10)
    assert r.status_code in (200, 204), r.text
    assert psql(db, f"SELECT count(*) FROM public.auth_users WHERE id = {new_id}") == "0"


def test_data_api_refusals_in_postgrest_shape(server, keys, ws, db):
    before = count_rows(db)
    r = httpx.post(server.url + "/rest/v1/auth_users", json={"first_name": "anon"}, timeout=10)
    assert r.status_code == 401, r.text  # anon has no INSERT: 42501 while anonymous
    assert r.headers["www-authenticate"] == "Bearer"
    tok = refused_tokens(keys, ws)["expired"]
    r = httpx.get(server.url + "/rest/v1/auth_users", headers=bearer(tok), timeout=10)
    assert r.status_code == 401
    assert r.json()["code"] == "PGRST301" and r.json()["message"] == "JWT expired"
    assert count_rows(db) == before

"""CORS from CORS_ALLOW_ORIGINS / CORS_ALLOW_CREDENTIALS: headers only for allowed
origins, preflight answered with the route's methods, and nothing at all when unset."""
import httpx
import pytest

A = "https://app.example.com"
B = "http://localhost:3000"
EVIL = "https://evil.example.net"


def cors_headers(r):
    return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def preflight(c, path, origin, method="GET", headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return c.options(path, headers=h)


def test_not_configured_means_no_cors_headers(client):
    r = client.get("/api/v1/orders/count", headers={"Origin": A})
    assert r.status_code == 200 and cors_headers(r) == {}
    r = preflight(client, "/api/v1/orders/count", A)
    assert r.status_code == 405 and cors_headers(r) == {}


@pytest.fixture
def listed(lakeapi_server):
    s = lakeapi_server(CORS_ALLOW_ORIGINS=f"{A}, {B}/")
    with httpx.Client(base_url=s.url, timeout=10) as c:
        yield c


def test_allowed_origin_gets_headers(listed):
    r = listed.get("/api/v1/orders/count", headers={"Origin": B})
    assert r.status_code == 200
    h = cors_headers(r)
    assert h["access-control-allow-origin"] == B
    assert "access-control-allow-credentials" not in h
    assert "X-Request-Id" in h["access-control-expose-headers"]
    assert "Origin" in r.headers["vary"]
    # Error answers carry them too, so a page can read the error.
    r = listed.get("/api/v1/orders/0", headers={"Origin": A})
    assert r.status_code == 400 and cors_headers(r)["access-control-allow-origin"] == A


def test_other_origin_gets_nothing(listed):
    r = listed.get("/api/v1/orders/count", headers={"Origin": EVIL})
    assert r.status_code == 200 and cors_headers(r) == {}
    assert "Origin" in r.headers.get("vary", "")  # the answer depends on Origin
    r = preflight(listed, "/api/v1/orders/count", EVIL)
    assert r.status_code == 400 and cors_headers(r) == {}
    assert r.json() == {"detail": "Disallowed CORS origin"}
    r = listed.get("/api/v1/orders/count")  # same-origin / non-browser: no Origin header
    assert r.status_code == 200 and cors_headers(r) == {}


def test_preflight(listed):
    r = preflight(listed, "/api/v1/orders/123/status", A, "POST", "Content-Type, X-Request-Id")
    assert r.status_code == 204 and r.content == b""
    h = cors_headers(r)
    assert h["access-control-allow-origin"] == A
    assert h["access-control-allow-methods"] == "POST"
    assert h["access-control-allow-headers"] == "Content-Type, X-Request-Id"
    assert h["access-control-max-age"] == "600"
    assert "Origin" in r.headers["vary"]
    r = preflight(listed, "/api/v1/orders/count", B)
    assert r.status_code == 204
    assert cors_headers(r)["access-control-allow-methods"] == "GET, HEAD"
    assert "access-control-allow-headers" not in cors_headers(r)


def test_preflight_refusals(listed):
    r = preflight(listed, "/api/v1/orders/count", A, "DELETE")
    assert r.status_code == 400 and r.json() == {"detail": "Disallowed CORS method"}
    assert "access-control-allow-origin" not in cors_headers(r)
    r = preflight(listed, "/api/v1/orders/count", A, "GET", "x-ok, bad header")
    assert r.status_code == 400 and r.json() == {"detail": "Disallowed CORS headers"}
    r = preflight(listed, "/no/such/route", A)
    assert r.status_code == 404


def test_wildcard(lakeapi_server):
    s = lakeapi_server(CORS_ALLOW_ORIGINS="*")
    r = httpx.get(s.url + "/livez", headers={"Origin": EVIL}, timeout=5)
    assert cors_headers(r)["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in cors_headers(r)


def test_wildcard_with_credentials_echoes_origin(lakeapi_server):
    s = lakeapi_server(CORS_ALLOW_ORIGINS="*", CORS_ALLOW_CREDENTIALS="true")
    with httpx.Client(base_url=s.url, timeout=5) as c:
        r = c.get("/livez", headers={"Origin": EVIL})
        h = cors_headers(r)
        assert h["access-control-allow-origin"] == EVIL  # never "*" with credentials
        assert h["access-control-allow-credentials"] == "true"
        assert "Origin" in r.headers["vary"]
        r = preflight(c, "/user/5", A, "PUT", "content-type")
        assert r.status_code == 204
        h = cors_headers(r)
        assert h["access-control-allow-origin"] == A
        assert h["access-control-allow-credentials"] == "true"
        assert set(h["access-control-allow-methods"].split(", ")) == {"PUT", "DELETE"}


def test_bad_setting_is_a_startup_error(lakeapi_server):
    with pytest.raises(RuntimeError) as e:
        lakeapi_server(CORS_ALLOW_ORIGINS="app.example.com/path")
    assert "CORS_ALLOW_ORIGINS" in str(e.value)

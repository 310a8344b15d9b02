"""Landing, health, readiness and the HTTP layer's own answers."""
import socket


def test_root_json(client):
    r = client.get("/")
    assert r.status_code == 200 and r.json() == {"message": "Hello Lakehouse"}


def test_healthcheck(client):
    body = client.get("/api/v1/healthcheck").json()
    assert body["status"] == "OK"
    assert body["timestamp"][:2] == "20" and "T" in body["timestamp"]


def test_livez_readyz(client):
    assert client.get("/livez").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_not_found_is_json(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


def test_method_not_allowed(client):
    r = client.delete("/api/v1/orders/count")
    assert r.status_code == 405
    assert r.json() == {"detail": "Method Not Allowed"}
    assert "GET" in r.headers["allow"]


def test_request_id_echoed_or_generated(client):
    r = client.get("/livez", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    generated = client.get("/livez").headers["x-request-id"]
    assert generated and generated != "abc-123"


def test_head(client):
    g = client.get("/api/v1/orders/1")
    h = client.head("/api/v1/orders/1")
    assert h.status_code == 200 and h.content == b""
    assert h.headers["content-length"] == g.headers["content-length"]


def raw(server, data, read=65536):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(read)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def test_malformed_request_400(server):
    out = raw(server, b"GARBAGE\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") or out.startswith(b"HTTP/1.1 501")
    assert b'"detail"' in out


def test_pipelined_requests_in_order(server):
    reqs = b"".join(f"GET /api/v1/orders/{k} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                    for k in (1, 2, 3))
    out = raw(server, reqs + b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200") == 4
    assert out.index(b'"o_orderkey":1') < out.index(b'"o_orderkey":2') < out.index(
        b'"o_orderkey":3')


def test_huge_header_431(server):
    out = raw(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431")


def test_body_too_large_413(server):
    out = raw(server, b"POST /api/v1/orders/1/status HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 999999999\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413")


def test_chunked_body_rejected(server):
    out = raw(server, b"POST /api/v1/orders/1/status HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 501")

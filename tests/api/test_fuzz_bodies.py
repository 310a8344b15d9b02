"""Black-box fuzzing of the JSON body of every route that takes one: random JSON
values, mutations of valid bodies (wrong types, huge and odd strings, extra and
duplicate fields, deep nesting) and raw bytes. Never a 5xx, always a JSON answer, and
the server keeps serving. FUZZ_BODIES (150) bodies per route; make fuzz-long runs more.
"""
import json
import os
import random

import httpx
import pytest

N = int(os.environ.get("FUZZ_BODIES", "150"))
STRINGS = ["", "a", "F", "FF", "é", "\u0000", "\ud7ff", "😀", "x" * 5000, "<script>", "'; --",
           "%s%n", "1e400", "null", "user@example.com", "10.0.0.1", "::1", "\\", "\"", "\n"]
ROUTES = [
    ("POST", "/api/v1/orders/59976/status", {"o_orderstatus": "F"}),  # a key no suite checks
    ("POST", "/user", {"first_name": "A", "last_name": "B", "email": "a@b.example.com",
                       "address": "x", "ip_address": "10.0.0.1"}),
    ("PUT", "/user/1999", {"last_name": "C"}),
    ("POST", "/api/v1/notes", {"content": "hello"}),
    # the Data API's write bodies (objects or arrays of them) over the notes table
    ("POST", "/rest/v1/notes", {"content": "hello"}),
    ("PATCH", "/rest/v1/notes?id=eq.-1", {"content": "patched"}),  # matches no row
]


def rand_value(r, depth=0):
    k = r.randrange(9 if depth < 4 else 6)
    if k == 0:
        return None
    if k == 1:
        return r.choice([True, False])
    if k == 2:
        return r.choice([0, -1, 1, 2**63, -2**63 - 1, 10**30, 1.5, -0.0, 1e308])
    if k in (3, 4, 5):
        return r.choice(STRINGS)
    if k in (6, 7):
        return {r.choice(STRINGS + ["o_orderstatus", "email", "content"]): rand_value(r, depth + 1)
                for _ in range(r.randrange(4))}
    return [rand_value(r, depth + 1) for _ in range(r.randrange(4))]


def mutate(r, valid):
    body = dict(valid)
    for _ in range(r.randrange(1, 4)):
        op = r.randrange(5)
        key = r.choice(list(valid))
        if op == 0:
            body[key] = rand_value(r)
        elif op == 1:
            body.pop(key, None)
        elif op == 2:
            body[r.choice(STRINGS)] = rand_value(r)
        elif op == 3:
            body[key] = r.choice(STRINGS)
        else:
            body = {"x": body}
    return json.dumps(body).encode()


def bodies(r, valid):
    for i in range(N):
        k = i % 4
        if k == 0:
            yield json.dumps(rand_value(r)).encode()
        elif k == 1:
            yield mutate(r, valid)
        elif k == 2:
            raw = bytearray(mutate(r, valid))
            for _ in range(r.randrange(1, 4)):
                if raw:
                    raw[r.randrange(len(raw))] = r.randrange(256)
            yield bytes(raw)
        else:
            yield b"[" * r.randrange(1, 3000) + b"]" * r.randrange(0, 3000)


@pytest.mark.parametrize("method,path,valid", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_fuzzed_bodies_never_5xx(server, method, path, valid):
    r = random.Random(f"{method} {path}")
    seen = {}
    with httpx.Client(base_url=server.url, timeout=10) as c:
        for body in bodies(r, valid):
            resp = c.request(method, path, content=body,
                             headers={"Content-Type": "application/json"})
            seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
            assert resp.status_code < 500, (body[:200], resp.status_code, resp.text[:300])
            if resp.content or resp.status_code >= 400:  # a Data API write may answer 201/204 empty
                assert resp.headers["content-type"].startswith("application/json"), body[:200]
                resp.json()
    assert sum(v for k, v in seen.items() if 400 <= k < 500) > 0, seen  # validation is reached
    assert httpx.get(server.url + "/livez", timeout=5).status_code == 200

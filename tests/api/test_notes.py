"""Notes (seed 004) and the landing page, including a real headless browser."""
import html
import http.server
import os
import re
import socket
import subprocess
import tempfile
import threading
import uuid

import pytest

from conftest import first_422, psql

CHROMIUM = "/usr/bin/chromium"
BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                  "image/webp,*/*;q=0.8")
SEEDED = ["Welcome to Lakebase Autoscaling!", "This app connects to Postgres",
          "Data fetched from your database"]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?$")
XSS = "<script>document.title='pwned';document.body.append(Object.assign(" \
      "document.createElement('p'),{id:'injected'}))</script>"


def post_note(client, content):
    r = client.post("/api/v1/notes", json={"content": content})
    assert r.status_code == 201, r.text
    return r.json()


def notes_count(pg):
    return int(psql(pg, "SELECT count(*) FROM notes"))


# ---- GET /api/v1/notes ----

def test_seeded_notes_listed(client):
    r = client.get("/api/v1/notes", params={"limit": 100})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    notes = r.json()
    assert all(list(n) == ["id", "content", "created_at"] for n in notes)
    assert all(ISO.match(n["created_at"]) for n in notes)
    assert set(SEEDED) <= {n["content"] for n in notes}


def test_post_note_201_then_listed_first(client, loaded):
    content = f"note {uuid.uuid4()}"
    note = post_note(client, content)
    assert list(note) == ["id", "content", "created_at"]
    assert note["content"] == content and ISO.match(note["created_at"])
    assert psql(loaded, f"SELECT content FROM notes WHERE id = {note['id']}") == content
    latest = client.get("/api/v1/notes", params={"limit": 1}).json()
    assert latest == [note]


def test_notes_newest_first_and_bounded(client, loaded):
    made = [post_note(client, f"order {i} {uuid.uuid4()}") for i in range(4)]
    got = client.get("/api/v1/notes", params={"limit": 4}).json()
    assert got == made[::-1]
    assert len(client.get("/api/v1/notes").json()) == min(20, notes_count(loaded))
    for _ in range(100 - notes_count(loaded) + 1):  # more than the max page exists
        post_note(client, "filler")
    assert len(client.get("/api/v1/notes", params={"limit": 100}).json()) == 100


@pytest.mark.parametrize("raw,typ", [("0", "greater_than_equal"), ("101", "less_than_equal"),
                                     ("x", "int_parsing"), ("", "int_parsing")])
def test_notes_limit_422(client, raw, typ):
    item = first_422(client.get("/api/v1/notes", params={"limit": raw}), typ, ["query", "limit"])
    assert item["input"] == raw


def test_note_content_verbatim(client, loaded):
    for content in ["Robert'); DROP TABLE notes;--", "湖边小屋 🏠\nline two\ttab", XSS,
                    " ", "x" * 10000]:
        note = post_note(client, content)
        assert note["content"] == content
        assert client.get("/api/v1/notes", params={"limit": 1}).json()[0]["content"] == content
        assert psql(loaded, f"SELECT content = $q${content}$q$ FROM notes"
                            f" WHERE id = {note['id']}") == "t"


@pytest.mark.parametrize("body,typ,loc", [
    ('{}', "missing", ["body", "content"]),
    ('{"text": "a"}', "missing", ["body", "content"]),
    ('{"content": ""}', "string_too_short", ["body", "content"]),
    ('{"content": null}', "string_type", ["body", "content"]),
    ('{"content": 5}', "string_type", ["body", "content"]),
    ('{"content": ["a"]}', "string_type", ["body", "content"]),
    ('{"content": "' + "y" * 10001 + '"}', "string_too_long", ["body", "content"]),
    ('{"content": "a", "id": 1}', "extra_forbidden", ["body", "id"]),
    ('["a"]', "model_attributes_type", ["body"]),
    ('', "missing", ["body"]),
    ('{"content": "a"', "json_invalid", None),
    ('{"content": "a\\u0000b"}', "json_invalid", None),
])
def test_post_note_422(client, loaded, body, typ, loc):
    n = notes_count(loaded)
    r = client.post("/api/v1/notes", content=body, headers={"content-type": "application/json"})
    item = first_422(r, typ, loc)
    if typ == "string_too_long":
        assert item["ctx"] == {"max_length": 10000}
    if typ == "string_too_short":
        assert item["ctx"] == {"min_length": 1}
    assert notes_count(loaded) == n


# ---- GET / : JSON for clients, HTML for browsers ----

@pytest.mark.parametrize("accept", ["", "*/*", "application/json",
                                    "application/json, text/html", "text/html;q=0.5, */*"])
def test_root_json_for_api_clients(client, accept):
    r = client.get("/", headers={"accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"message": "Hello Lakehouse"}
    assert "accept" in r.headers["vary"].lower()


def test_root_json_without_accept_header(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 200")
    assert out.endswith(b'{"message":"Hello Lakehouse"}')


def landing(client):
    r = client.get("/", headers={"accept": BROWSER_ACCEPT})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "accept" in r.headers["vary"].lower()
    return r


def page_notes(text):
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)<time>", text, re.S)]


def test_landing_page_shows_five_most_recent(client):
    tags = [f"recent {i} {uuid.uuid4()}" for i in range(6)]
    for t in tags:
        post_note(client, t)
    r = landing(client)
    assert "<h1>Hello from Lakebase!</h1>" in r.text
    assert '<a href="/docs">' in r.text
    assert page_notes(r.text) == tags[:0:-1]  # the newest five, newest first
    assert "script-src" not in r.headers["content-security-policy"]  # no scripts at all
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_landing_page_escapes_notes(client):
    post_note(client, XSS)
    post_note(client, 'a & b <b>bold</b> "quoted" \'single\'')
    r = landing(client)
    assert "<script>document.title" not in r.text and "<b>bold</b>" not in r.text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;" in r.text
    assert "a &amp; b &lt;b&gt;bold&lt;/b&gt; &quot;quoted&quot; &#39;single&#39;" in r.text
    assert page_notes(r.text)[:2] == ['a & b <b>bold</b> "quoted" \'single\'', XSS]


def test_landing_head_request(client):
    r = client.head("/", headers={"accept": BROWSER_ACCEPT})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == "text/html; charset=utf-8"


# ---- a real browser ----

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="headless browser test needs Debian's chromium (/usr/bin/chromium): "
           "add `chromium` to scripts/deps.sh")


def chromium(url, *args):
    with tempfile.TemporaryDirectory(prefix="lakeapi-chromium-") as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args,
             url],
            capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


class _ScriptPage(http.server.BaseHTTPRequestHandler):
    """A page whose inline script does run: proves the browser executes scripts here."""

    def do_GET(self):
        body = (b"<!DOCTYPE html><html><head><title>before</title></head><body>"
                b"<script>document.title='ran'</script></body></html>")
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@needs_chromium
def test_browser_runs_scripts_on_a_control_page():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _ScriptPage)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        dom = chromium(f"http://127.0.0.1:{srv.server_port}/", "--dump-dom")
    finally:
        srv.shutdown()
        srv.server_close()
    assert "<title>ran</title>" in dom


@needs_chromium
def test_browser_landing_page_shows_notes_and_runs_no_script(client, server):
    marker = f"visible note {uuid.uuid4()}"
    post_note(client, XSS)
    post_note(client, marker)
    dom = chromium(server.url + "/", "--dump-dom")
    assert "<h1>Hello from Lakebase!</h1>" in dom
    assert marker in dom
    # the script note is text in the page, not an element
    assert "&lt;script&gt;document.title='pwned'" in dom
    assert "<script" not in dom.lower()
    assert "<title>lakeapi</title>" in dom and "pwned</title>" not in dom
    assert 'id="injected"' not in dom
    assert '<a href="/docs">' in dom


@needs_chromium
def test_browser_screenshot(server, tmp_path):
    shot = tmp_path / "landing.png"
    chromium(server.url + "/", f"--screenshot={shot}", "--window-size=1000,700",
             "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 700)
    assert len(data) > 10000  # a rendered page, not a blank image

"""Observability: /metrics in the Prometheus text format (checked by a strict parser of the
0.0.4 exposition format below), and the structured logs (access lines, the effective
settings with secrets masked, LOG_LEVEL)."""
import json
import math
import re

import httpx

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(\{{(?:{LABEL})(?:,{LABEL})*\}}|\{{\}})? (\S+)(?: (-?\d+))?$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(text):
    """Strict parse of the text exposition format 0.0.4. Returns
    {family: {"type", "help", "samples": [(name, labels, value)]}}; raises on any error."""
    assert text.endswith("\n"), "exposition must end with a newline"
    families, current, seen = {}, None, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        assert line.strip() == line and line, f"line {n}: blank or padded: {line!r}"
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and help_, f"line {n}: {line!r}"
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            assert fam["help"] is None, f"line {n}: second HELP for {name}"
            fam["help"] = help_
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            assert type_ in TYPES, f"line {n}: type {type_!r}"
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            assert fam["type"] is None and not fam["samples"], f"line {n}: TYPE after samples"
            fam["type"] = type_
            current = name
            continue
        assert not line.startswith("#"), f"line {n}: unexpected comment {line!r}"
        m = SAMPLE.match(line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
        v = float(value)  # accepts NaN, +Inf, -Inf as Prometheus does
        labels = dict(LABEL_RE.findall(labels_text))
        assert len(labels) == labels_text.count('="'), f"line {n}: duplicate label"
        family = name
        if current and name != current:
            for suffix in ("_bucket", "_sum", "_count"):
                if name == current + suffix:
                    family = current
        assert family == current, f"line {n}: {name} outside its family block ({current})"
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, f"line {n}: duplicate series {key}"
        seen.add(key)
        families[family]["samples"].append((name, labels, v))
    for name, fam in families.items():
        assert fam["type"] and fam["help"], f"{name}: missing TYPE or HELP"
        if fam["type"] == "counter":
            assert all(v >= 0 and not math.isnan(v) for _, _, v in fam["samples"]), name
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    series = {}
    for sname, labels, v in samples:
        base = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        s = series.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            s["buckets"].append((float(labels["le"]), v))
        elif sname == name + "_sum":
            s["sum"] = v
        elif sname == name + "_count":
            s["count"] = v
        else:
            raise AssertionError(f"{sname} in histogram {name}")
    for base, s in series.items():
        les = [le for le, _ in s["buckets"]]
        assert les == sorted(les) and les[-1] == math.inf, (name, base)
        counts = [c for _, c in s["buckets"]]
        assert counts == sorted(counts), f"{name}{base}: buckets not cumulative"
        assert s["count"] == counts[-1] and s["sum"] is not None and s["sum"] >= 0, (name, base)


def sample(families, name, **labels):
    fam = families[re.sub(r"_(bucket|sum|count)$", "", name)] if name not in families \
        else families[name]
    for sname, slabels, v in fam["samples"]:
        if sname == name and all(slabels.get(k) == x for k, x in labels.items()):
            return v
    return None


def scrape(url):
    r = httpx.get(url + "/metrics", timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


def test_metrics_format_and_families(server):
    fams = scrape(server.url)
    for name, type_ in [
        ("lakeapi_http_requests_total", "counter"),
        ("lakeapi_http_request_duration_seconds", "histogram"),
        ("lakeapi_http_requests_in_flight", "gauge"),
        ("lakeapi_db_pool_connections", "gauge"),
        ("lakeapi_db_pool_waiting", "gauge"),
        ("lakeapi_db_pool_acquire_timeouts_total", "counter"),
        ("lakeapi_db_reconnects_total", "counter"),
        ("lakeapi_db_statement_timeouts_total", "counter"),
        ("lakeapi_db_queries_total", "counter"),
        ("lakeapi_db_batches_total", "counter"),
        ("lakeapi_db_token_mints_total", "counter"),
        ("lakeapi_db_token_mint_failures_total", "counter"),
        ("lakeapi_build_info", "gauge"),
    ]:
        assert fams[name]["type"] == type_, name
    states = {labels["state"] for _, labels, _ in fams["lakeapi_db_pool_connections"]["samples"]}
    assert states == {"total", "idle", "busy", "connecting"}
    assert sample(fams, "lakeapi_build_info")  == 1
    assert sample(fams, "lakeapi_db_token_mints_total", provider="static") == 0
    assert sample(fams, "lakeapi_http_requests_in_flight") >= 1


def test_requests_counted_by_route_template(lakeapi_server):
    s = lakeapi_server()
    with httpx.Client(base_url=s.url, timeout=10) as c:
        for k in (1, 2, 3, 4):
            assert c.get(f"/api/v1/orders/{k}").status_code in (200, 404)
        assert c.get("/api/v1/orders/0").status_code == 400
        assert c.get("/api/v1/orders/pages?page_size=0").status_code == 422
        for i in range(3):
            assert c.get(f"/no/such/path/{i}").status_code == 404
        assert c.delete("/livez").status_code == 405
    fams = scrape(s.url)
    route = "/api/v1/orders/{order_key:int}"
    ok = sample(fams, "lakeapi_http_requests_total", route=route, method="GET", status="200") or 0
    missing = sample(fams, "lakeapi_http_requests_total", route=route, method="GET",
                     status="404") or 0
    assert ok + missing == 4
    assert sample(fams, "lakeapi_http_requests_total", route=route, method="GET",
                  status="400") == 1
    assert sample(fams, "lakeapi_http_requests_total", route="/api/v1/orders/pages",
                  method="GET", status="422") == 1
    # Unmatched paths share one series: the raw path never becomes a label.
    assert sample(fams, "lakeapi_http_requests_total", route="", method="GET",
                  status="404") == 3
    assert sample(fams, "lakeapi_http_requests_total", route="", method="DELETE",
                  status="405") == 1
    paths = {labels.get("route") for _, labels, _ in fams["lakeapi_http_requests_total"]["samples"]}
    assert not any(p and p.startswith("/no/") for p in paths)
    assert sample(fams, "lakeapi_http_request_duration_seconds_count", route=route) == 5
    assert sample(fams, "lakeapi_http_request_duration_seconds_bucket", route=route,
                  le="+Inf") == 5
    assert sample(fams, "lakeapi_db_queries_total") >= 4
    assert sample(fams, "lakeapi_db_pool_connections", state="total") >= 1
    assert sample(fams, "lakeapi_db_pool_waiting") == 0


def test_parser_rejects_malformed_text():
    """The strict parser really is strict."""
    bad = [
        "lakeapi_x 1\n",                                                  # no TYPE/HELP
        "# HELP a h\n# TYPE a counter\na{b=\"c\"} 1",                     # no final newline
        "# HELP a h\n# TYPE a counter\na{b=c} 1\n",                       # unquoted label
        "# HELP a h\n# TYPE a counter\na 1\na 2\n",                       # duplicate series
        "# HELP a h\n# TYPE a bogus\na 1\n",                               # bad type
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",                                            # not cumulative
    ]
    for text in bad:
        try:
            parse(text)
        except (AssertionError, ValueError):
            continue
        raise AssertionError(f"accepted: {text!r}")


# ---- structured logs ----

def log_lines(server):
    out = []
    for line in server.output().splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_access_log_and_masked_settings(lakeapi_server):
    s = lakeapi_server(PGPASSWORD="hunter2-very-secret", LOG_LEVEL="info")
    r = httpx.get(s.url + "/api/v1/orders/7", headers={"X-Request-Id": "trace-abc-1"},
                  timeout=10)
    assert r.status_code in (200, 404)
    s.stop()
    text = s.output()
    assert "hunter2" not in text
    lines = log_lines(s)
    settings = [l for l in lines if l.get("msg") == "effective settings"]
    assert len(settings) == 1 and settings[0]["level"] == "info"
    eff = settings[0]["settings"]
    assert eff["PGPASSWORD"] == "****"
    assert eff["LOG_LEVEL"] == "info" and eff["DB_POOL_SIZE"] == "10"
    access = [l for l in lines if l.get("type") == "access" and l["request_id"] == "trace-abc-1"]
    assert len(access) == 1
    a = access[0]
    assert a["route"] == "/api/v1/orders/{order_key:int}" and a["path"] == "/api/v1/orders/7"
    assert a["method"] == "GET" and a["status"] == r.status_code
    assert a["bytes"] == len(r.content)
    assert a["duration_ms"] >= 0 and a["pool_wait_ms"] >= 0
    assert "time" in a


def test_access_log_escapes_and_counts(lakeapi_server):
    """Lines are formatted in place (src/http/exchange.c): a path that needs escaping still
    gives valid JSON, and the writer thread's counters account for every line."""
    s = lakeapi_server(LOG_LEVEL="info")
    r = httpx.get(s.url + "/nope/%22q%5C%01", headers={"X-Request-Id": "id-\"quoted\""},
                  timeout=10)
    assert r.status_code == 404
    for _ in range(20):
        httpx.get(s.url + "/livez", timeout=10)
    m = httpx.get(s.url + "/metrics", timeout=10).text
    s.stop()
    lines = log_lines(s)
    bad = [l for l in lines if l.get("type") == "access" and l["path"].startswith("/nope/")]
    assert len(bad) == 1
    assert bad[0]["path"] == '/nope/"q\\\x01' and bad[0]["status"] == 404
    assert len([l for l in lines if l.get("type") == "access" and l["path"] == "/livez"]) == 20
    fams = parse(m)
    assert sample(fams, "lakeapi_log_lines_dropped_total") == 0
    assert sample(fams, "lakeapi_log_lines_written_total") >= 1


def test_loop_spins_only_for_a_lone_client(lakeapi_server):
    """LOOP_SPIN_US (src/util/loopspin.c): with one keep-alive client the loop busy-polls
    before blocking and catches the next event; with two connections open it never
    spins; 0 turns it off (no families)."""
    s = lakeapi_server(LOOP_SPIN_US="20000")  # a wide budget: every short wait is hot
    with httpx.Client(base_url=s.url, timeout=10) as a:
        for _ in range(30):
            assert a.get("/api/v1/orders/1").status_code == 200
        fams = parse(a.get("/metrics").text)
        spins, caught = (sample(fams, "lakeapi_loop_spins_total"),
                         sample(fams, "lakeapi_loop_spins_caught_total"))
        assert spins > 0 and 0 < caught <= spins
        assert sample(fams, "lakeapi_loop_spin_seconds_total") > 0
        with httpx.Client(base_url=s.url, timeout=10) as b:
            assert b.get("/livez").status_code == 200  # now two connections are open
            before = sample(parse(a.get("/metrics").text), "lakeapi_loop_spins_total")
            for _ in range(30):
                assert a.get("/api/v1/orders/1").status_code == 200
                assert b.get("/api/v1/orders/2").status_code == 200
            after = sample(parse(a.get("/metrics").text), "lakeapi_loop_spins_total")
            assert after == before
    off = lakeapi_server(LOOP_SPIN_US="0")
    assert "lakeapi_loop_spins_total" not in scrape(off.url)


def test_log_level_error_has_no_access_lines(lakeapi_server):
    s = lakeapi_server(LOG_LEVEL="error")
    for path in ("/livez", "/api/v1/orders/1", "/nope"):
        httpx.get(s.url + path, timeout=10)
    s.stop()
    lines = log_lines(s)
    assert not [l for l in lines if l.get("type") == "access"]
    assert not [l for l in lines if l.get("level") in ("info", "debug")]

"""The OpenAPI 3.1 document and the Swagger UI at /docs.

The document is checked by two real validators from npm (@apidevtools/swagger-parser and
Redocly's lint), every route is checked to be in it and to be served, and /docs is driven
in headless Chromium (playwright-core + Debian's chromium) like a person would: open it,
see the orders operations, "Try it out" + "Execute" on GET /api/v1/orders/count, see 200.

The npm packages are installed into the build tree by scripts/swagger.sh (no-op when
already there). Tests skip only when node/npm or chromium are not installed at all.
"""
import json
import os
import shutil
import subprocess

import httpx
import pytest

from conftest import BIN, ROOT

BUILD = os.path.dirname(os.path.abspath(BIN))
NODE_MODULES = os.path.join(BUILD, "tests-openapi", "node_modules")
SWAGGER_DIR = os.path.join(BUILD, "web", "node_modules", "swagger-ui-dist")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# Routes the app must serve (method, OpenAPI path); the document may have more.
EXPECTED = [
    ("get", "/"), ("get", "/api/v1/healthcheck"), ("get", "/livez"), ("get", "/readyz"),
    ("get", "/metrics"), ("get", "/openapi.json"), ("get", "/docs"), ("get", "/docs/{file}"),
    ("get", "/api/v1/orders/count"), ("get", "/api/v1/orders/sample"),
    ("get", "/api/v1/orders/pages"), ("get", "/api/v1/orders/stream"),
    ("get", "/api/v1/orders/{order_key}"), ("post", "/api/v1/orders/{order_key}/status"),
]


@pytest.fixture(scope="module")
def node_modules():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm not installed (Debian packages nodejs npm): no OpenAPI validator")
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "swagger.sh"), "--tests", BUILD],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return NODE_MODULES


def node(script, *args, node_modules, timeout=120):
    return subprocess.run(["node", os.path.join(ROOT, "tests", "openapi", script), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, NODE_PATH=node_modules))


@pytest.fixture(scope="module")
def document(server):
    r = httpx.get(server.url + "/openapi.json", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


@pytest.fixture
def doc_file(document, tmp_path):
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_swagger_parser_validates(doc_file, node_modules):
    r = node("validate.js", doc_file, node_modules=node_modules)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("valid:")


def test_redocly_lint(doc_file, node_modules, tmp_path):
    redocly = os.path.join(node_modules, ".bin", "redocly")
    r = subprocess.run([redocly, "lint", doc_file, "--format=summary", "--config",
                        os.path.join(ROOT, "tests", "openapi", "redocly.yaml")],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env=dict(os.environ, REDOCLY_TELEMETRY="off",
                                REDOCLY_SUPPRESS_UPDATE_NOTICE="true"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error " not in r.stdout


def test_validators_reject_a_broken_document(document, node_modules, tmp_path):
    """The validators are not rubber stamps: a dangling $ref fails."""
    broken = json.loads(json.dumps(document))
    del broken["components"]["schemas"]["HTTPError"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert node("validate.js", str(path), node_modules=node_modules).returncode == 1


def test_document_header(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "lakeapi"
    assert document["info"]["version"]
    assert document["servers"][0]["url"] == "/"


def test_expected_routes_are_documented(document):
    for method, path in EXPECTED:
        op = document["paths"].get(path, {}).get(method)
        assert op, f"{method.upper()} {path} missing"
        assert op["operationId"] and op["responses"], path


def test_orders_parameters_and_schemas(document):
    pages = document["paths"]["/api/v1/orders/pages"]["get"]
    params = {p["name"]: p for p in pages["parameters"]}
    assert params["page_size"]["schema"] == {"type": "integer", "default": 100, "minimum": 1,
                                             "maximum": 1000}
    assert params["page"]["schema"]["minimum"] == 1
    assert params["include_count"]["schema"] == {"type": "boolean", "default": True}
    assert pages["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/HTTPValidationError"
    schemas = document["components"]["schemas"]
    order = schemas["Order"]["properties"]
    assert list(order) == ["o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice",
                           "o_orderdate", "o_orderpriority", "o_clerk", "o_shippriority",
                           "o_comment"]
    assert order["o_totalprice"]["type"] == "number"
    assert order["o_orderdate"] == {"type": "string", "format": "date"}
    assert schemas["OrderStatusUpdate"]["properties"]["o_orderstatus"]["pattern"] == "^[A-Z]$"
    assert schemas["HTTPError"]["properties"]["detail"]["type"] == "string"
    status = document["paths"]["/api/v1/orders/{order_key}/status"]["post"]
    assert status["requestBody"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/OrderStatusUpdate"


def test_every_documented_operation_is_served(document, client):
    """Walks the document and calls each operation: none may be unrouted (the router's
    own 404 "Not Found" or 405). Writes get an invalid body, so nothing changes."""
    values = {"order_key": "1", "id": "2147483647", "file": "swagger-ui.css"}
    n = 0
    for path, item in document["paths"].items():
        url = path
        for name, value in values.items():
            url = url.replace("{" + name + "}", value)
        assert "{" not in url, f"no test value for a parameter of {path}"
        for method in item:
            body = b"{not json" if method in ("post", "put", "patch") else None
            r = client.request(method.upper(), url, content=body,
                               headers={"Content-Type": "application/json"} if body else {},
                               follow_redirects=False)
            assert r.status_code != 405, (method, path)
            if r.status_code == 404:
                assert r.json() != {"detail": "Not Found"}, (method, path)
            n += 1
    assert n >= len(EXPECTED)


# ---- Swagger UI ----

@pytest.fixture(scope="module")
def swagger_dir():
    if not os.path.isfile(os.path.join(SWAGGER_DIR, "swagger-ui-bundle.js")):
        if not shutil.which("npm"):
            pytest.skip("npm not installed (Debian packages nodejs npm): no swagger-ui-dist")
        r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "swagger.sh"), BUILD],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
    return SWAGGER_DIR


def test_docs_served_from_swagger_ui_dist(swagger_dir, lakeapi_server):
    s = lakeapi_server(SWAGGER_UI_DIR=swagger_dir)
    with httpx.Client(base_url=s.url, timeout=10) as c:
        page = c.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "/docs/swagger-ui-bundle.js" in page.text and "swagger-ui.css" in page.text
        css = c.get("/docs/swagger-ui.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        with open(os.path.join(swagger_dir, "swagger-ui.css"), "rb") as f:
            assert css.content == f.read()
        js = c.get("/docs/swagger-ui-bundle.js")
        assert js.headers["content-type"].startswith("application/javascript")
        assert len(js.content) > 100000
        init = c.get("/docs/swagger-initializer.js")
        assert init.status_code == 200 and "/openapi.json" in init.text
        # Only the fixed list of files: nothing else of the directory, no traversal.
        for bad in ("/docs/package.json", "/docs/index.html", "/docs/..%2Fpackage.json",
                    "/docs/..%2F..%2F..%2Fetc%2Fpasswd", "/docs/%2e%2e/package.json"):
            r = c.get(bad)
            assert r.status_code == 404, bad
            assert r.json() == {"detail": "Not Found"}


def test_docs_without_files_is_503(lakeapi_server, tmp_path):
    s = lakeapi_server(SWAGGER_UI_DIR=str(tmp_path))
    r = httpx.get(s.url + "/docs", timeout=5)
    assert r.status_code == 503
    assert "Swagger UI" in r.json()["detail"]
    assert httpx.get(s.url + "/docs/swagger-ui.css", timeout=5).status_code == 503
    # The rest of the server is unaffected.
    assert httpx.get(s.url + "/openapi.json", timeout=5).status_code == 200
    assert httpx.get(s.url + "/api/v1/orders/1", timeout=5).status_code == 200


def test_docs_in_headless_chromium(swagger_dir, node_modules, lakeapi_server, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium; scripts/deps.sh)")
    s = lakeapi_server(SWAGGER_UI_DIR=swagger_dir)
    shot = os.environ.get("LAKEAPI_DOCS_SCREENSHOT") or str(tmp_path / "swagger.png")
    r = node("docs_browser.js", s.url, shot, node_modules=node_modules, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["docs_status"] == 200
    for path in ("/api/v1/orders/count", "/api/v1/orders/pages", "/api/v1/orders/{order_key}"):
        assert path in seen["operations"]
    assert seen["execute_status"] == "200"
    assert json.loads(seen["execute_body"])["total_orders"] > 0
    assert seen["foreign"] == []  # no CDN: every request went to lakeapi
    assert os.path.getsize(shot) > 10000

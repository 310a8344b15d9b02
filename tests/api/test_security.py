"""Security review in code (issue 11): SQL is built only by the reviewed builders
(scripts/check_sql.py), and the log scan of conftest.py catches what it must."""
import os
import subprocess
import sys

import httpx

from conftest import ROOT, secrets_in


def test_sql_is_built_only_by_reviewed_builders():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_sql.py")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_log_scan_catches_secrets():
    assert secrets_in(b'{"msg":"connect postgresql://app:s3cr3t@db/x"}', [])
    assert secrets_in(b'{"msg":"conninfo host=x password=s3cr3t"}', [])
    assert secrets_in(b'{"t":"dapi0123456789abcdef0123"}', [])
    assert secrets_in(b'{"a":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}', [])
    assert secrets_in(b'{"msg":"x"} my-secret-value', ["my-secret-value"])
    assert not secrets_in(b'{"DATABASE_URL":"postgresql://app:****@db/x","PGPASSWORD":"****"}',
                          ["my-secret-value"])


def test_configured_secrets_never_logged(lakeapi_server):
    """A server with every kind of secret set, driven through errors; the autouse
    fixture then scans its log for them."""
    s = lakeapi_server(PGPASSWORD="pg-secret-4711", DATABRICKS_TOKEN="dapi" + "ab" * 16,
                       DATABRICKS_CLIENT_SECRET="oauth-secret-4711", DATABRICKS_AUTH_TYPE="pat",
                       LOG_LEVEL="debug")
    assert s.secrets and "pg-secret-4711" in s.secrets
    for path in ("/readyz", "/api/v1/orders/1", "/api/v1/resources/status", "/nope"):
        httpx.get(s.url + path, headers={"Authorization": "Bearer zzz-secret"}, timeout=10)
    s.stop()
    s.log.seek(0)
    out = s.log.read()
    assert b"effective settings" in out
    assert not secrets_in(out, s.secrets + ["zzz-secret"])

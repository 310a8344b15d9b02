"""Lakebase credentials end to end: a fake Databricks workspace on loopback
(tests/fake_workspace.py) mints tokens, and every token it mints becomes the
Postgres role's password in a cluster that requires scram over TLS for that
role. So a request only works when lakeapi really fetched, cached, rotated
and presented the current token - nothing is mocked inside lakeapi.

The cluster here is a second one (TCP on 127.0.0.1, ssl=on, pg_hba: hostssl +
scram-sha-256 for lakeapi_app, plain TCP rejected for it), started once for
this module with tests/pg_cluster.sh.
"""
import http.client
import os
import re
import subprocess
import tempfile
import threading
import time

import httpx
import pytest

from conftest import BIN, ROOT, SF, USERS, checked_servers, clean_env, free_port, psql
from fake_workspace import FakeWorkspace

ROLE = "lakeapi_app"
ENDPOINT = "projects/lakeapi/branches/main/endpoints/primary"
INSTANCE = "lakeapi-test-instance"
PAT = "dapi-test-pat-5d1f0c9a7e3b42a8b6c4"
CLIENT_ID = "0a1b2c3d-sp-client-id"
CLIENT_SECRET = "dose-test-client-secret-91e2f7a4c8d6"
MEASURED = os.path.join(tempfile.gettempdir(), "lakeapi-credentials-mints.txt")


@pytest.fixture(scope="module")
def tpg():
    """The scram + TLS cluster: {"admin": superuser env (unix socket), "port": TCP port}."""
    base = tempfile.mkdtemp(prefix="lakeapi-test-tokenpg-")
    os.chmod(base, 0o755)
    port = free_port()
    script = os.path.join(ROOT, "tests", "pg_cluster.sh")
    hba = (f"hostssl all {ROLE} 127.0.0.1/32 scram-sha-256\n"
           f"host all {ROLE} 127.0.0.1/32 reject")
    env = dict(os.environ, PG_CLUSTER_PORT=str(port), PG_CLUSTER_SSL="1", PG_CLUSTER_HBA=hba,
               PG_CLUSTER_OPTS="-c fsync=off -c listen_addresses=127.0.0.1")
    out = subprocess.run(["sh", script, "start", base], check=True, capture_output=True,
                         text=True, env=env)
    admin = dict(kv.split("=", 1) for kv in out.stdout.split())
    try:
        subprocess.run([BIN, "load", "all", "--sf", SF, "--rows", USERS], env=clean_env(admin),
                       check=True, capture_output=True, timeout=300)
        psql(admin, f"CREATE ROLE {ROLE} LOGIN; "
                    f"GRANT pg_read_all_data, pg_write_all_data TO {ROLE}")
        yield {"admin": admin, "port": port}
    finally:
        subprocess.run(["sh", script, "destroy", base], capture_output=True)


@pytest.fixture
def workspace(tpg):
    ws = FakeWorkspace(tpg["admin"], role=ROLE, endpoint=ENDPOINT, instance=INSTANCE, pat=PAT,
                       client_id=CLIENT_ID, client_secret=CLIENT_SECRET).start()
    yield ws
    ws.stop()


@pytest.fixture
def start(tpg, workspace):
    """Starts lakeapi against the token cluster; on teardown checks its log for secrets."""
    def env(ws=workspace, **extra):
        base = {"PGHOST": "127.0.0.1", "PGPORT": tpg["port"], "PGUSER": ROLE,
                "PGDATABASE": "postgres", "DATABRICKS_HOST": ws.url, "ENDPOINT_NAME": ENDPOINT,
                "DATABRICKS_TOKEN": PAT, "LOG_LEVEL": "debug"}
        return {**base, **extra}

    yield from checked_servers(env, lambda: secrets_of(workspace))


def secrets_of(ws):
    return [PAT, CLIENT_SECRET] + ws.snapshot()["tokens"] + list(ws.oauth_tokens)


def assert_no_secrets(text, ws):
    for secret in secrets_of(ws):
        assert secret not in text, "a secret appeared in the server output"


def okey(i):
    """The i-th existing TPC-H order key (i >= 1): keys are sparse, 8 of every 32."""
    return (i // 8) * 32 + i % 8 if i > 0 else 1


def wait_ready(url, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = httpx.get(url + "/readyz", timeout=5)
        if last.status_code == 200:
            return last
        time.sleep(0.1)
    raise AssertionError(f"not ready after {timeout} s: {last.status_code} {last.text}")


def app_backends(tpg):
    """pid|ssl of lakeapi's own connections (not psql's)."""
    rows = psql(tpg["admin"], "SELECT a.pid, s.ssl FROM pg_stat_activity a "
                              "JOIN pg_stat_ssl s USING (pid) "
                              f"WHERE a.usename = '{ROLE}' ORDER BY a.pid")
    return [tuple(r.split("|")) for r in rows.splitlines() if r]


def login_works(tpg, password):
    env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(tpg["port"]), PGUSER=ROLE,
               PGDATABASE="postgres", PGPASSWORD=password, PGSSLMODE="require")
    return subprocess.run(["psql", "-XAtq", "-c", "SELECT 1"], env=env,
                          capture_output=True).returncode == 0


# ---- the cases ----


def test_cold_start_autoscaling_with_pat(start, workspace, tpg):
    s = start()
    r = wait_ready(s.url)
    assert r.json()["status"] == "ready"
    for key in (1, 2, 3):
        assert httpx.get(f"{s.url}/api/v1/orders/{key}").status_code == 200
    snap = workspace.snapshot()
    assert snap["mints"] == 1
    assert snap["oidc"] == 0  # a PAT needs no OAuth exchange
    path, body = workspace.requests[0]
    assert path == "/api/2.0/postgres/credentials"
    assert body == {"endpoint": ENDPOINT}
    backends = app_backends(tpg)
    assert backends and all(ssl == "t" for _, ssl in backends)
    metrics = httpx.get(f"{s.url}/metrics").text
    assert 'lakeapi_db_token_mints_total{provider="lakebase-autoscaling"} 1' in metrics
    assert 'lakeapi_db_token_mint_failures_total{provider="lakebase-autoscaling"} 0' in metrics


def test_provisioned_with_oauth_m2m(start, workspace):
    s = start(ENDPOINT_NAME=None, LAKEBASE_INSTANCE_NAME=INSTANCE, DATABRICKS_TOKEN=None,
              DATABRICKS_CLIENT_ID=CLIENT_ID, DATABRICKS_CLIENT_SECRET=CLIENT_SECRET)
    wait_ready(s.url)
    assert httpx.get(f"{s.url}/api/v1/orders/count").status_code == 200
    snap = workspace.snapshot()
    assert snap["oidc_ok"] == 1 and snap["mints"] == 1
    path, body = workspace.requests[0]
    assert path == "/api/2.0/database/credentials"
    assert body["instance_names"] == [INSTANCE]  # request_id is checked as a UUID v4 by the fake
    assert "instance " + INSTANCE in s.output()


def test_rotation_short_ttl_under_traffic(start, workspace, tpg):
    """5-second tokens, continuous traffic for 20 s: no failed request."""
    workspace.control(ttl=5)
    s = start(DB_POOL_SIZE=4)
    wait_ready(s.url)
    first_token = workspace.snapshot()["tokens"][0]
    failures, ok = [], [0]
    stop = time.time() + 20

    def traffic(n):
        with httpx.Client(base_url=s.url, timeout=10) as c:
            k = n
            while time.time() < stop:
                k = k % 15000 + 1
                path = "/readyz" if k % 7 == 0 else f"/api/v1/orders/{okey(k)}"
                r = c.get(path)
                if r.status_code == 200:
                    ok[0] += 1
                else:
                    failures.append((path, r.status_code, r.text[:300]))

    threads = [threading.Thread(target=traffic, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert s.stop() == 0
    snap = workspace.snapshot()
    with open(MEASURED, "a") as f:
        f.write(f"ttl=5s traffic=20s requests_ok={ok[0]} failed={len(failures)} "
                f"mints={snap['mints']} credential_calls={snap['credentials']}\n")
    assert not failures, failures[:5]
    assert ok[0] > 200
    # 20 s of 5 s tokens refreshed at half-life: about one mint per 2.5 s, shared
    assert 4 <= snap["mints"] <= 40, snap["mints"]
    assert snap["max_in_flight"] == 1
    # the first token no longer logs in; the newest does
    assert not login_works(tpg, first_token)
    assert login_works(tpg, snap["tokens"][-1])


def test_old_connections_survive_rotation(start, workspace, tpg):
    s = start(DB_POOL_SIZE=2)
    wait_ready(s.url)
    with httpx.Client(base_url=s.url, timeout=10) as c:
        for k in range(1, 30):
            assert c.get(f"/api/v1/orders/{okey(k)}").status_code == 200
        before = {pid for pid, _ in app_backends(tpg)}
        workspace.rotate()  # the token those connections logged in with is now useless
        for k in range(1, 100):
            assert c.get(f"/api/v1/orders/{okey(k)}").status_code == 200
    after = {pid for pid, _ in app_backends(tpg)}
    assert before and before <= after  # the same backends served the requests
    assert workspace.snapshot()["mints"] == 1


def test_forced_28p01_recovers_with_one_remint(start, workspace, tpg):
    s = start(DB_POOL_SIZE=3)
    wait_ready(s.url)
    assert workspace.snapshot()["mints"] == 1
    workspace.rotate()
    psql(tpg["admin"], f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE usename = '{ROLE}'")
    # new logins with the cached token fail (28P01): lakeapi re-mints once and retries
    deadline = time.time() + 10
    statuses = []
    while time.time() < deadline:
        r = httpx.get(f"{s.url}/api/v1/orders/1", timeout=10)
        statuses.append(r.status_code)
        if r.status_code == 200:
            break
        time.sleep(0.05)
    assert statuses[-1] == 200, statuses
    with httpx.Client(base_url=s.url, timeout=10) as c:
        for k in range(1, 50):
            assert c.get(f"/api/v1/orders/{okey(k)}").status_code == 200
    assert workspace.snapshot()["mints"] == 2


def test_revoked_oauth_token_is_replaced(start, workspace, tpg):
    """A mint answered 401 with a cached M2M token: fetch a new OAuth token, mint again."""
    s = start(DATABRICKS_TOKEN=None, DATABRICKS_CLIENT_ID=CLIENT_ID,
              DATABRICKS_CLIENT_SECRET=CLIENT_SECRET, DB_POOL_SIZE=1)
    wait_ready(s.url)
    workspace.control(revoke_oauth=True, rotate=True)
    psql(tpg["admin"], f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE usename = '{ROLE}'")
    wait_ready(s.url, timeout=10)
    snap = workspace.snapshot()
    assert snap["unauthorized"] == 1 and snap["oidc_ok"] == 2 and snap["mints"] == 2


def test_workspace_down_at_startup(start, tpg):
    ws = FakeWorkspace(tpg["admin"], role=ROLE, endpoint=ENDPOINT, pat=PAT, port=free_port())
    s = start(ws=ws)  # nothing listens on the workspace port yet
    r = httpx.get(f"{s.url}/readyz", timeout=10)
    assert r.status_code == 503 and "detail" in r.json()
    assert httpx.get(f"{s.url}/livez").status_code == 200  # the server itself is fine
    log = s.output()  # the full reason is in the log (the 503 body names a safe category)
    assert ENDPOINT in log and "/api/2.0/postgres/credentials" in log
    assert "Couldn't connect" in log or "Connection refused" in log
    time.sleep(2)
    ws.start()
    try:
        wait_ready(s.url, timeout=20)  # backoff is at most 4 s by now
        assert httpx.get(f"{s.url}/api/v1/orders/1").status_code == 200
        assert ws.snapshot()["mints"] == 1
    finally:
        ws.stop()
    assert ENDPOINT in s.output()  # the failure was logged, naming the endpoint
    assert_no_secrets(s.output(), ws)


def test_mint_error_is_clear_and_retried_with_backoff(start, workspace):
    workspace.control(fail_next=1000, fail_status=403, fail_code="PERMISSION_DENIED",
                      fail_message="Identity 'sp-123' lacks CAN_USE on the endpoint")
    s = start()
    time.sleep(0.3)
    r = httpx.get(f"{s.url}/readyz", timeout=10)
    assert r.status_code == 503
    log = s.output()
    for part in ("HTTP 403", "PERMISSION_DENIED", "lacks CAN_USE", ENDPOINT, "as pat"):
        assert part in log, part
    # /readyz and the API's 503 name the endpoint, the status and Databricks' reason too
    for part in ("HTTP 403", "PERMISSION_DENIED", ENDPOINT):
        assert part in r.json()["detail"], (part, r.json())
    body = httpx.get(f"{s.url}/api/v1/orders/1", timeout=10)
    assert body.status_code == 503  # a clear 503, not a hang
    assert body.headers["retry-after"]
    assert "PERMISSION_DENIED" in body.json()["detail"] and ENDPOINT in body.json()["detail"]
    time.sleep(3)
    calls = workspace.snapshot()["credentials"]
    assert 2 <= calls <= 5, calls  # attempts at ~0, 0.5, 1.5, 3.5 s: backoff, not a storm
    metrics = httpx.get(f"{s.url}/metrics").text
    assert "lakeapi_db_credentials_healthy 0" in metrics
    workspace.control(fail_next=0)
    wait_ready(s.url, timeout=15)
    metrics = httpx.get(f"{s.url}/metrics").text
    assert "lakeapi_db_credentials_healthy 1" in metrics
    failed = re.search(r'lakeapi_db_token_mint_failures_total\{provider="lakebase-autoscaling"\} '
                       r'(\d+)', metrics)
    assert failed and int(failed.group(1)) >= calls
    assert "credentials recovered" in s.output()


def test_concurrent_connects_share_one_mint(start, workspace):
    workspace.control(slow=1.0)
    s = start(DB_POOL_SIZE=8)
    results = []

    def one():
        results.append(httpx.get(f"{s.url}/api/v1/orders/1", timeout=15).status_code)

    threads = [threading.Thread(target=one) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 24
    snap = workspace.snapshot()
    assert snap["credentials"] == 1 and snap["mints"] == 1 and snap["max_in_flight"] == 1


def test_pat_and_client_credentials_without_auth_type_is_a_startup_error(start):
    with pytest.raises(RuntimeError) as e:
        start(DATABRICKS_CLIENT_ID=CLIENT_ID, DATABRICKS_CLIENT_SECRET=CLIENT_SECRET)
    msg = str(e.value)
    assert "DATABRICKS_TOKEN" in msg and "DATABRICKS_CLIENT_ID" in msg
    assert "DATABRICKS_AUTH_TYPE" in msg
    assert PAT not in msg and CLIENT_SECRET not in msg


@pytest.mark.parametrize("auth_type,oidc_calls", [("pat", 0), ("oauth-m2m", 1)])
def test_auth_type_chooses(start, workspace, auth_type, oidc_calls):
    s = start(DATABRICKS_CLIENT_ID=CLIENT_ID, DATABRICKS_CLIENT_SECRET=CLIENT_SECRET,
              DATABRICKS_AUTH_TYPE=auth_type)
    wait_ready(s.url)
    assert workspace.snapshot()["oidc_ok"] == oidc_calls
    assert workspace.snapshot()["mints"] == 1


def test_bad_client_secret_is_named_not_shown(start, workspace):
    wrong = "dose-wrong-secret-0000000000000"
    s = start(DATABRICKS_TOKEN=None, DATABRICKS_CLIENT_ID=CLIENT_ID,
              DATABRICKS_CLIENT_SECRET=wrong)
    time.sleep(0.3)
    r = httpx.get(f"{s.url}/readyz", timeout=10)
    assert r.status_code == 503
    assert wrong not in r.text
    s.stop()
    log = s.output()
    assert "HTTP 401" in log and "invalid_client" in log and CLIENT_ID in log
    assert wrong not in log


def test_tls_sslmode_require(start, workspace, tpg):
    s = start(PGSSLMODE="require")
    wait_ready(s.url)
    backends = app_backends(tpg)
    assert backends and all(ssl == "t" for _, ssl in backends)
    # without TLS the cluster refuses the role: sslmode really reaches libpq
    s2 = start(PGSSLMODE="disable")
    time.sleep(0.5)
    r = httpx.get(f"{s2.url}/readyz", timeout=10)
    assert r.status_code == 503
    # The log is written by its own thread; on a loaded machine the line may trail the answer.
    deadline = time.monotonic() + 5
    while "no encryption" not in s2.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "no encryption" in s2.output()


def test_secrets_absent_from_logs_on_every_path(start, workspace):
    """Success, failure and rotation paths at debug level: grep the output."""
    workspace.control(ttl=3)
    s = start(DATABRICKS_TOKEN=None, DATABRICKS_CLIENT_ID=CLIENT_ID,
              DATABRICKS_CLIENT_SECRET=CLIENT_SECRET, DB_POOL_SIZE=2)
    wait_ready(s.url)
    workspace.control(fail_next=2, fail_code="INTERNAL_ERROR", fail_status=500,
                      fail_message="boom")
    deadline = time.time() + 6
    while time.time() < deadline:
        httpx.get(f"{s.url}/api/v1/orders/1", timeout=10)
        time.sleep(0.05)
    wait_ready(s.url)
    s.stop()
    out = s.output()
    snap = workspace.snapshot()
    assert snap["mints"] >= 2 and snap["failures"] == 2
    assert "INTERNAL_ERROR" in out
    assert_no_secrets(out, workspace)


def test_shutdown_during_a_slow_mint(start, workspace):
    """SIGTERM while a mint is in flight: a clean exit once it answers, no leak, no crash."""
    workspace.control(slow=2.0)
    s = start()
    time.sleep(0.3)
    assert workspace.snapshot()["in_flight"] == 1
    t0 = time.time()
    assert s.stop() == 0, s.output()[-3000:]
    assert time.time() - t0 < 10


def test_loops_share_one_provider(start, workspace):
    """WORKERS=2: both loops' connections wait on the same mint (credentials hub.c)."""
    workspace.control(slow=1.0)
    s = start(WORKERS=2, DB_POOL_SIZE=8)
    results = []

    def one():
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=15)
        for _ in range(3):
            c.request("GET", "/api/v1/orders/1")
            r = c.getresponse()
            r.read()
            results.append(r.status)
        c.close()

    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 48
    snap = workspace.snapshot()
    assert snap["credentials"] == 1 and snap["mints"] == 1 and snap["max_in_flight"] == 1
    metrics = httpx.get(f"{s.url}/metrics").text
    assert 'lakeapi_db_token_mints_total{provider="lakebase-autoscaling"} 1\n' in metrics

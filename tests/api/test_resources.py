"""Lakebase resource lifecycle end to end: the real lakeapi binary against the
fake Databricks workspace (tests/fake_workspace.py, real HTTP on loopback),
which keeps the instances, catalogs and synced tables in memory, provisions
them over a few polls and fails the operations a test asks it to.

What is proven: without the flag nothing is called at all; creation answers
at once and the status route follows the background job to the synced
table's pipeline id; nothing is created twice; deletion goes synced table,
catalog, instance and reports each; a failing Databricks call is named with
its HTTP status and error_code; no secret ever reaches the log.

The server runs against the session's database (its pool gets Lakebase
tokens from the same fake, as LAKEBASE_INSTANCE_NAME selects the
provisioned provider; the socket cluster trusts its role, so those tokens
are only exercised, not needed).
"""
import threading
import time

import httpx
import pytest

from conftest import checked_servers
from fake_workspace import FakeWorkspace

PAT = "dapi-resources-test-pat-8c2e4b6a0d1f"
CLIENT_ID = "7f3e-sp-resources-client"
CLIENT_SECRET = "dose-resources-secret-4a9b8c7d6e5f"
INSTANCE = "lakeapi-res-instance"
CATALOG = "lakeapi_res_catalog"
SYNCED = f"{CATALOG}.public.orders_synced"
CREATE = "/api/v1/resources/create-lakebase-resources"
DELETE = "/api/v1/resources/delete-lakebase-resources"
STATUS = "/api/v1/resources/status"


@pytest.fixture
def ws(loaded):
    fake = FakeWorkspace(loaded, role=loaded["PGUSER"], instance=INSTANCE, pat=PAT,
                         client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    fake.control(instance_polls=2, synced_polls=2, pipeline_after=1)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def start(loaded, ws):
    """Starts lakeapi with the resource settings; on teardown greps its log for secrets."""
    def env(**extra):
        base = dict(loaded, DATABRICKS_HOST=ws.url, DATABRICKS_TOKEN=PAT,
                    LAKEBASE_INSTANCE_NAME=INSTANCE, LAKEBASE_CATALOG_NAME=CATALOG,
                    SYNCED_TABLE_STORAGE_CATALOG="main", SYNCED_TABLE_STORAGE_SCHEMA="default",
                    LOG_LEVEL="debug", RESOURCES_ENABLED="true")
        return {**base, **extra}

    yield from checked_servers(env, lambda: [PAT, CLIENT_SECRET] + list(ws.oauth_tokens))


def wait_state(url, states, timeout=20):
    """Polls the status route until its state is one of states; returns every body seen."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = httpx.get(url + STATUS, timeout=5).json()
        seen.append(body)
        if body["state"] in states:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"state never became {states}: {seen[-1]}")


def steps(body):
    return {s["resource"]: s for s in body["steps"]}


def create(url, **params):
    return httpx.post(url + CREATE, params=dict({"create_resources": "true"}, **params),
                      timeout=15)


def resource_calls(ws):
    return ws.snapshot()["calls"]


# ---- the flags ----


def test_without_the_flags_nothing_is_called(start, ws):
    s = start()
    r = httpx.post(s.url + CREATE, params={"create_resources": "false"}, timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["instance"] == body["catalog"] == body["synced_table"] == ""
    assert body["message"].startswith("No resources were created (create_resources=False)")
    assert INSTANCE in body["message"] and SYNCED in body["message"]  # what would happen
    r = httpx.delete(s.url + DELETE, params={"confirm_deletion": "no"}, timeout=5)
    assert r.status_code == 200
    assert r.json()["deleted_resources"] == [] and r.json()["failed_deletions"] == []
    assert r.json()["message"].startswith("No resources were deleted (confirm_deletion=False)")
    # the flags are required, as in the tutorial
    r = httpx.post(s.url + CREATE, timeout=5)
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "missing", "loc": ["query", "create_resources"],
                                   "msg": "Field required", "input": None}]
    r = httpx.delete(s.url + DELETE, timeout=5)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "confirm_deletion"]
    assert httpx.get(s.url + STATUS, timeout=5).json()["state"] == "idle"
    assert ws.snapshot()["resource_calls"] == 0


def test_bad_parameters_are_422_and_call_nothing(start, ws):
    s = start()
    r = create(s.url, capacity="CU_3", node_count="0", retention_window_in_days="99")
    assert r.status_code == 422
    detail = {tuple(d["loc"]): d for d in r.json()["detail"]}
    assert detail[("query", "capacity")] == {
        "type": "enum", "loc": ["query", "capacity"],
        "msg": "Input should be 'CU_1', 'CU_2', 'CU_4' or 'CU_8'", "input": "CU_3",
        "ctx": {"expected": "'CU_1', 'CU_2', 'CU_4' or 'CU_8'"}}
    assert detail[("query", "node_count")]["type"] == "greater_than_equal"
    assert detail[("query", "retention_window_in_days")]["type"] == "less_than_equal"
    assert create(s.url, node_count="4").json()["detail"][0]["type"] == "less_than_equal"
    assert create(s.url, node_count="two").json()["detail"][0]["type"] == "int_parsing"
    r = httpx.post(s.url + CREATE, params={"create_resources": "maybe"}, timeout=5)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "bool_parsing"
    assert ws.snapshot()["resource_calls"] == 0


# ---- creation ----


def test_create_answers_at_once_and_status_reaches_the_pipeline_id(start, ws):
    ws.control(instance_polls=3, synced_polls=3, pipeline_after=2)
    s = start()
    t0 = time.time()
    r = create(s.url, capacity="CU_2", node_count="2", enable_readable_secondaries="true")
    assert time.time() - t0 < 3  # the lookups only: provisioning is not waited for
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["instance"] == INSTANCE and body["catalog"] == CATALOG
    assert body["state"] == "running" and body["synced_table"] == ""
    assert "will be created" in body["message"] and STATUS in body["message"]
    assert steps(body)["database_instance"]["state"] == "creating"
    assert steps(body)["database_catalog"]["state"] == "to_create"

    seen = wait_state(s.url, {"done", "failed"})
    final = seen[-1]
    assert final["state"] == "done", final
    st = steps(final)
    assert all(x["state"] == "ready" and not x["existed"] for x in st.values())
    pipeline = ws.synced[SYNCED]["_pipeline"]
    assert st["synced_table"]["pipeline_id"] == pipeline
    assert final["synced_table"] == pipeline and pipeline in final["message"]
    assert st["synced_table"]["remote_state"] == "SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE"
    assert st["database_instance"]["remote_state"] == "AVAILABLE"
    assert st["database_instance"]["host"] == ws.instances[INSTANCE]["read_write_dns"]
    assert final["started_at"] and final["finished_at"]
    # progress was visible on the way
    instance_states = {steps(b)["database_instance"]["remote_state"] for b in seen}
    assert "STARTING" in instance_states
    assert any(steps(b)["synced_table"]["state"] == "provisioning" for b in seen)

    # what was sent, in order: lookups, then instance, catalog, synced table
    calls = resource_calls(ws)
    creates = [c for c in calls if c.startswith("POST")]
    assert creates == ["POST /api/2.0/database/instances", "POST /api/2.0/database/catalogs",
                       "POST /api/2.0/database/synced_tables"]
    assert calls.index(creates[1]) > max(i for i, c in enumerate(calls)
                                         if c.endswith(f"/instances/{INSTANCE}"))
    assert ws.bodies["instance.create"] == {
        "name": INSTANCE, "capacity": "CU_2", "node_count": 2,
        "enable_readable_secondaries": True, "retention_window_in_days": 7}
    assert ws.bodies["catalog.create"] == {
        "name": CATALOG, "database_instance_name": INSTANCE, "database_name": "postgres",
        "create_database_if_not_exists": True}
    synced = ws.bodies["synced.create"]
    assert synced["name"] == SYNCED and synced["logical_database_name"] == "postgres"
    assert synced["spec"] == {
        "source_table_full_name": "samples.tpch.orders", "primary_key_columns": ["o_orderkey"],
        "timeseries_key": "o_orderdate", "create_database_objects_if_missing": True,
        "new_pipeline_spec": {"storage_catalog": "main", "storage_schema": "default"},
        "scheduling_policy": "SNAPSHOT"}
    log = s.output()
    assert f"created database instance {INSTANCE}" in log and "All resources are ready" in log


def test_a_second_create_does_not_duplicate(start, ws):
    ws.control(instance_polls=4)
    s = start()
    assert create(s.url).status_code == 202
    again = create(s.url)  # while the first one runs
    assert again.status_code == 202
    assert again.json()["message"].startswith("Resource creation is already in progress")
    wait_state(s.url, {"done"})
    r = create(s.url)  # everything exists now
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"].startswith("Resources already exist, nothing was created")
    assert all(x["existed"] and x["state"] == "ready" for x in body["steps"])
    assert body["synced_table"] == ws.synced[SYNCED]["_pipeline"]
    ops = ws.snapshot()["ops"]
    assert ops["instance.create"] == ops["catalog.create"] == ops["synced.create"] == 1


def test_existing_resources_are_adopted(start, ws):
    """An instance still STARTING and a catalog exist: only the synced table is created."""
    s = start()
    with ws.lock:
        ws.instances[INSTANCE] = {"name": INSTANCE, "capacity": "CU_1", "state": "STARTING",
                                  "_polls": 0}
        ws.catalogs[CATALOG] = {"name": CATALOG, "database_instance_name": INSTANCE}
    r = create(s.url)
    assert r.status_code == 202
    st = steps(r.json())
    assert st["database_instance"]["existed"] and st["database_instance"]["state"] == "provisioning"
    assert st["database_catalog"]["existed"] and st["database_catalog"]["state"] == "ready"
    assert "already exists" in r.json()["message"]
    assert wait_state(s.url, {"done", "failed"})[-1]["state"] == "done"
    ops = ws.snapshot()["ops"]
    assert "instance.create" not in ops and "catalog.create" not in ops
    assert ops["synced.create"] == 1


def test_concurrent_creates_share_the_lookups(start, ws):
    ws.control(slow=0.5)
    s = start()
    results = []

    def one():
        results.append(create(s.url))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [202] * 4
    ws.control(slow=0)
    wait_state(s.url, {"done"}, timeout=30)
    ops = ws.snapshot()["ops"]
    assert ops["instance.get"] >= 1 and ops["instance.create"] == 1


# ---- failures ----


def test_every_loop_reports_the_one_job(start, ws):
    """Two event loops: loop 0 runs the job; the other forwards create and status to it,
    so every connection (fresh ones land on either loop) sees the same job."""
    ws.control(slow=0.3)
    s = start(WORKERS="2")
    assert create(s.url).status_code == 202
    seen = set()
    for _ in range(12):
        with httpx.Client(base_url=s.url, timeout=10) as c:  # a new connection each time
            body = c.get(STATUS).json()
        seen.add(body["state"])
        assert body["state"] != "idle", body
    assert seen <= {"checking", "running", "done"}, seen
    ws.control(slow=0)
    wait_state(s.url, {"done"}, timeout=30)
    assert ws.snapshot()["ops"]["instance.create"] == 1


def test_a_failing_step_is_reported_with_status_and_error_code(start, ws):
    ws.control(fail_op={"op": "catalog.create", "status": 403, "code": "PERMISSION_DENIED",
                        "message": "User lacks CREATE CATALOG on the metastore"})
    s = start()
    assert create(s.url).status_code == 202
    final = wait_state(s.url, {"done", "failed"})[-1]
    assert final["state"] == "failed"
    st = steps(final)
    assert st["database_instance"]["state"] == "ready"
    err = st["database_catalog"]["error"]
    assert st["database_catalog"]["state"] == "failed"
    assert err["operation"] == "create" and err["http_status"] == 403
    assert err["error_code"] == "PERMISSION_DENIED"
    assert err["message"] == "User lacks CREATE CATALOG on the metastore"
    assert st["synced_table"]["state"] == "skipped"
    for part in ("HTTP 403", "PERMISSION_DENIED", CATALOG):
        assert part in final["message"]
    assert "synced.create" not in ws.snapshot()["ops"]
    # a new create after the failure retries what is missing, and only that
    assert create(s.url).status_code == 202
    assert wait_state(s.url, {"done", "failed"})[-1]["state"] == "done"
    assert ws.snapshot()["ops"]["instance.create"] == 1


def test_a_failed_lookup_is_a_502_naming_the_call(start, ws):
    ws.control(fail_op={"op": "instance.get", "status": 403, "code": "PERMISSION_DENIED",
                        "message": "No access to database instances"})
    s = start()
    r = create(s.url)
    assert r.status_code == 502, r.text
    body = r.json()
    assert "HTTP 403 PERMISSION_DENIED" in body["detail"] and INSTANCE in body["detail"]
    assert body["error"]["http_status"] == 403
    assert body["error"]["error_code"] == "PERMISSION_DENIED"
    assert not any(c.startswith("POST") for c in resource_calls(ws))
    assert httpx.get(s.url + STATUS, timeout=5).json()["state"] == "failed"


def test_a_create_without_a_clear_answer_is_verified(start, ws):
    """A 5xx from a create may hide a create that happened (the tutorial's "pipeline likely
    created anyway"): one look decides, instead of failing or creating twice."""
    ws.control(fail_op={"op": "synced.create", "status": 504, "code": "DEADLINE_EXCEEDED",
                        "message": "upstream timeout", "apply": True})
    s = start()
    create(s.url)
    final = wait_state(s.url, {"done", "failed"})[-1]
    assert final["state"] == "done", final
    assert ws.snapshot()["ops"]["synced.create"] == 1
    # the same failure without the create behind it: reported with the create's own error
    httpx.delete(s.url + DELETE, params={"confirm_deletion": "true"}, timeout=15)
    ws.control(fail_op={"op": "synced.create", "status": 500, "code": "INTERNAL_ERROR",
                        "message": "boom"})
    create(s.url)
    final = wait_state(s.url, {"done", "failed"})[-1]
    assert final["state"] == "failed"
    err = steps(final)["synced_table"]["error"]
    assert err["operation"] == "create" and err["http_status"] == 500
    assert err["error_code"] == "INTERNAL_ERROR"


def test_workspace_down_is_a_503(start, ws):
    s = start()
    ws.control(down=True)
    r = create(s.url)
    assert r.status_code == 503 and r.headers.get("retry-after")
    assert "HTTP 503 TEMPORARILY_UNAVAILABLE" in r.json()["detail"]
    ws.stop()  # nothing listens any more: no answer at all
    r = create(s.url)
    assert r.status_code == 503
    assert r.json()["error"]["http_status"] is None
    assert "Couldn't connect" in r.json()["detail"] or "refused" in r.json()["detail"]


def test_synced_table_failure_is_reported(start, ws):
    ws.control(synced_fail=True)
    s = start()
    create(s.url)
    final = wait_state(s.url, {"done", "failed"})[-1]
    assert final["state"] == "failed"
    st = steps(final)["synced_table"]
    assert st["state"] == "failed" and st["remote_state"] == "SYNCED_TABLE_OFFLINE_FAILED"
    assert st["pipeline_id"] == ws.synced[SYNCED]["_pipeline"]
    assert "permission denied" in st["error"]["message"]


def test_not_configured_names_the_settings(start, ws):
    s = start(LAKEBASE_CATALOG_NAME=None, SYNCED_TABLE_STORAGE_SCHEMA=None)
    r = create(s.url)
    assert r.status_code == 503
    assert "LAKEBASE_CATALOG_NAME" in r.json()["detail"]
    assert "SYNCED_TABLE_STORAGE_SCHEMA" in r.json()["detail"]
    assert "LAKEBASE_CATALOG_NAME" in httpx.get(s.url + STATUS, timeout=5).json()["message"]
    assert ws.snapshot()["resource_calls"] == 0


def test_oauth_m2m_workspace_auth(start, ws):
    s = start(DATABRICKS_TOKEN=None, DATABRICKS_CLIENT_ID=CLIENT_ID,
              DATABRICKS_CLIENT_SECRET=CLIENT_SECRET)
    assert create(s.url).status_code == 202
    assert wait_state(s.url, {"done", "failed"})[-1]["state"] == "done"
    # the resource calls shared one OAuth token (the pool's provider has its own)
    assert ws.snapshot()["oidc_ok"] <= 2


# ---- deletion ----


def test_delete_goes_synced_table_catalog_instance(start, ws):
    s = start()
    create(s.url)
    wait_state(s.url, {"done"})
    before = len(resource_calls(ws))
    r = httpx.delete(s.url + DELETE, params={"confirm_deletion": "true"}, timeout=15)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deleted_resources"] == [f"Synced table: {SYNCED}", f"Catalog: {CATALOG}",
                                         f"Database instance: {INSTANCE}"]
    assert body["failed_deletions"] == [] and body["not_found_resources"] == []
    assert body["message"] == "All 3 resources deleted successfully."
    assert [x["result"] for x in body["steps"]] == ["deleted"] * 3
    calls = resource_calls(ws)[before:]
    assert calls == [f"DELETE /api/2.0/database/synced_tables/{SYNCED}",
                     f"DELETE /api/2.0/database/catalogs/{CATALOG}",
                     f"DELETE /api/2.0/database/instances/{INSTANCE}?purge=true"]
    assert not ws.instances and not ws.catalogs and not ws.synced
    # again: nothing is left, which is not a failure
    r = httpx.delete(s.url + DELETE, params={"confirm_deletion": "true"}, timeout=15)
    assert r.status_code == 200
    assert r.json()["message"] == "Nothing to delete: none of the 3 resources exist."
    assert len(r.json()["not_found_resources"]) == 3


def test_delete_reports_each_failure(start, ws):
    s = start()
    create(s.url)
    wait_state(s.url, {"done"})
    ws.control(fail_op={"op": "catalog.delete", "status": 500, "code": "INTERNAL_ERROR",
                        "message": "boom"})
    r = httpx.delete(s.url + DELETE, params={"confirm_deletion": "true"}, timeout=15)
    assert r.status_code == 502
    body = r.json()
    assert body["deleted_resources"] == [f"Synced table: {SYNCED}",
                                         f"Database instance: {INSTANCE}"]
    assert len(body["failed_deletions"]) == 1
    failed = body["failed_deletions"][0]
    assert failed.startswith(f"Catalog: {CATALOG} - ") and "HTTP 500 INTERNAL_ERROR: boom" in failed
    assert body["message"] == "Deletion completed with errors. 2 resources deleted, 1 failed."
    cat = [x for x in body["steps"] if x["resource"] == "database_catalog"][0]
    assert cat["result"] == "failed" and cat["error"]["http_status"] == 500
    assert ws.snapshot()["ops"]["instance.delete"] == 1  # attempted after the failure


def test_delete_cancels_a_running_creation(start, ws):
    ws.control(instance_polls=1000)
    s = start()
    assert create(s.url).status_code == 202
    time.sleep(1)
    r = httpx.delete(s.url + DELETE, params={"confirm_deletion": "true"}, timeout=15)
    assert r.status_code == 200, r.text
    assert r.json()["deleted_resources"] == [f"Database instance: {INSTANCE}"]
    assert len(r.json()["not_found_resources"]) == 2
    status = httpx.get(s.url + STATUS, timeout=5).json()
    assert status["state"] == "cancelled"
    n = len(resource_calls(ws))
    time.sleep(2)
    assert len(resource_calls(ws)) == n  # no more polls

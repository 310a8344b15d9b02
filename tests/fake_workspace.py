"""A fake Databricks workspace for the credential and resource tests: real HTTP on loopback.

It implements what lakeapi's credential providers call:

  POST /oidc/v1/token                  OAuth M2M (HTTP Basic client_id:client_secret,
                                       form grant_type=client_credentials&scope=all-apis)
  POST /api/2.0/postgres/credentials   Lakebase Autoscaling {"endpoint"} -> {"token","expire_time"}
  POST /api/2.0/database/credentials   Lakebase Provisioned {"request_id","instance_names"}
                                       -> {"token","expiration_time"}

the token issuer's keys for the access-control tests (set `jwks` to rotate them):

  GET  /oidc/.well-known/openid-configuration   {"issuer": <url>/oidc, "jwks_uri"}
  GET  /oidc/v1/keys                            the JWKS (`jwks`), counted as "jwks"

a SQL warehouse when add_warehouse() was called (tests/fake_warehouse.py: the
Statement Execution API over sqlite3), and what the resource lifecycle routes call,
keeping state in memory:

  POST   /api/2.0/database/instances            create (state STARTING; AVAILABLE after
  GET    /api/2.0/database/instances/{name}     `instance_polls` GETs)
  DELETE /api/2.0/database/instances/{name}?purge=true
  POST   /api/2.0/database/catalogs             create (the instance must be AVAILABLE)
  GET    /api/2.0/database/catalogs/{name}
  DELETE /api/2.0/database/catalogs/{name}
  POST   /api/2.0/database/synced_tables        create (the catalog must exist); the
  GET    /api/2.0/database/synced_tables/{name} pipeline_id appears after `pipeline_after`
  DELETE /api/2.0/database/synced_tables/{name} GETs, ONLINE after `synced_polls` GETs

with Databricks-style error bodies ({"error_code","message"}; OAuth errors as
{"error","error_description"}). Every database token it mints is set as the
Postgres role's password (ALTER ROLE ... PASSWORD via psql, before the answer
is sent), so only the current token can log in: rotation is proven against a
real Postgres with scram authentication.

Control (for tests; also over HTTP so a shell can drive a standalone run):
  GET  /control    counters and settings as JSON
  POST /control    JSON with any of: fail_next (int), fail_status, fail_code,
                   fail_message, slow (seconds before answering a mint), ttl
                   (database token lifetime, s), oauth_ttl, down (bool: every
                   API call answers 503), rotate (true: set a new password no
                   client knows), revoke_oauth (true: every OAuth token issued so
                   far is rejected from now on), reset (true: zero the counters)
                   and for the resources: instance_polls, synced_polls, pipeline_after
                   (ints), synced_fail (bool: the synced table ends OFFLINE_FAILED),
                   fail_op ({"op": "catalog.create", "status", "code", "message",
                   "times" (default 1; -1: always), "apply" (true: the operation happens,
                   then the error is answered - a lost reply)}), clear_failures (true)

Standalone: python3 tests/fake_workspace.py --port 8765 --role lakeapi_app
  [--endpoint NAME] [--instance NAME] [--pat T] [--client-id I --client-secret S]
  (psql connects with the PG* variables of the environment).
"""
import argparse
import base64
import collections
import datetime
import json
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
        timespec="microseconds").replace("+00:00", "Z")


class FakeWorkspace:
    def __init__(self, pg_env, role="lakeapi_app", endpoint="projects/p/branches/b/endpoints/e",
                 instance="lakeapi-test-instance", pat=None, client_id=None, client_secret=None,
                 port=0, ttl=3600.0, oauth_ttl=3600.0):
        self.pg_env = dict(pg_env)
        self.role = role
        self.endpoint = endpoint
        self.instance = instance
        self.pat = pat
        self.client_id = client_id
        self.client_secret = client_secret
        self.port = port
        self.ttl = ttl
        self.oauth_ttl = oauth_ttl
        self.lock = threading.Lock()
        self.mint_lock = threading.Lock()  # one ALTER ROLE + answer at a time
        self.oauth_tokens = {}  # token -> expiry
        self.server = None
        self.thread = None
        self.reset()
        self.fail_next = 0
        self.fail_status = 403
        self.fail_code = "PERMISSION_DENIED"
        self.fail_message = "User does not have permission to generate credentials"
        self.slow = 0.0
        self.down = False
        # resources: provisioning delays (in GETs) and injected failures by operation
        self.instance_polls = 2
        self.synced_polls = 2
        self.pipeline_after = 1
        self.synced_fail = False
        self.fail_ops = {}  # "catalog.create" -> {"status","code","message","times"}
        self.jwks = {"keys": []}  # served at /oidc/v1/keys
        self.warehouse = None  # add_warehouse(): a SQL warehouse (tests/fake_warehouse.py)

    def add_warehouse(self, **kw):
        """Serves a SQL warehouse (Statement Execution API) from this workspace; returns it."""
        from fake_warehouse import FakeWarehouse
        self.warehouse = FakeWarehouse(self, **kw)
        return self.warehouse

    def reset(self):
        with self.lock:
            self.counts = {"oidc": 0, "oidc_ok": 0, "credentials": 0, "mints": 0, "failures": 0,
                           "unauthorized": 0, "in_flight": 0, "max_in_flight": 0,
                           "resource_calls": 0, "jwks": 0}
            self.tokens = []  # every database token issued, in order
            self.requests = []  # (path, parsed body) of credential calls
            # resources: the objects, every call ("GET /api/2.0/...?query") in order,
            # the bodies of creates by operation, and calls per operation
            self.instances = {}
            self.catalogs = {}
            self.synced = {}
            self.calls = []
            self.bodies = {}
            self.ops = collections.Counter()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # ---- lifecycle ----

    def start(self):
        fake = self

        class Handler(WorkspaceHandler):
            workspace = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # ---- the database side ----

    def set_password(self, password):
        sql = f"ALTER ROLE {self.role} PASSWORD '{password}'"
        subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       env=dict(os.environ, **self.pg_env), check=True, capture_output=True)

    def rotate(self):
        """Sets a password nobody knows: logins with earlier tokens now fail."""
        self.set_password("rotated-" + secrets.token_hex(16))

    # ---- control ----

    def control(self, **kw):
        with self.lock:
            for k, v in kw.items():
                if k in ("fail_next", "fail_status"):
                    setattr(self, k, int(v))
                elif k in ("fail_code", "fail_message"):
                    setattr(self, k, str(v))
                elif k in ("slow", "ttl", "oauth_ttl"):
                    setattr(self, k, float(v))
                elif k == "down":
                    self.down = bool(v)
                elif k == "revoke_oauth":
                    if v:
                        self.oauth_tokens.clear()
                elif k in ("instance_polls", "synced_polls", "pipeline_after"):
                    setattr(self, k, int(v))
                elif k == "synced_fail":
                    self.synced_fail = bool(v)
                elif k == "fail_op":
                    self.fail_ops[v["op"]] = {"status": int(v.get("status", 500)),
                                              "code": v.get("code", "INTERNAL_ERROR"),
                                              "message": v.get("message", "injected failure"),
                                              "times": int(v.get("times", 1)),
                                              "apply": bool(v.get("apply", False))}
                elif k == "clear_failures":
                    if v:
                        self.fail_ops.clear()
                elif k == "warehouse" and self.warehouse:
                    self.warehouse.control(**v)
                elif k not in ("rotate", "reset"):
                    raise ValueError(f"unknown control {k}")
        if kw.get("rotate"):
            self.rotate()
        if kw.get("reset"):
            self.reset()

    def snapshot(self):
        with self.lock:
            return dict(self.counts, tokens=list(self.tokens), ttl=self.ttl, slow=self.slow,
                        down=self.down, fail_next=self.fail_next, calls=list(self.calls),
                        ops=dict(self.ops), instances=sorted(self.instances),
                        catalogs=sorted(self.catalogs), synced_tables=sorted(self.synced),
                        warehouse=self.warehouse.snapshot() if self.warehouse else None)

    # ---- request handling (called from handler threads) ----

    def take_failure(self):
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.counts["failures"] += 1
                return True
            return False

    def bearer_ok(self, auth):
        if not auth or not auth.startswith("Bearer "):
            return False
        t = auth[7:]
        if self.pat and secrets.compare_digest(t, self.pat):
            return True
        with self.lock:
            exp = self.oauth_tokens.get(t)
        return exp is not None and exp > time.time()

    def issue_oauth(self):
        t = "fake-oauth-" + secrets.token_hex(20)
        with self.lock:
            self.oauth_tokens[t] = time.time() + self.oauth_ttl
            self.counts["oidc_ok"] += 1
        return t

    def mint(self):
        """A new database token, set as the role's password before it is returned."""
        with self.mint_lock:
            token = "fake-lakebase-" + secrets.token_hex(24)
            self.set_password(token)
            with self.lock:
                self.tokens.append(token)
                self.counts["mints"] += 1
                ttl = self.ttl
            return token, time.time() + ttl


class WorkspaceHandler(BaseHTTPRequestHandler):
    workspace = None  # set by FakeWorkspace.start
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.send_json(status, {"error_code": code, "message": message})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        ws = self.workspace
        wh = ws.warehouse
        if self.path == "/control":
            self.send_json(200, self.workspace.snapshot())
        elif wh and wh.handle(self, "GET", self.path, b""):
            pass
        elif self.path == "/oidc/.well-known/openid-configuration":
            self.send_json(200, {"issuer": ws.url + "/oidc", "jwks_uri": ws.url + "/oidc/v1/keys"})
        elif self.path == "/oidc/v1/keys":
            with ws.lock:
                ws.counts["jwks"] += 1
                keys = json.loads(json.dumps(ws.jwks))
            self.send_json(200, keys)
        elif self.path.startswith(RESOURCE_PREFIX):
            self.resource("GET", b"")
        else:
            self.error(404, "ENDPOINT_NOT_FOUND", f"No API found for 'GET {self.path}'")

    def do_DELETE(self):
        if self.path.startswith(RESOURCE_PREFIX):
            self.resource("DELETE", self.read_body())
        else:
            self.error(404, "ENDPOINT_NOT_FOUND", f"No API found for 'DELETE {self.path}'")

    def do_POST(self):
        ws = self.workspace
        body = self.read_body()
        if self.path == "/control":
            try:
                ws.control(**json.loads(body or b"{}"))
            except (ValueError, TypeError) as e:
                return self.error(400, "INVALID_PARAMETER_VALUE", str(e))
            return self.send_json(200, ws.snapshot())
        if ws.warehouse and ws.warehouse.handle(self, "POST", self.path, body):
            return None
        if ws.down:
            return self.error(503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily down")
        if self.path == "/oidc/v1/token":
            return self.oidc(body)
        if self.path.startswith(RESOURCE_PREFIX) and self.path != "/api/2.0/database/credentials":
            return self.resource("POST", body)
        if self.path in ("/api/2.0/postgres/credentials", "/api/2.0/database/credentials"):
            with ws.lock:
                ws.counts["credentials"] += 1
                ws.counts["in_flight"] += 1
                ws.counts["max_in_flight"] = max(ws.counts["max_in_flight"],
                                                 ws.counts["in_flight"])
            try:
                return self.credentials(body)
            finally:
                with ws.lock:
                    ws.counts["in_flight"] -= 1
        self.error(404, "ENDPOINT_NOT_FOUND", f"No API found for 'POST {self.path}'")

    def oidc(self, body):
        ws = self.workspace
        with ws.lock:
            ws.counts["oidc"] += 1
        form = urllib.parse.parse_qs(body.decode())
        auth = self.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            user = password = None
        if (not auth.startswith("Basic ") or ws.client_id is None or user != ws.client_id
                or not secrets.compare_digest(password or "", ws.client_secret or "")):
            return self.send_json(401, {"error": "invalid_client",
                                        "error_description": "Client authentication failed"})
        if form.get("grant_type") != ["client_credentials"] or form.get("scope") != ["all-apis"]:
            return self.send_json(400, {"error": "invalid_request",
                                        "error_description": "unsupported grant or scope"})
        self.send_json(200, {"access_token": ws.issue_oauth(), "token_type": "Bearer",
                             "expires_in": int(ws.oauth_ttl), "scope": "all-apis"})

    def credentials(self, body):
        ws = self.workspace
        if not ws.bearer_ok(self.headers.get("Authorization")):
            with ws.lock:
                ws.counts["unauthorized"] += 1
            return self.error(401, "UNAUTHENTICATED", "Invalid access token.")
        try:
            req = json.loads(body)
        except ValueError:
            return self.error(400, "MALFORMED_REQUEST", "Could not parse request body as JSON")
        with ws.lock:
            ws.requests.append((self.path, req))
        if ws.slow:
            time.sleep(ws.slow)
        if ws.take_failure():
            return self.error(ws.fail_status, ws.fail_code, ws.fail_message)
        if self.path == "/api/2.0/postgres/credentials":
            if req.get("endpoint") != ws.endpoint:
                return self.error(404, "NOT_FOUND",
                                  f"Endpoint '{req.get('endpoint')}' does not exist")
            token, exp = ws.mint()
            return self.send_json(200, {"token": token, "expire_time": rfc3339(exp)})
        if not UUID4.match(str(req.get("request_id", ""))):
            return self.error(400, "INVALID_PARAMETER_VALUE", "request_id must be a UUID")
        if req.get("instance_names") != [ws.instance]:
            return self.error(404, "RESOURCE_DOES_NOT_EXIST",
                              f"Database instance {req.get('instance_names')} not found")
        token, exp = ws.mint()
        self.send_json(200, {"token": token, "expiration_time": rfc3339(exp)})


    # ---- resources ----

    def resource(self, method, body):
        ws = self.workspace
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        rest = url.path[len(RESOURCE_PREFIX):].split("/")
        kind = RESOURCE_KINDS.get(rest[0])
        name = urllib.parse.unquote(rest[1]) if len(rest) == 2 else None
        with ws.lock:
            ws.calls.append(f"{method} {self.path}")
            ws.counts["resource_calls"] += 1
        if ws.down:
            return self.error(503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily down")
        if not ws.bearer_ok(self.headers.get("Authorization")):
            with ws.lock:
                ws.counts["unauthorized"] += 1
            return self.error(401, "UNAUTHENTICATED", "Invalid access token.")
        if kind is None or len(rest) > 2 or (name is None) != (method == "POST"):
            return self.error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {url.path}'")
        op = f"{kind}.{RESOURCE_VERBS[method]}"
        with ws.lock:
            ws.ops[op] += 1
            failure = ws.fail_ops.get(op)
            if failure and failure["times"] != 0:
                failure["times"] -= 1 if failure["times"] > 0 else 0
            else:
                failure = None
        if ws.slow:
            time.sleep(ws.slow)
        if failure and not failure["apply"]:
            return self.error(failure["status"], failure["code"], failure["message"])
        if method == "POST":
            try:
                req = json.loads(body)
            except ValueError:
                return self.error(400, "MALFORMED_REQUEST", "Could not parse request body as JSON")
            with ws.lock:
                ws.bodies[op] = req
                status, obj = getattr(self, f"create_{kind}")(req)
        else:
            with ws.lock:
                table = {"instance": ws.instances, "catalog": ws.catalogs,
                         "synced": ws.synced}[kind]
                if name not in table:
                    status, obj = 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                        "message": f"{RESOURCE_LABELS[kind]} '{name}' does not "
                                                   "exist."}
                elif method == "DELETE":
                    if kind == "instance" and query.get("purge") != ["true"]:
                        status, obj = 400, {"error_code": "INVALID_PARAMETER_VALUE",
                                            "message": "purge must be true"}
                    else:
                        del table[name]
                        status, obj = 200, {}
                else:
                    status, obj = 200, self.advance(kind, table[name])
        if failure:  # applied, but the caller is told it failed
            return self.error(failure["status"], failure["code"], failure["message"])
        self.send_json(status, obj)

    def create_instance(self, req):
        ws = self.workspace
        name = req.get("name")
        if not name or req.get("capacity") not in ("CU_1", "CU_2", "CU_4", "CU_8"):
            return 400, {"error_code": "INVALID_PARAMETER_VALUE",
                         "message": "name and a valid capacity are required"}
        if name in ws.instances:
            return 409, {"error_code": "RESOURCE_ALREADY_EXISTS",
                         "message": f"Database instance '{name}' already exists."}
        uid = secrets.token_hex(8)
        ws.instances[name] = {"name": name, "capacity": req["capacity"],
                              "node_count": req.get("node_count", 1), "state": "STARTING",
                              "uid": uid, "read_write_dns": f"instance-{uid}.database.example",
                              "_polls": 0}
        return 200, public(ws.instances[name])

    def create_catalog(self, req):
        ws = self.workspace
        name, inst = req.get("name"), ws.instances.get(req.get("database_instance_name"))
        if inst is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                         "message": f"Database instance '{req.get('database_instance_name')}' "
                                    "does not exist."}
        if inst["state"] != "AVAILABLE":
            return 400, {"error_code": "INVALID_STATE",
                         "message": f"Database instance '{inst['name']}' is {inst['state']}"}
        if name in ws.catalogs:
            return 409, {"error_code": "RESOURCE_ALREADY_EXISTS",
                         "message": f"Catalog '{name}' already exists."}
        ws.catalogs[name] = {"name": name, "database_instance_name": inst["name"],
                             "database_name": req.get("database_name"),
                             "uid": secrets.token_hex(8)}
        return 200, ws.catalogs[name]

    def create_synced(self, req):
        ws = self.workspace
        name = req.get("name", "")
        spec = req.get("spec") or {}
        if name.split(".")[0] not in ws.catalogs:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                         "message": f"Catalog '{name.split('.')[0]}' does not exist."}
        if (spec.get("scheduling_policy") not in ("SNAPSHOT", "TRIGGERED", "CONTINUOUS")
                or not spec.get("primary_key_columns")
                or not (spec.get("new_pipeline_spec") or {}).get("storage_catalog")):
            return 400, {"error_code": "INVALID_PARAMETER_VALUE",
                         "message": "spec needs primary_key_columns, scheduling_policy and "
                                    "new_pipeline_spec.storage_catalog"}
        if name in ws.synced:
            return 409, {"error_code": "RESOURCE_ALREADY_EXISTS",
                         "message": f"Table '{name}' already exists."}
        ws.synced[name] = {"name": name,
                           "database_instance_name": req.get("database_instance_name"),
                           "logical_database_name": req.get("logical_database_name"),
                           "spec": spec, "_polls": 0, "_pipeline": secrets.token_hex(16),
                           "data_synchronization_status": {
                               "detailed_state": "SYNCED_TABLE_PROVISIONING_PIPELINE_RESOURCES",
                               "message": "Provisioning the pipeline"}}
        if ws.pipeline_after == 0:
            ws.synced[name]["data_synchronization_status"]["pipeline_id"] = \
                ws.synced[name]["_pipeline"]
        return 200, public(ws.synced[name])

    def advance(self, kind, obj):
        """One GET: provisioning moves on by polls (called with the lock held)."""
        ws = self.workspace
        if kind == "instance":
            obj["_polls"] += 1
            if obj["state"] == "STARTING" and obj["_polls"] >= ws.instance_polls:
                obj["state"] = "AVAILABLE"
        elif kind == "synced":
            obj["_polls"] += 1
            dss = obj["data_synchronization_status"]
            if obj["_polls"] >= ws.pipeline_after:
                dss["pipeline_id"] = obj["_pipeline"]
                dss["detailed_state"] = "SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT"
                dss["message"] = "Loading the initial snapshot"
            if obj["_polls"] >= max(ws.synced_polls, ws.pipeline_after):
                if ws.synced_fail:
                    dss["detailed_state"] = "SYNCED_TABLE_OFFLINE_FAILED"
                    dss["message"] = "Table samples.tpch.orders: permission denied"
                else:
                    dss["detailed_state"] = "SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE"
                    dss["message"] = "The table is online"
        return public(obj)


RESOURCE_PREFIX = "/api/2.0/database/"
RESOURCE_KINDS = {"instances": "instance", "catalogs": "catalog", "synced_tables": "synced"}
RESOURCE_VERBS = {"POST": "create", "GET": "get", "DELETE": "delete"}
RESOURCE_LABELS = {"instance": "Database instance", "catalog": "Catalog", "synced": "Table"}


def public(obj):
    """An object as the API shows it: without the fake's own _fields."""
    return json.loads(json.dumps({k: v for k, v in obj.items() if not k.startswith("_")}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--role", default="lakeapi_app")
    ap.add_argument("--endpoint", default="projects/p/branches/b/endpoints/e")
    ap.add_argument("--instance", default="lakeapi-test-instance")
    ap.add_argument("--pat")
    ap.add_argument("--client-id")
    ap.add_argument("--client-secret")
    ap.add_argument("--ttl", type=float, default=3600)
    a = ap.parse_args()
    ws = FakeWorkspace({}, role=a.role, endpoint=a.endpoint, instance=a.instance, pat=a.pat,
                       client_id=a.client_id, client_secret=a.client_secret, port=a.port,
                       ttl=a.ttl).start()
    print(f"fake workspace on {ws.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        ws.stop()


if __name__ == "__main__":
    main()

"""Black-box test harness: a real PostgreSQL cluster, the real lakeapi binary,
real HTTP. Nothing is mocked.

Session fixtures start a throwaway cluster (tests/pg_cluster.sh, as the
postgres user when run as root), load the demo data at SF 0.01 with
`lakeapi load all`, and start `lakeapi serve` on a free loopback port.
`lakeapi_server(**env)` starts extra servers with other settings.
`first_422(r, typ, loc)` checks a validation error the way every suite does;
`checked_servers` backs fixtures whose servers must never log a secret.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("LAKEAPI_BIN", os.path.join(ROOT, "build", "lakeapi"))
SF = "0.01"
USERS = "2000"

# tests/ also holds what suites share beyond this directory (fake_workspace.py).
sys.path.insert(0, os.path.join(ROOT, "tests"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_422(r, typ, loc):
    """Checks that r is a 422 whose first item has type typ at loc; returns that item.

    loc None stands for ["body", <character position>], where JSON decoding failed.
    """
    assert r.status_code == 422, r.text
    item = r.json()["detail"][0]
    assert item["type"] == typ
    if loc is None:
        assert item["loc"][0] == "body" and isinstance(item["loc"][1], int), item
    else:
        assert item["loc"] == loc
    return item


def clean_env(extra):
    """The process environment without anything that would point lakeapi elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "DATABASE", "DB_", "DATABRICKS", "LAKEBASE", "CORS"))
           and k not in ("PORT", "HOST", "ORDERS_TABLE", "USERS_TABLE", "ENDPOINT_NAME")}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def pg():
    base = tempfile.mkdtemp(prefix="lakeapi-test-pg-")
    os.chmod(base, 0o755)
    script = os.path.join(ROOT, "tests", "pg_cluster.sh")
    out = subprocess.run(["sh", script, "start", base], check=True, capture_output=True,
                         text=True, env=dict(os.environ, PG_CLUSTER_OPTS="-c fsync=off"))
    env = dict(kv.split("=", 1) for kv in out.stdout.split())
    yield env
    subprocess.run(["sh", script, "destroy", base], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def psql(pg, sql):
    """Runs SQL through psql against the test cluster; returns stdout."""
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         env=dict(os.environ, **pg), capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def loaded(pg):
    subprocess.run([BIN, "load", "all", "--sf", SF, "--rows", USERS], env=clean_env(pg),
                   check=True, capture_output=True, timeout=300)
    return pg


# Every lakeapi started by any suite: their logs are scanned for secrets (below).
ALL_SERVERS = []
SECRET_SETTINGS = ("PGPASSWORD", "DATABASE_PASSWORD", "DATABRICKS_TOKEN",
                   "DATABRICKS_CLIENT_SECRET")
# Shapes of secrets no log line may ever contain, whoever minted them: the fake
# workspace's database and OAuth tokens and rotated passwords, Databricks PATs, JWTs,
# a password in a URL or conninfo, an Authorization header's credentials.
SECRET_SHAPES = [re.compile(p) for p in (
    rb"fake-lakebase-[0-9a-f]{16}", rb"fake-oauth-[0-9a-f]{16}", rb"rotated-[0-9a-f]{16}",
    rb"dapi[0-9a-f]{16}", rb"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.",
    rb"://[^/\s:@\"]+:(?!\*\*\*\*)[^@\s\"]+@", rb"password=(?!\*\*\*\*)[^\s\"&]+",
    rb"(?i)authorization\"?\s*[:=]\s*\"?(bearer|basic)\s+[A-Za-z0-9]")]


def secrets_in(output, secrets):
    """The secrets (given values, or SECRET_SHAPES) that appear in output (bytes)."""
    found = [s for s in secrets if s and s.encode() in output]
    found += [m.group(0)[:24] for p in SECRET_SHAPES for m in [p.search(output)] if m]
    return found


class Server:
    def __init__(self, env, args=()):
        ALL_SERVERS.append(self)
        self.secrets = [v for k, v in env.items() if k in SECRET_SETTINGS and len(v) >= 4]
        url = env.get("DATABASE_URL", "")
        m = re.match(r"[a-z+]+://[^:/@]+:([^@]+)@", url)
        if m and len(m.group(1)) >= 4:
            self.secrets.append(m.group(1))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([BIN, "serve", "--port", str(self.port), *args],
                                     env=clean_env(env), stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=tempfile.gettempdir())
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lakeapi exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("lakeapi did not start listening:\n" + self.output())

    def output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def checked_servers(make_env, secrets):
    """A fixture body (`yield from`): yields run(...), which starts lakeapi with the
    settings make_env(...) returns (a value None, or "None", leaves a setting out).
    At teardown every server is stopped, none of secrets() may appear in its output,
    and it must have exited 0.
    """
    servers = []

    def run(*args, **kwargs):
        env = {k: str(v) for k, v in make_env(*args, **kwargs).items()}
        s = Server({k: v for k, v in env.items() if v != "None"})
        servers.append(s)
        return s

    yield run
    for s in servers:
        rc = s.stop()
        out = s.output()
        for secret in secrets():
            assert secret not in out, "a secret appeared in the server output"
        assert rc == 0, f"lakeapi exited with {rc}:\n{out[-3000:]}"


@pytest.fixture(autouse=True)
def no_secret_in_any_log():
    """Every test: the output of each lakeapi it started (stopped by then) holds no
    secret - neither the configured ones nor anything shaped like one."""
    n = len(ALL_SERVERS)
    yield
    for s in ALL_SERVERS[n:]:
        s.log.seek(0)
        leaked = secrets_in(s.log.read(), s.secrets)
        assert not leaked, f"secret(s) in the lakeapi log: {leaked}"


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_session_logs():
    yield
    for s in ALL_SERVERS:
        s.log.seek(0)
        leaked = secrets_in(s.log.read(), s.secrets)
        assert not leaked, f"secret(s) in the lakeapi log: {leaked}"


@pytest.fixture(scope="session")
def server(loaded):
    s = Server(loaded)
    yield s
    rc = s.stop()
    assert rc == 0, f"lakeapi exited with {rc}:\n{s.output()[-4000:]}"


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


@pytest.fixture
def lakeapi_server(loaded):
    """Starts servers with extra settings; stops them at the end of the test."""
    started = []

    def start(args=(), **env):
        s = Server(dict(loaded, **{k: str(v) for k, v in env.items()}), args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()

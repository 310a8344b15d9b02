#!/usr/bin/python3
"""The local proof of scaling out (issue 12), bounded in time, loopback only.

Starts, on this machine: a primary PostgreSQL and a streaming replica made with
`pg_basebackup -R` (tests/pg_cluster.sh clusters, unix sockets), two lakeapi
instances with PGHOST_READ pointing at the replica, and nginx in front of
them (deploy/nginx/lakeapi.conf: keep-alive upstream, no buffering, retry on the
other instance). Then checks:

  1. traffic over nginx reaches both instances, and reads reach the replica;
  2. the replica is stopped and restarted under load: no request fails, the
     replica is taken out and comes back by itself;
  3. one instance is killed (SIGKILL) under load: nginx routes around it, no
     request fails;
  4. with the replica delayed (recovery_min_apply_delay), 1,000 write-then-read
     pairs over nginx that echo X-Lakeapi-Min-LSN all read their write, as do
     pairs on one connection that do not echo it (READ_AFTER_WRITE_MS); and the
     delay is real (reads that do neither do miss writes).

  5. HAProxy with deploy/haproxy/lakeapi.cfg spreads over both instances and routes
     around one that is killed under load.

nginx and HAProxy run the deploy/ configs (only the ports are ours), and the systemd
units are checked with systemd-analyze verify. Everything is torn down at the end, also on failure. Exit status 0 = passed.
Settings: LAKEAPI_BIN (build/lakeapi), SCALE_WORKERS (WORKERS of each instance,
2), SCALE_PAIRS (1000), SCALE_KEEP=1 keeps the directory for a look.
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("LAKEAPI_BIN", os.path.join(ROOT, "build", "lakeapi"))
PG_CLUSTER = os.path.join(ROOT, "tests", "pg_cluster.sh")
WORKERS = os.environ.get("SCALE_WORKERS", "2")
PAIRS = int(os.environ.get("SCALE_PAIRS", "1000"))
DELAY = "1500ms"  # recovery_min_apply_delay while read-your-writes is checked
T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(argv):
    """argv as the postgres user when we are root (PostgreSQL refuses root)."""
    if os.getuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--"] + argv


def pg_bindir():
    best = None
    for v in os.listdir("/usr/lib/postgresql"):
        if os.path.exists(f"/usr/lib/postgresql/{v}/bin/pg_ctl"):
            if best is None or int(v) > int(best):
                best = v
    return f"/usr/lib/postgresql/{best}/bin"


def cluster(cmd, d, port=None, opts=""):
    env = dict(os.environ, PG_CLUSTER_OPTS=opts)
    if port:
        env["PG_CLUSTER_PORT"] = str(port)
    out = subprocess.run(["sh", PG_CLUSTER, cmd, d], env=env, capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"pg_cluster.sh {cmd} {d}: {out.stderr[-2000:]}")
    return dict(kv.split("=", 1) for kv in out.stdout.split()) if cmd == "start" else None


def psql(env, sql):
    out = subprocess.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         env=dict(os.environ, **env), capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql: {out.stderr}")
    return out.stdout.strip()


def clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "DATABASE", "DB_", "DATABRICKS", "LAKEBASE", "CORS",
                                "READ_AFTER", "REPLICA_", "WORKERS"))
           and k not in ("PORT", "HOST", "ORDERS_TABLE", "USERS_TABLE", "ENDPOINT_NAME")}
    env.update(extra)
    return env


class Instance:
    def __init__(self, base, name, env):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logpath = os.path.join(base, f"{name}.log")
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen([BIN, "serve", "--port", str(self.port)],
                                     env=clean_env(env), stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=base)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.output()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready:\n{self.output()}")

    def output(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def metrics(self):
        text = httpx.get(self.url + "/metrics", timeout=5).text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode


NGINX_MAIN = """
daemon off;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {base}/nginx-body;
    proxy_temp_path {base}/nginx-proxy;
    fastcgi_temp_path {base}/nginx-fastcgi;
    uwsgi_temp_path {base}/nginx-uwsgi;
    scgi_temp_path {base}/nginx-scgi;
{site}
}}
"""


def deploy_file(*parts):
    with open(os.path.join(ROOT, "deploy", *parts)) as f:
        return f.read()


def with_servers(text, instances, line):
    """The deploy config with its example server lines replaced by ours."""
    lines, done = [], False
    for ln in text.splitlines():
        if re.match(r"\s*server\s+(\S+\s+)?127\.0\.0\.1:800\d", ln):
            if not done:
                lines += [line(i, inst) for i, inst in enumerate(instances)]
                done = True
            continue
        lines.append(ln)
    assert done, "no example server lines in the deploy config"
    return "\n".join(lines) + "\n"


class Nginx:
    """nginx with deploy/nginx/lakeapi.conf (our ports; an X-Upstream header for the test)."""

    def __init__(self, base, instances):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        site = with_servers(deploy_file("nginx", "lakeapi.conf"), instances,
                            lambda i, inst: f"    server 127.0.0.1:{inst.port} max_fails=1 "
                                            f"fail_timeout=2s;")
        site = site.replace("    listen [::]:80;\n", "")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        site = site.replace("proxy_pass http://lakeapi;",
                            "proxy_pass http://lakeapi;\n        add_header X-Upstream $upstream_addr always;")
        conf = os.path.join(base, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_MAIN.format(base=base, site=site))
        self.logf = open(os.path.join(base, "nginx.out"), "wb")
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", base], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        wait_http(self.url + "/livez", "nginx", os.path.join(base, "nginx-error.log"))

    def stop(self):
        stop_proc(self.proc, signal.SIGQUIT)
        self.logf.close()


class Haproxy:
    """HAProxy with deploy/haproxy/lakeapi.cfg (our ports)."""

    def __init__(self, base, instances):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = with_servers(deploy_file("haproxy", "lakeapi.cfg"), instances,
                           lambda i, inst: f"    server lakeapi{i + 1} 127.0.0.1:{inst.port}")
        cfg = cfg.replace("bind :80", f"bind 127.0.0.1:{self.port}")
        path = os.path.join(base, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.logpath = os.path.join(base, "haproxy.out")
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", path], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        wait_http(self.url + "/livez", "haproxy", self.logpath)

    def stop(self):
        stop_proc(self.proc, signal.SIGUSR1)
        self.logf.close()


def wait_http(url, what, logpath):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    with open(logpath) as f:
        raise RuntimeError(f"{what} did not start: {f.read()[-2000:]}")


def stop_proc(proc, sig):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def check_systemd_units(base):
    """systemd-analyze verify on the deploy units (when systemd-analyze is here)."""
    if not shutil.which("systemd-analyze"):
        return "systemd-analyze not installed: units not verified"
    d = os.path.join(base, "units")
    os.makedirs(d)
    names = []
    for src, inst in (("lakeapi@.service", "lakeapi@8001.service"),
                      ("lakeapi-livez@.service", "lakeapi-livez@8001.service"),
                      ("lakeapi-livez@.timer", "lakeapi-livez@8001.timer")):
        text = deploy_file("systemd", src).replace("/usr/local/bin/lakeapi", BIN)
        with open(os.path.join(d, inst), "w") as f:
            f.write(text)
        names.append(os.path.join(d, inst))
    out = subprocess.run(["systemd-analyze", "verify", "--man=no"] + names, capture_output=True,
                         text=True, timeout=60)
    problems = [ln for ln in (out.stdout + out.stderr).splitlines()
                if ln.strip() and "lakeapi" in ln and "User" not in ln]
    assert not problems, "systemd-analyze verify: " + "; ".join(problems)
    return "systemd units verified"


class Load:
    """Threads sending GET by key over nginx, each on its own keep-alive connection."""

    def __init__(self, url, keys, threads=6):
        self.url, self.keys = url, keys
        self.ok = 0
        self.failures = []
        self.upstreams = {}
        self.stopping = False
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        rnd = random.Random()
        with httpx.Client(base_url=self.url, timeout=15) as c:
            while not self.stopping:
                key = rnd.choice(self.keys)
                try:
                    r = c.get(f"/api/v1/orders/{key}")
                    good = r.status_code == 200 and r.json()["o_orderkey"] == key
                    what = f"{r.status_code} {r.text[:200]}"
                    up = r.headers.get("x-upstream", "")
                except (httpx.HTTPError, ValueError, KeyError) as e:
                    good, what, up = False, repr(e), ""
                with self.lock:
                    if good:
                        self.ok += 1
                        self.upstreams[up] = self.upstreams.get(up, 0) + 1
                    else:
                        self.failures.append(what)

    def snapshot(self):
        with self.lock:
            return self.ok, len(self.failures)

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(timeout=20)


def requests_served(inst):
    return sum(v for k, v in inst.metrics().items() if k.startswith("lakeapi_http_requests_total"))


def target_queries(inst, role):
    m = inst.metrics()
    return sum(v for k, v in m.items()
               if k.startswith("lakeapi_db_target_queries_total") and f'role="{role}"' in k)


def target_up(inst, role="replica"):
    m = inst.metrics()
    ups = [v for k, v in m.items() if k.startswith("lakeapi_db_target_up") and f'role="{role}"' in k]
    return bool(ups) and all(v == 1 for v in ups)


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {what}")


def check_no_failures(load, what):
    ok, failed = load.snapshot()
    assert failed == 0, f"{what}: {failed} failed requests, e.g. {load.failures[:3]}"
    log(f"  {what}: {ok} requests through the load balancer, none failed")


class Conn:
    """One keep-alive HTTP/1.1 connection (http.client sends a small body with its head in
    one segment; httpx's separate writes meet delayed ACKs and cost 40 ms a POST)."""

    def __init__(self, url):
        host, port = url.rsplit("/", 1)[-1].split(":")
        self.c = http.client.HTTPConnection(host, int(port), timeout=15)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        self.c.request(method, path, body=data, headers=h)
        r = self.c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()

    def close(self):
        self.c.close()


def ryw_pairs(url, n, echo, pin_connection):
    """n POST /user then GET /user?id= pairs; returns how many reads missed their write.

    pin_connection: the read goes on the write's keep-alive connection; else on a new one.
    echo: the read sends the write's X-Lakeapi-Min-LSN back.
    """
    missed = 0
    writer = Conn(url)
    try:
        for i in range(n):
            email = f"ryw{i}-{random.randrange(1 << 30)}@example.com"
            st, hdrs, body = writer.request("POST", "/user", {"first_name": "R", "email": email})
            assert st == 200, body
            uid = json.loads(body)["user_id"]
            lsn = hdrs.get("x-lakeapi-min-lsn")
            assert lsn and "/" in lsn, f"no X-Lakeapi-Min-LSN after a write: {hdrs}"
            headers = {"X-Lakeapi-Min-LSN": lsn} if echo else {}
            reader = writer if pin_connection else Conn(url)
            try:
                st, _, body = reader.request("GET", f"/user?id={uid}", headers=headers)
            finally:
                if reader is not writer:
                    reader.close()
            assert st == 200, body
            rows = json.loads(body)
            if not rows or rows[0]["email"] != email:
                missed += 1
    finally:
        writer.close()
    return missed


def main():
    base = tempfile.mkdtemp(prefix="lakeapi-scale-")
    os.chmod(base, 0o755)
    prim_dir, rep_dir = os.path.join(base, "primary"), os.path.join(base, "replica")
    procs = []
    nginx = haproxy = None
    ok = False
    try:
        log(check_systemd_units(base))
        pport, rport = free_port(), free_port()
        common = "-c fsync=off -c wal_level=replica -c max_wal_senders=8 -c hot_standby=on"
        prim = cluster("start", prim_dir, pport, common)
        log(f"primary up ({prim['PGHOST']}:{prim['PGPORT']})")
        subprocess.run([BIN, "load", "all", "--sf", "0.01", "--rows", "2000"],
                       env=clean_env(prim), check=True, capture_output=True, timeout=300)
        keys = [int(k) for k in psql(prim, "SELECT o_orderkey FROM orders_synced "
                                           "ORDER BY o_orderkey LIMIT 2000").split()]
        log(f"demo data loaded ({len(keys)} order keys)")

        os.makedirs(rep_dir)
        if os.getuid() == 0:
            shutil.chown(rep_dir, "postgres", "postgres")
        os.chmod(rep_dir, 0o700)
        subprocess.run(as_postgres([os.path.join(pg_bindir(), "pg_basebackup"), "-D",
                                    os.path.join(rep_dir, "pgdata"), "-R", "-X", "stream",
                                    "-c", "fast", "-h", prim["PGHOST"], "-p", prim["PGPORT"],
                                    "-U", "postgres"]),
                       check=True, capture_output=True, timeout=120)
        rep = cluster("start", rep_dir, rport, common)
        assert psql(rep, "SELECT pg_is_in_recovery()") == "t"
        log(f"streaming replica up ({rep['PGHOST']}:{rep['PGPORT']}, pg_basebackup -R)")

        env = dict(prim, PGHOST_READ=f"{rep['PGHOST']}:{rep['PGPORT']}", WORKERS=WORKERS,
                   READ_AFTER_WRITE_MS="2000", REPLICA_MAX_LAG="10", LOG_LEVEL="warning",
                   DB_POOL_SIZE="4")
        a = Instance(base, "lakeapi-a", env)
        procs.append(a)
        b = Instance(base, "lakeapi-b", env)
        procs.append(b)
        nginx = Nginx(base, [a, b])
        log(f"two lakeapi instances (WORKERS={WORKERS}) behind nginx on {nginx.url}")

        # 1. spread
        wait_for("replica in service on both instances", lambda: target_up(a) and target_up(b), 15)
        before = [target_queries(i, "replica") for i in (a, b)]
        load = Load(nginx.url, keys)
        time.sleep(3)
        check_no_failures(load, "steady load")
        ups = dict(load.upstreams)
        assert len(ups) == 2 and min(ups.values()) > 0.2 * sum(ups.values()), \
            f"traffic did not spread over both instances: {ups}"
        after = [target_queries(i, "replica") for i in (a, b)]
        assert all(x > y for x, y in zip(after, before)), "reads did not reach the replica"
        log(f"  spread over instances: {ups}; replica reads per instance: "
            f"{[int(x - y) for x, y in zip(after, before)]}")

        # 2. replica stopped and restarted under load
        log("stopping the replica under load")
        cluster("stop", rep_dir)
        wait_for("replica out of service", lambda: not target_up(a) and not target_up(b), 10)
        time.sleep(2)
        check_no_failures(load, "replica down")
        cluster("start", rep_dir, rport, common)
        log("replica restarted")
        wait_for("replica back in service", lambda: target_up(a) and target_up(b), 30)
        mid = [target_queries(i, "replica") for i in (a, b)]
        time.sleep(2)
        check_no_failures(load, "replica back")
        end = [target_queries(i, "replica") for i in (a, b)]
        assert all(x > y for x, y in zip(end, mid)), "reads did not return to the replica"
        fallbacks = sum(v for i in (a, b) for k, v in i.metrics().items()
                        if k.startswith("lakeapi_db_target_fallbacks_total"))
        log(f"  replica back in service and reading; {int(fallbacks)} reads re-ran on the primary")

        # 3. one instance killed under load
        log("killing instance b (SIGKILL) under load")
        b.proc.kill()
        b.proc.wait()
        seen = load.snapshot()[0]
        time.sleep(3)
        check_no_failures(load, "instance b killed")
        assert load.snapshot()[0] > seen, "no traffic after the kill"
        load.stop()
        check_no_failures(load, "whole load run")
        procs.remove(b)
        b.stop()
        b = Instance(base, "lakeapi-b2", env)
        procs.append(b)
        nginx.stop()
        nginx = Nginx(base, [a, b])
        wait_for("replica in service on the new instance", lambda: target_up(b), 15)

        # 4. read-your-writes while the replica is delayed
        psql(rep, f"ALTER SYSTEM SET recovery_min_apply_delay = '{DELAY}'")
        psql(rep, "SELECT pg_reload_conf()")
        time.sleep(0.5)
        stale = ryw_pairs(a.url, 20, echo=False, pin_connection=False)
        log(f"  control: {stale}/20 reads that neither echo the LSN nor share a connection "
            f"missed their write (replica delayed {DELAY})")
        if stale == 0:
            log(psql(rep, "SHOW recovery_min_apply_delay"))
            log(json.dumps({k: v for k, v in a.metrics().items() if "lakeapi_db_" in k}, indent=1))
        assert stale > 0, "the delayed replica never served a stale read: the check proves nothing"
        t = time.time()
        missed = ryw_pairs(nginx.url, PAIRS, echo=True, pin_connection=False)
        log(f"  {PAIRS} write-then-read pairs over nginx echoing X-Lakeapi-Min-LSN: {missed} "
            f"missed ({time.time() - t:.1f}s)")
        assert missed == 0
        missed = ryw_pairs(a.url, 200, echo=False, pin_connection=True)
        log(f"  200 pairs on one connection without the header (READ_AFTER_WRITE_MS): "
            f"{missed} missed")
        assert missed == 0
        m = a.metrics()
        kept = int(m.get('lakeapi_db_primary_reads_total{reason="min_lsn"}', 0))
        log(f"  reads kept on the primary for an LSN on instance a: {kept}")

        # 5. HAProxy (deploy/haproxy/lakeapi.cfg): spread, then an instance killed
        nginx.stop()
        nginx = None
        haproxy = Haproxy(base, [a, b])
        before = [requests_served(i) for i in (a, b)]
        load = Load(haproxy.url, keys)
        time.sleep(2)
        check_no_failures(load, "HAProxy steady load")
        served = [requests_served(i) - x for i, x in zip((a, b), before)]
        assert min(served) > 0.2 * sum(served), f"HAProxy did not spread: {served}"
        log(f"  HAProxy spread over instances: {served}")
        b.proc.kill()
        b.proc.wait()
        time.sleep(3)
        load.stop()
        check_no_failures(load, "HAProxy, instance killed")
        procs.remove(b)
        b.stop()
        ok = True
    finally:
        for p in procs:
            rc = p.stop()
            if not ok or rc != 0:
                print(f"--- {p.name} (exit {rc}) ---\n{p.output()}", file=sys.stderr)
            if rc != 0:
                ok = False  # a clean SIGTERM drain exits 0 (and ASan would say otherwise)
        for lb in (nginx, haproxy):
            if lb:
                lb.stop()
        for d in (rep_dir, prim_dir):
            try:
                cluster("stop", d)
            except Exception as e:  # noqa: BLE001 - tear down what can be
                print(f"stopping {d}: {e}", file=sys.stderr)
        if os.environ.get("SCALE_KEEP") == "1":
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    log("scale test passed" if ok else "scale test FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

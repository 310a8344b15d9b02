"""
driver.py - the benchmark of issue 6, run by bench/run.sh quick|full.

It starts a throwaway PostgreSQL (tests/pg_cluster.sh), loads the demo data
with `lakeapi load all`, starts `lakeapi serve` and the FastAPI peer
(bench/peers/fastapi) on loopback, and for every endpoint runs, one after the
other on the same database: lakeapi under wrk, the same SQL under
`pgbench -M prepared` (the physical limit), and the peer under wrk. wrk replays
precomputed request lists (bench/wrk/requests.lua). Then, in full mode, the
scaling curve of GET by key and the RSS with 1,000 idle keep-alive connections.
The tables go to stdout and to bench/results/<date>-<mode>.md (report.py).

Settings (environment): LAKEAPI_BIN (build/lakeapi), BENCH_DURATION (seconds
per run), BENCH_ROUNDS (alternations per endpoint), BENCH_CONNS (64),
BENCH_PGDIR (keep the cluster and its data in this directory between runs; the
load is skipped when the row counts match),
BENCH_ACCESS_LOG=0 (turn both servers' access logs off; default: on, to files).
"""
import datetime
import decimal
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time

import benchlib as bl
import report

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

MODES = {
    "quick": {"sf": 0.1, "users": 100_000, "duration": 3, "rounds": 1, "scaling": False,
              "scaling_duration": 0, "warmup": 1, "latency_duration": 2, "peer_rss": False},
    "full": {"sf": 1, "users": 1_000_000, "duration": 5, "rounds": 2, "scaling": True,
             "scaling_duration": 6, "warmup": 2, "latency_duration": 4, "peer_rss": True},
}
# Endpoints whose seed SQL scans the table (count(*), OFFSET) take 100+ ms of CPU per
# request at SF 1: at 64 connections the queue alone would push wrk past its timeout, so
# all three systems run them with HEAVY_CONNS, and lakeapi also alone (1 connection) for
# the latency of one request, which is what the latency goals are about.
HEAVY_CONNS = 16
SCALING_CONNS = [1, 16, 64, 256, 1024]
PGBENCH_SCALING_MAX = 256  # PostgreSQL backends are processes: no 1024 clients here

ORDERS = '"public"."orders_synced"'
USERS = '"public"."users"'
ORDER_COLS = ", ".join(f'"{c}"' for c in (
    "o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice", "o_orderdate",
    "o_orderpriority", "o_clerk", "o_shippriority", "o_comment"))
USER_COLS = '"id", "first_name", "last_name", "email", "address", "ip_address"'
# TPC-H keys are sparse: row i (1-based) has key ((i >> 3) << 5) | (i & 7) (dbgen mk_sparse).
SPARSE = "\\set i random(1, {rows})\n\\set key ((:i >> 3) << 5) | (:i & 7)\n"


PEER_VERSIONS = """
import importlib
out = []
for m in ("fastapi", "sqlalchemy", "sqlmodel", "asyncpg", "uvicorn", "pydantic", "uvloop",
          "httptools"):
    try:
        mod = importlib.import_module(m)
        out.append(m + " " + str(getattr(mod, "__version__", None) or getattr(mod, "VERSION")))
    except ImportError:
        out.append(m + " (not installed)")
print(", ".join(out))
"""


def psql(env, sql):
    out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql: {out.stderr.strip()}")
    return out.stdout.strip()


def start_cluster(pgdir, extra_opts=""):
    """tests/pg_cluster.sh start pgdir with PG_CLUSTER_OPTS plus extra_opts: returns the
    libpq environment (os.environ plus PGHOST...) and the postmaster's pid."""
    opts = (os.environ.get("PG_CLUSTER_OPTS", "") + " " + extra_opts).strip()
    env = dict(os.environ, PG_CLUSTER_OPTS=opts)
    out = subprocess.run([os.path.join(ROOT, "tests", "pg_cluster.sh"), "start", pgdir],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"pg_cluster.sh start: {out.stderr.strip()}")
    pgenv = dict(os.environ)
    for kv in out.stdout.strip().splitlines()[-1].split():
        k, v = kv.split("=", 1)
        pgenv[k] = v
    with open(os.path.join(pgdir, "pgdata", "postmaster.pid")) as f:
        pg_pid = int(f.readline())
    bl.log(f"cluster up in {pgdir} (postmaster {pg_pid}" + (f"; {opts}" if opts else "") + ")")
    return pgenv, pg_pid


def write_results(mode, res, md):
    """bench/results/<date>-<mode>.md and .json; the markdown also to stdout."""
    outdir = os.path.join(HERE, "results")
    os.makedirs(outdir, exist_ok=True)
    stem = os.path.join(outdir, f"{datetime.date.today().isoformat()}-{mode}")
    with open(stem + ".md", "w") as f:
        f.write(md)
    with open(stem + ".json", "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(md)
    bl.log(f"written {stem}.md and .json")


def machine(env, lakeapi):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])

    def cmd(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    # What the binary was built from is unknown; say when it was built and where the
    # repository stood at run time.
    built = datetime.datetime.fromtimestamp(os.path.getmtime(lakeapi)).strftime("%Y-%m-%d %H:%M")
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        commit = f"repository at {commit}" + (" with local changes" if dirty else "")
    except OSError:
        commit = ""
    peer = subprocess.run([sys.executable, "-c", PEER_VERSIONS], capture_output=True,
                          text=True).stdout.strip()
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gb": round(mem_gb, 1),
        "kernel": os.uname().release, "loadavg_at_start": load,
        "postgres": psql(env, "SHOW server_version"),
        "pg_settings": psql(env, "SELECT string_agg(name || '=' || current_setting(name), ', ' "
                                 "ORDER BY name) "
                                 "FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', "
                                 "'shared_buffers', 'max_connections', 'wal_level')"),
        "wrk": cmd(["wrk", "-v"]), "pgbench": cmd(["pgbench", "--version"]),
        "lakeapi": f"{cmd([lakeapi, '--version'])} ({lakeapi}, built {built}; {commit})",
        "python": sys.version.split()[0], "peer": peer,
    }


class Bench:
    def __init__(self, mode, work):
        self.mode = mode
        self.cfg = dict(MODES[mode])
        if os.environ.get("BENCH_DURATION"):
            self.cfg["duration"] = int(os.environ["BENCH_DURATION"])
        if os.environ.get("BENCH_ROUNDS"):
            self.cfg["rounds"] = max(1, int(os.environ["BENCH_ROUNDS"]))
        self.conns = int(os.environ.get("BENCH_CONNS", "64"))
        self.work = work
        self.lakeapi = os.path.abspath(os.environ.get("LAKEAPI_BIN",
                                                      os.path.join(ROOT, "build", "lakeapi")))
        self.pgdir = os.environ.get("BENCH_PGDIR") or os.path.join(work, "pg")
        self.keep_pg = bool(os.environ.get("BENCH_PGDIR"))
        self.access_log = os.environ.get("BENCH_ACCESS_LOG", "1") != "0"
        self.procs = bl.Procs(os.path.join(work, "pids"))
        self.results = {"mode": mode, "cfg": self.cfg, "conns": self.conns,
                        "heavy_conns": min(self.conns, HEAVY_CONNS), "endpoints": [], "notes": []}

    # ---- setup ----

    def start_cluster(self):
        # pgbench's scaling runs need 256 backends besides the two servers' pools.
        self.pgenv, self.pg_pid = start_cluster(self.pgdir, "-c max_connections=400")

    def load(self):
        sf, users = self.cfg["sf"], self.cfg["users"]
        expect = int(round(1_500_000 * sf))
        t = {}
        have = None
        if self.keep_pg:
            try:
                have = psql(self.pgenv, "SELECT (SELECT count(*) FROM public.orders_synced) || ' '"
                                        " || (SELECT count(*) FROM public.users)")
            except RuntimeError:
                have = None
        if have == f"{expect} {users}":
            bl.log(f"reusing the loaded data in {self.pgdir}")
            t["load_all_s"] = None
        else:
            bl.log(f"lakeapi load all --sf {sf} --rows {users}")
            t0 = time.monotonic()
            p = subprocess.Popen([self.lakeapi, "load", "all", "--sf", str(sf), "--rows",
                                  str(users)], env=self.pgenv, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            text = b""
            for chunk in iter(lambda: p.stderr.read1(4096), b""):
                text += chunk
                sys.stderr.buffer.write(chunk)
                sys.stderr.flush()
            if p.wait() != 0:
                raise RuntimeError("lakeapi load failed")
            t["load_all_s"] = round(time.monotonic() - t0, 2)
            for line in text.decode(errors="replace").splitlines():
                if '"msg":"' in line and "loaded in" in line:
                    t.setdefault("loader_says", []).append(
                        line.split('"msg":"', 1)[1].split('"', 1)[0])
            print(file=sys.stderr)
        t0 = time.monotonic()
        subprocess.run([self.lakeapi, "gen", "orders", "--sf", str(sf)], check=True,
                       stdout=subprocess.DEVNULL)
        t["gen_orders_s"] = round(time.monotonic() - t0, 2)
        self.results["load"] = t
        bl.log("VACUUM ANALYZE, pg_prewarm")
        psql(self.pgenv, "VACUUM ANALYZE public.orders_synced")
        psql(self.pgenv, "VACUUM ANALYZE public.users")
        try:
            psql(self.pgenv, "CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            psql(self.pgenv, "SELECT pg_prewarm('public.orders_synced'), "
                             "pg_prewarm('public.orders_synced_pkey'), pg_prewarm('public.users')")
        except RuntimeError as e:
            self.results["notes"].append(f"pg_prewarm unavailable: {e}")

    def prepare_lists(self):
        env = self.pgenv
        self.rows = int(psql(env, "SELECT count(*) FROM public.orders_synced"))
        bad = int(psql(env, "SELECT count(*) FROM (SELECT o_orderkey, row_number() OVER "
                            "(ORDER BY o_orderkey) AS i FROM public.orders_synced) s "
                            "WHERE o_orderkey <> (((i >> 3) << 5) | (i & 7))"))
        if bad:
            self.results["notes"].append(
                f"{bad} order keys differ from dbgen's sparse formula: pgbench's keys are "
                "then partly missing rows")
        # A repeatable sample of existing keys (3n expected, then shuffled and cut to n).
        n = 50_000
        pct = min(100.0, 100.0 * 3 * n / max(1, self.rows))
        keys = psql(env, f"SELECT o_orderkey FROM public.orders_synced TABLESAMPLE BERNOULLI "
                         f"({pct:.4f}) REPEATABLE (42)").split()
        rnd = random.Random(42)
        rnd.shuffle(keys)
        keys = self.keys = keys[:n]
        self.pages = (self.rows + 99) // 100
        uid = psql(env, "SELECT coalesce(min(id), 1) || ' ' || coalesce(max(id), 1) "
                        "FROM public.users").split()
        self.umin, self.umax = int(uid[0]), int(uid[1])
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        lists = {
            "get": [f"GET\t/api/v1/orders/{k}" for k in keys],
            "stream": [f"GET\t/api/v1/orders/stream?cursor={k}&page_size=100" for k in keys],
            "count": ["GET\t/api/v1/orders/count"],
            "pages": [f"GET\t/api/v1/orders/pages?page={rnd.randint(1, self.pages)}&page_size=100"
                      for _ in range(n)],
            "pages10000": ["GET\t/api/v1/orders/pages?page=10000&page_size=100"],
            "status": [f"POST\t/api/v1/orders/{k}/status\t"
                       f'{{"o_orderstatus": "{rnd.choice(letters)}"}}' for k in keys],
            "user": [f"GET\t/user?id={rnd.randint(self.umin, self.umax)}" for _ in range(n)],
        }
        self.listfiles = {}
        for name, lines in lists.items():
            path = os.path.join(self.work, f"{name}.txt")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.listfiles[name] = path
        bl.log(f"request lists: {len(keys)} random existing keys of {self.rows} orders, "
               f"{self.pages} pages, users {self.umin}..{self.umax}")

    def endpoints(self):
        s = SPARSE.format(rows=self.rows)
        off = "\\set p random(1, {pages})\n\\set off (:p - 1) * 100\n".format(pages=self.pages)
        return [
            {"id": "get", "title": "GET /api/v1/orders/{key}", "what": "random existing keys",
             "probe": "/api/v1/orders/1", "sampling": 0.1,
             "sql": s + f'SELECT {ORDER_COLS} FROM {ORDERS} WHERE "o_orderkey" = :key;\n'},
            {"id": "stream", "title": "GET /api/v1/orders/stream?cursor=K&page_size=100",
             "what": "random existing cursors; pgbench runs the keyset query only",
             "probe": "/api/v1/orders/stream?cursor=1&page_size=100", "sampling": 0.1,
             "sql": s + f'SELECT {ORDER_COLS} FROM {ORDERS} WHERE "o_orderkey" > :key '
                        'ORDER BY "o_orderkey" LIMIT 101;\n'},
            {"id": "count", "title": "GET /api/v1/orders/count", "what": f"{self.rows} rows",
             "probe": "/api/v1/orders/count", "sampling": 1.0, "heavy": True, "alone": True,
             "sql": f"SELECT count(*) FROM {ORDERS};\n"},
            {"id": "pages", "title": "GET /api/v1/orders/pages?page=P&page_size=100",
             "what": f"random pages 1..{self.pages}; pgbench: count(*) + OFFSET as the seed",
             "probe": "/api/v1/orders/pages?page=1&page_size=100", "sampling": 1.0,
             "heavy": True,
             "sql": off + f"SELECT count(*) FROM {ORDERS};\n"
                          f'SELECT {ORDER_COLS} FROM {ORDERS} ORDER BY "o_orderkey" '
                          "OFFSET :off LIMIT 101;\n"},
            {"id": "pages10000", "title": "GET /api/v1/orders/pages?page=10000&page_size=100",
             "what": "OFFSET 999,900" + (" (past the last page at this SF: an empty page)"
                                         if self.pages < 10000 else "")
                     + "; pgbench: count(*) + OFFSET as the seed",
             "probe": "/api/v1/orders/pages?page=10000&page_size=100", "sampling": 1.0,
             "heavy": True, "alone": True,
             "sql": f"SELECT count(*) FROM {ORDERS};\n"
                    f'SELECT {ORDER_COLS} FROM {ORDERS} ORDER BY "o_orderkey" '
                    "OFFSET 999900 LIMIT 101;\n"},
            {"id": "status", "title": "POST /api/v1/orders/{key}/status",
             "what": "random keys and letters; synchronous_commit=on", "probe": None,
             "sampling": 0.1,
             "sql": s + "\\set c random(65, 90)\n"
                        f'UPDATE {ORDERS} SET "o_orderstatus" = chr(:c) WHERE "o_orderkey" = :key '
                        'RETURNING "o_orderkey";\n'},
            {"id": "user", "title": "GET /user?id=N", "what": "random existing ids",
             "probe": f"/user?id={self.umin}", "sampling": 0.1,
             "sql": f"\\set k random({self.umin}, {self.umax})\n"
                    f'SELECT {USER_COLS} FROM {USERS} WHERE "id" = :k;\n'},
        ]

    def start_servers(self):
        env = dict(self.pgenv)
        if not self.access_log:
            env["LOG_LEVEL"] = "warning"
        self.lk_port = bl.free_port()
        self.lk = self.procs.start("lakeapi", [self.lakeapi, "serve", "--port", str(self.lk_port)],
                                   env, os.path.join(self.work, "lakeapi.log"))
        bl.wait_http(self.lk_port, self.lk)
        bl.log(f"lakeapi serve on 127.0.0.1:{self.lk_port} (pid {self.lk.pid})")
        self.fa_port = bl.free_port()
        argv = [sys.executable, "-m", "uvicorn", "main:app", "--app-dir",
                os.path.join(HERE, "peers", "fastapi"), "--host", "127.0.0.1", "--port",
                str(self.fa_port), "--workers", str(os.cpu_count())]
        if not self.access_log:
            argv.append("--no-access-log")
        self.fa = self.procs.start("fastapi", argv, env, os.path.join(self.work, "fastapi.log"))
        bl.wait_http(self.fa_port, self.fa)
        bl.log(f"FastAPI peer (uvicorn, {os.cpu_count()} workers) on 127.0.0.1:{self.fa_port} "
               f"(pid {self.fa.pid})")

    def crosscheck(self):
        """Same data, two servers: lakeapi's answers must match the seed peer's (whose
        /pages is plain OFFSET). previous_cursor is left out: the seed's is wrong for
        sparse keys on purpose. Done before the status runs change any row."""
        rnd = random.Random(7)
        keys = self.keys
        paths = ["/api/v1/orders/count", "/api/v1/orders/pages?page=1&page_size=100",
                 "/api/v1/orders/pages?page=10000&page_size=100",
                 f"/api/v1/orders/pages?page={self.pages}&page_size=100",
                 "/api/v1/orders/stream?cursor=0&page_size=100"]
        paths += [f"/api/v1/orders/{k}" for k in rnd.sample(keys, 10)]
        paths += [f"/api/v1/orders/stream?cursor={k}&page_size=100" for k in rnd.sample(keys, 5)]
        paths += [f"/api/v1/orders/pages?page={rnd.randint(1, self.pages)}&page_size=100"
                  for _ in range(5)]

        def norm(body):
            d = json.loads(body, parse_float=decimal.Decimal)
            if isinstance(d, dict) and isinstance(d.get("pagination"), dict):
                d["pagination"].pop("previous_cursor", None)
            return d

        diffs = []
        for p in paths:
            try:
                a, b = bl.http_get(self.lk_port, p, 60), bl.http_get(self.fa_port, p, 60)
            except OSError as e:
                diffs.append(f"{p}: {e}")
                continue
            try:
                same = a[0] == b[0] and norm(a[1]) == norm(b[1])
            except ValueError as e:
                same = False
                p += f" (not JSON: {e})"
            if not same:
                diffs.append(f"{p}: lakeapi {a[0]} vs peer {b[0]}")
        self.results["crosscheck"] = {"compared": len(paths), "differ": diffs}
        bl.log(f"cross-check: {len(paths)} requests compared with the peer, "
               f"{len(diffs)} differ" + (f" (first: {diffs[0]})" if diffs else ""))

    def warm_up(self):
        w = self.cfg["warmup"]
        bl.log(f"warm-up: {w} s of GET by key on each server and pgbench")
        bl.run_wrk(self.lk_port, self.listfiles["get"], self.conns, w, self.lk.pid, self.pg_pid)
        bl.run_wrk(self.fa_port, self.listfiles["get"], self.conns, w, self.fa.pid, self.pg_pid)
        script = self.write_script("warm", self.endpoints()[0]["sql"])
        bl.run_pgbench(script, self.conns, w, self.pg_pid, self.pgenv, self.work, "warm", 0.01)

    def write_script(self, name, sql):
        path = os.path.join(self.work, f"{name}.sql")
        with open(path, "w") as f:
            f.write(sql)
        return path

    # ---- measuring ----

    def bench_endpoint(self, ep):
        """lakeapi, pgbench, the peer, one after the other, `rounds` times: alternating
        in short slices lets all three sample the same bursts of foreign load."""
        d, rounds = self.cfg["duration"], self.cfg["rounds"]
        c = min(self.conns, HEAVY_CONNS) if ep.get("heavy") else self.conns
        out = {"id": ep["id"], "title": ep["title"], "what": ep["what"], "sql": ep["sql"],
               "runs": {}}
        lf = self.listfiles[ep["id"]]
        have = {"lakeapi": True, "fastapi": True}
        if ep["probe"]:
            have["lakeapi"] = bl.route_exists(self.lk_port, ep["probe"])
            have["fastapi"] = bl.route_exists(self.fa_port, ep["probe"])
        if not have["lakeapi"]:
            bl.log(f"{ep['id']}: lakeapi has no such route - skipped")
            out["skipped"] = "lakeapi does not serve this route yet"
            return out
        script = self.write_script(ep["id"], ep["sql"])
        got = {"lakeapi": [], "pgbench": [], "fastapi": []}
        for i in range(rounds):
            tag = f" (round {i + 1}/{rounds})" if rounds > 1 else ""
            bl.log(f"{ep['id']}: lakeapi, wrk -c{c} {d} s{tag}")
            got["lakeapi"].append(bl.run_wrk(self.lk_port, lf, c, d, self.lk.pid, self.pg_pid))
            self.say(ep["id"], "lakeapi", got["lakeapi"][-1])
            bl.log(f"{ep['id']}: pgbench -M prepared -c{c} {d} s{tag}")
            got["pgbench"].append(bl.run_pgbench(script, c, d, self.pg_pid, self.pgenv,
                                                 self.work, ep["id"], ep["sampling"]))
            self.say(ep["id"], "pgbench", got["pgbench"][-1])
            if have["fastapi"]:
                bl.log(f"{ep['id']}: FastAPI peer, wrk -c{c} {d} s{tag}")
                got["fastapi"].append(bl.run_wrk(self.fa_port, lf, c, d, self.fa.pid,
                                                 self.pg_pid))
                self.say(ep["id"], "fastapi", got["fastapi"][-1])
        for name, runs in got.items():
            out["runs"][name] = bl.merge(runs) if runs else None
        if ep.get("alone"):
            la = self.cfg["latency_duration"]
            bl.log(f"{ep['id']}: lakeapi alone, wrk -c1 {la} s")
            out["runs"]["lakeapi_1"] = bl.run_wrk(self.lk_port, lf, 1, la, self.lk.pid,
                                                  self.pg_pid)
            self.say(ep["id"], "lakeapi alone", out["runs"]["lakeapi_1"])
        return out

    @staticmethod
    def say(eid, system, r):
        bad = r["errors"] + r["non2xx"]
        bl.log(f"{eid}: {system}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
               f"p99 {r['p99_ms']:.2f} ms, other CPU {r['other_cpu_pct']:.0f}%"
               + (f", {bad} errors/non-2xx" if bad else ""))

    def scaling(self):
        d = self.cfg["scaling_duration"]
        ep = self.endpoints()[0]
        script = self.write_script("scale", ep["sql"])
        rows = []
        for c in SCALING_CONNS:
            bl.log(f"scaling: lakeapi GET by key, {c} connections, {d} s")
            lk = bl.run_wrk(self.lk_port, self.listfiles["get"], c, d, self.lk.pid, self.pg_pid)
            pb = None
            if c <= PGBENCH_SCALING_MAX:
                bl.log(f"scaling: pgbench, {c} clients, {d} s")
                pb = bl.run_pgbench(script, c, d, self.pg_pid, self.pgenv, self.work,
                                    f"scale{c}", 0.1)
            bl.log(f"scaling: {c} connections: lakeapi {lk['rps']:,.0f} req/s p99 "
                   f"{lk['p99_ms']:.2f} ms" + (f"; pgbench {pb['rps']:,.0f} tps p99 "
                                              f"{pb['p99_ms']:.2f} ms" if pb else ""))
            rows.append({"conns": c, "lakeapi": lk, "pgbench": pb})
        self.results["scaling"] = rows

    def idle_rss(self):
        out = {}
        servers = [("lakeapi", self.lk_port, self.lk, False)]
        if self.cfg["peer_rss"]:
            servers.append(("fastapi", self.fa_port, self.fa, True))
        for name, port, proc, tree in servers:
            bl.log(f"RSS: 1,000 idle keep-alive connections to {name}")
            try:
                r = out[name] = bl.idle_connections_rss(port, proc.pid, "/api/v1/orders/1",
                                                        1000, tree)
                bl.log(f"RSS: {name}: {r['rss_kb'] / 1024:.1f} MB with {r['answered']} "
                       f"connections answered and open")
            except OSError as e:
                out[name] = {"error": str(e)}
        self.results["rss"] = out

    def run(self):
        # 1,024 wrk connections and as many accepted sockets: children inherit the limit.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if not os.access(self.lakeapi, os.X_OK):
            raise RuntimeError(f"no lakeapi binary at {self.lakeapi} (make build)")
        try:
            self.start_cluster()
            self.results["machine"] = machine(self.pgenv, self.lakeapi)
            self.load()
            self.prepare_lists()
            self.start_servers()
            self.warm_up()
            self.crosscheck()
            for ep in self.endpoints():
                self.results["endpoints"].append(self.bench_endpoint(ep))
            if self.cfg["scaling"]:
                self.scaling()
            self.idle_rss()
            with open("/proc/loadavg") as f:
                self.results["machine"]["loadavg_at_end"] = " ".join(f.read().split()[:3])
        finally:
            self.procs.stop_all()
            script = os.path.join(ROOT, "tests", "pg_cluster.sh")
            subprocess.run([script, "stop" if self.keep_pg else "destroy", self.pgdir],
                           capture_output=True)
            for name in ("lakeapi.log", "fastapi.log"):
                p = os.path.join(self.work, name)
                if os.path.exists(p):
                    self.results.setdefault("logs", {})[name] = os.path.getsize(p)
        return self.results


def main():
    # bench/run.sh stops the driver with SIGTERM: unwind so the finally blocks clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mode = sys.argv[1] if len(sys.argv) > 1 else "quick"
    if mode not in MODES:
        sys.exit(f"usage: driver.py quick|full WORKDIR (not {mode!r})")
    work = sys.argv[2]
    res = Bench(mode, work).run()
    write_results(mode, res, report.render(res))


if __name__ == "__main__":
    main()

"""
driver.py - the benchmark (issues 6 and 13), run by bench/run.sh quick|full.

It starts a throwaway PostgreSQL (tests/pg_cluster.sh), loads the demo data
with `lakeapi load all`, and starts two lakeapi servers with default settings:
one as shipped (access log on, to a file) and one with the access log off
(LOG_LEVEL=warning), plus, in full mode, the FastAPI peer (bench/peers/fastapi).
Then, for every configuration (endpoint, connections), it runs BENCH_ROUNDS
alternating rounds of: lakeapi under wrk, lakeapi without access log under
wrk, and the same SQL under `pgbench -n -M prepared` as users run it (no
per-transaction log: it costs pgbench throughput). The order inside a round
rotates from round to round. pgbench's latency percentiles come from one more,
separate round with a sampled log (--sampling-rate), whose own throughput is
reported next to the unlogged median. Every figure is the median of the rounds
with min and max beside it (benchlib.summarize). Last come a few single checks
(count and a deep page alone, RSS with 1,000 idle connections).
The tables go to stdout and to bench/results/<date>-<mode>.md (report.py).

Settings (environment): LAKEAPI_BIN (build/lakeapi), BENCH_DURATION (seconds
per run), BENCH_ROUNDS (rounds per configuration, at least 5 for the medians),
BENCH_PGDIR (keep the cluster and its data in this directory between runs; the
load is skipped when the row counts match), BENCH_PEER (1: the FastAPI peer
joins GET by key at 64 connections; default 1 in full mode, 0 in quick),
BENCH_ONLY (comma list of configuration ids, e.g. "get64,stream64": run only those),
BENCH_ONE_LOOP (1: a third lakeapi, as shipped but WORKERS=1 - one event loop,
where the default is one per core - joins the rounds of W1_CONFIGS; default 1 in
full mode, 0 in quick).
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
    "quick": {"sf": 0.1, "users": 100_000, "duration": 2, "rounds": 5, "warmup": 1,
              "latency_duration": 2, "peer": False, "one_loop": False},
    "full": {"sf": 1, "users": 1_000_000, "duration": 5, "rounds": 5, "warmup": 2,
             "latency_duration": 3, "peer": True, "one_loop": True},
}
# (id, endpoint, connections): what issue 13 asks to compare, in this order.
CONFIGS = [("get1", "get", 1), ("get16", "get", 16), ("get64", "get", 64),
           ("get256", "get", 256), ("user64", "user", 64), ("stream64", "stream", 64),
           ("status64", "status", 64), ("rest64", "restget", 64), ("restlist64", "restlist", 64)]
PGBENCH_LATENCY_SAMPLING = 0.01
# Where the WORKERS=1 column runs (full mode): the reads the second loop lifts.
W1_CONFIGS = {"get16", "get64", "get256", "stream64"}

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


LK_METRICS = ("lakeapi_db_queries_total", "lakeapi_db_batches_total",
              "lakeapi_loop_cpu_seconds_total", "lakeapi_loop_runqueue_wait_seconds_total",
              "lakeapi_loop_involuntary_switches_total",
              "lakeapi_log_lines_written_total", "lakeapi_log_lines_dropped_total",
              "lakeapi_log_writes_total", "lakeapi_db_overflow_opens_total")


def lk_metrics(port):
    """The /metrics counters that explain a lakeapi run (queries per Sync, the loop's
    CPU and run-queue wait, the log writer)."""
    try:
        _, body = bl.http_get(port, "/metrics", 10)
    except (OSError, ValueError, IndexError):
        return {}
    out = {}
    for line in body.decode(errors="replace").splitlines():
        name, _, v = line.partition(" ")
        if name in LK_METRICS:
            out[name] = float(v)
        if name.startswith("lakeapi_db_pool_connections{state=\"total\"}"):
            out["pool_connections"] = float(line.split()[-1])
    return out


class Bench:
    def __init__(self, mode, work):
        self.mode = mode
        self.cfg = dict(MODES[mode])
        if os.environ.get("BENCH_DURATION"):
            self.cfg["duration"] = int(os.environ["BENCH_DURATION"])
        if os.environ.get("BENCH_ROUNDS"):
            self.cfg["rounds"] = max(1, int(os.environ["BENCH_ROUNDS"]))
        if os.environ.get("BENCH_PEER"):
            self.cfg["peer"] = os.environ["BENCH_PEER"] != "0"
        if os.environ.get("BENCH_ONE_LOOP"):
            self.cfg["one_loop"] = os.environ["BENCH_ONE_LOOP"] != "0"
        only = os.environ.get("BENCH_ONLY", "").strip()
        self.only = set(only.split(",")) if only else None
        self.work = work
        self.lakeapi = os.path.abspath(os.environ.get("LAKEAPI_BIN",
                                                      os.path.join(ROOT, "build", "lakeapi")))
        self.pgdir = os.environ.get("BENCH_PGDIR") or os.path.join(work, "pg")
        self.keep_pg = bool(os.environ.get("BENCH_PGDIR"))
        self.procs = bl.Procs(os.path.join(work, "pids"))
        self.results = {"mode": mode, "cfg": self.cfg, "configs": [], "checks": {},
                        "notes": []}

    # ---- setup ----

    def start_cluster(self):
        # pgbench's 256-client runs need 256 backends besides the servers' pools.
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
            p = subprocess.run([self.lakeapi, "load", "all", "--sf", str(sf), "--rows",
                                str(users)], env=self.pgenv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            if p.returncode != 0:
                sys.stderr.buffer.write(p.stderr[-2000:])
                raise RuntimeError("lakeapi load failed")
            t["load_all_s"] = round(time.monotonic() - t0, 2)
            for line in p.stderr.decode(errors="replace").splitlines():
                if '"msg":"' in line and "loaded in" in line:
                    t.setdefault("loader_says", []).append(
                        line.split('"msg":"', 1)[1].split('"', 1)[0])
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
                             "pg_prewarm('public.orders_synced_pkey'), pg_prewarm('public.users'), "
                             "pg_prewarm('public.users_pkey')")
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
            "starts": keys[:5000],  # chain.lua: where sequential readers start
            "count": ["GET\t/api/v1/orders/count"],
            "livez": ["GET\t/livez"],  # no database: the HTTP hop alone
            "pages10000": ["GET\t/api/v1/orders/pages?page=10000&page_size=100"],
            "status": [f"POST\t/api/v1/orders/{k}/status\t"
                       f'{{"o_orderstatus": "{rnd.choice(letters)}"}}' for k in keys],
            "user": [f"GET\t/user?id={rnd.randint(self.umin, self.umax)}" for _ in range(n)],
            # the Data API (issue 9): by key, and a filtered, ordered read of 100 rows
            "restget": [f"GET\t/rest/v1/orders_synced?o_orderkey=eq.{k}" for k in keys],
            "restlist": [f"GET\t/rest/v1/orders_synced?o_orderkey=gt.{k}&o_orderstatus=neq.X"
                         "&order=o_orderkey&limit=100" for k in keys],
        }
        self.listfiles = {}
        for name, lines in lists.items():
            path = os.path.join(self.work, f"{name}.txt")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.listfiles[name] = path
        bl.log(f"request lists: {len(keys)} random existing keys of {self.rows} orders, "
               f"users {self.umin}..{self.umax}")

    def endpoints(self):
        s = SPARSE.format(rows=self.rows)
        return {
            "get": {"title": "GET /api/v1/orders/{key}", "what": "random existing keys",
                    "probe": "/api/v1/orders/1",
                    "sql": s + f'SELECT {ORDER_COLS} FROM {ORDERS} WHERE "o_orderkey" = :key;\n'},
            "user": {"title": "GET /user?id=N", "what": "random existing ids",
                     "probe": f"/user?id={self.umin}",
                     "sql": f"\\set k random({self.umin}, {self.umax})\n"
                            f'SELECT {USER_COLS} FROM {USERS} WHERE "id" = :k;\n'},
            "stream": {"title": "GET /api/v1/orders/stream?cursor=K&page_size=100",
                       "what": "sequential readers (each request asks for a next_cursor just "
                               "returned; bench/wrk/chain.lua), starting at random keys; "
                               "pgbench: the keyset query at random keys",
                       "probe": "/api/v1/orders/stream?cursor=1&page_size=100",
                       "chain": True,
                       "sql": s + f'SELECT {ORDER_COLS} FROM {ORDERS} WHERE "o_orderkey" > :key '
                                  'ORDER BY "o_orderkey" LIMIT 101;\n'},
            "restget": {"title": "GET /rest/v1/orders_synced?o_orderkey=eq.K (Data API)",
                        "what": "random existing keys; pgbench: the same SELECT by key",
                        "probe": "/rest/v1/orders_synced?o_orderkey=eq.1",
                        "sql": s + f'SELECT {ORDER_COLS} FROM {ORDERS} WHERE "o_orderkey" = :key;\n'},
            "restlist": {"title": "GET /rest/v1/orders_synced?o_orderkey=gt.K&o_orderstatus=neq.X"
                                  "&order=o_orderkey&limit=100 (Data API)",
                         "what": "a filtered, ordered read of 100 rows at random keys; pgbench: "
                                 "its SQL",
                         "probe": "/rest/v1/orders_synced?limit=1",
                         "sql": s + f'SELECT {ORDER_COLS} FROM {ORDERS} WHERE "o_orderkey" > :key '
                                    'AND "o_orderstatus" <> \'X\' ORDER BY "o_orderkey" LIMIT 100;\n'},
            "status": {"title": "POST /api/v1/orders/{key}/status",
                       "what": "random keys and letters; synchronous_commit=on, fsync=on: "
                               "every acknowledged write is committed",
                       "probe": None,
                       "sql": s + "\\set c random(65, 90)\n"
                                  f'UPDATE {ORDERS} SET "o_orderstatus" = chr(:c) '
                                  'WHERE "o_orderkey" = :key RETURNING "o_orderkey";\n'},
        }

    def start_servers(self):
        self.servers = {}
        servers = [("lakeapi", {}), ("lakeapi_nolog", {"LOG_LEVEL": "warning"})]
        if self.cfg["one_loop"]:
            servers.append(("lakeapi_w1", {"WORKERS": "1"}))  # as shipped, but one loop
        for name, extra in servers:
            env = dict(self.pgenv, **extra)
            port = bl.free_port()
            p = self.procs.start(name, [self.lakeapi, "serve", "--port", str(port)], env,
                                 os.path.join(self.work, f"{name}.log"))
            bl.wait_http(port, p)
            self.servers[name] = (port, p)
            bl.log(f"{name}: lakeapi serve on 127.0.0.1:{port} (pid {p.pid})"
                   + (f", {extra}" if extra else ", as shipped"))
        if self.cfg["peer"]:
            port = bl.free_port()
            argv = [sys.executable, "-m", "uvicorn", "main:app", "--app-dir",
                    os.path.join(HERE, "peers", "fastapi"), "--host", "127.0.0.1", "--port",
                    str(port), "--workers", str(os.cpu_count())]
            p = self.procs.start("fastapi", argv, dict(self.pgenv),
                                 os.path.join(self.work, "fastapi.log"))
            bl.wait_http(port, p)
            self.servers["fastapi"] = (port, p)
            bl.log(f"FastAPI peer (uvicorn, {os.cpu_count()} workers) on 127.0.0.1:{port}")

    def crosscheck(self):
        """lakeapi's answers must match the seed peer's (previous_cursor aside: the seed's
        is wrong for sparse keys on purpose). Done before the status runs change rows."""
        if "fastapi" not in self.servers:
            return
        rnd = random.Random(7)
        paths = ["/api/v1/orders/count", "/api/v1/orders/pages?page=1&page_size=100",
                 "/api/v1/orders/stream?cursor=0&page_size=100"]
        paths += [f"/api/v1/orders/{k}" for k in rnd.sample(self.keys, 10)]
        paths += [f"/api/v1/orders/stream?cursor={k}&page_size=100"
                  for k in rnd.sample(self.keys, 5)]

        def norm(body):
            d = json.loads(body, parse_float=decimal.Decimal)
            if isinstance(d, dict) and isinstance(d.get("pagination"), dict):
                d["pagination"].pop("previous_cursor", None)
            return d

        diffs = []
        lk, fa = self.servers["lakeapi"][0], self.servers["fastapi"][0]
        for p in paths:
            try:
                a, b = bl.http_get(lk, p, 60), bl.http_get(fa, p, 60)
                if not (a[0] == b[0] and norm(a[1]) == norm(b[1])):
                    diffs.append(f"{p}: lakeapi {a[0]} vs peer {b[0]}")
            except (OSError, ValueError) as e:
                diffs.append(f"{p}: {e}")
        self.results["crosscheck"] = {"compared": len(paths), "differ": diffs}
        bl.log(f"cross-check: {len(paths)} requests compared with the peer, {len(diffs)} differ")

    def write_script(self, name, sql):
        path = os.path.join(self.work, f"{name}.sql")
        with open(path, "w") as f:
            f.write(sql)
        return path

    def warm_up(self):
        w = self.cfg["warmup"]
        bl.log(f"warm-up: {w} s of GET by key and of /stream on each server, and pgbench")
        eps = self.endpoints()
        for name in self.servers:
            self.wrk(name, eps["get"], "get", 64, w)
            if name != "fastapi":
                self.wrk(name, eps["stream"], "stream", 64, w)
        bl.run_pgbench(self.write_script("warm", eps["get"]["sql"]), 64, w, self.pg_pid,
                       self.pgenv, self.work, "warm")

    # ---- measuring ----

    def wrk(self, system, ep, eid, conns, seconds):
        port, p = self.servers[system]
        if ep.get("chain"):
            return bl.run_wrk(port, None, conns, seconds, p.pid, self.pg_pid,
                              lua=os.path.join(HERE, "wrk", "chain.lua"),
                              script_args=[self.listfiles["starts"], "100"])
        return bl.run_wrk(port, self.listfiles[eid], conns, seconds, p.pid, self.pg_pid)

    def run_one(self, system, ep, eid, conns, script, seconds=None):
        d = seconds or self.cfg["duration"]
        if system == "pgbench":
            try:
                return bl.run_pgbench(script, conns, d, self.pg_pid, self.pgenv, self.work, eid)
            except RuntimeError as e:
                # Seen once at 256 clients on a loaded machine: no summary printed. Once more.
                bl.log(f"{eid}: pgbench failed ({e}); running the round again")
                return bl.run_pgbench(script, conns, d, self.pg_pid, self.pgenv, self.work, eid)
        m0 = lk_metrics(self.servers[system][0]) if system != "fastapi" else {}
        t0 = time.monotonic()
        r = self.wrk(system, ep, eid, conns, d)
        if m0:
            m1 = lk_metrics(self.servers[system][0])
            r["lk"] = {k: m1.get(k, 0) - m0.get(k, 0) for k in LK_METRICS}
            r["lk"]["pool_connections"] = m1.get("pool_connections")
            r["lk"]["window_s"] = time.monotonic() - t0  # between the two scrapes
        return r

    def bench_config(self, cid, eid, conns):
        ep = self.endpoints()[eid]
        systems = ["lakeapi", "lakeapi_nolog", "pgbench"]
        if "lakeapi_w1" in self.servers and cid in W1_CONFIGS:
            systems.append("lakeapi_w1")
        if cid == "get64" and "fastapi" in self.servers:
            systems.append("fastapi")
        if ep["probe"] and not bl.route_exists(self.servers["lakeapi"][0], ep["probe"]):
            bl.log(f"{cid}: lakeapi has no such route - skipped")
            return {"id": cid, "endpoint": eid, "title": ep["title"], "skipped": True}
        script = self.write_script(cid, ep["sql"])
        if conns > 64:
            self.results["notes"].append(
                f"{cid}: pgbench's -T gets {conns // 64 + 1} s more for starting {conns} backends "
                "(its tps excludes that time; its CPU per transaction includes it)")
        # An unmeasured warm-up of every system on this configuration first. Without it the
        # first system of round 1 (always lakeapi: the rotation starts with it) paid for
        # loading this configuration's pages into shared_buffers after the previous one had
        # evicted them: measured, its first 2 s ran at a tenth of the speed, and whole
        # rounds of user64 and stream64 collapsed (720 and 2,644 req/s, the pool overflowing).
        w = self.cfg["warmup"]
        bl.log(f"{cid}: warm-up, {w} s of each system (not measured)")
        for system in systems:
            try:
                self.run_one(system, ep, eid, conns, script, seconds=w)
            except RuntimeError as e:
                bl.log(f"{cid}: warm-up of {system} failed ({e}); measuring anyway")
        got = {s: [] for s in systems}
        rounds = self.cfg["rounds"]
        for i in range(rounds):
            # Rotate the order so no system always follows the same neighbour.
            order = systems[i % len(systems):] + systems[:i % len(systems)]
            for system in order:
                try:
                    r = self.run_one(system, ep, eid, conns, script)
                except RuntimeError as e:
                    if system in ("lakeapi", "pgbench"):
                        raise
                    # An extra column must not cost the run: noted, the round goes on.
                    self.results["notes"].append(f"{cid} round {i + 1}: {system} failed: {e}")
                    continue
                got[system].append(r)
                self.say(f"{cid} round {i + 1}/{rounds}", system, r)
        out = {"id": cid, "endpoint": eid, "title": ep["title"], "what": ep["what"],
               "sql": ep["sql"], "conns": conns, "systems": {}}
        for system, rs in got.items():
            if rs:
                out["systems"][system] = bl.summarize(rs)
        # pgbench's latency: one separate round with a sampled per-transaction log.
        la = self.cfg["latency_duration"]
        lat = bl.run_pgbench(script, conns, la, self.pg_pid, self.pgenv, self.work,
                             cid + "-lat", PGBENCH_LATENCY_SAMPLING)
        self.say(f"{cid} latency round (sampled log {PGBENCH_LATENCY_SAMPLING:g})", "pgbench", lat)
        out["pgbench_latency"] = lat
        return out

    @staticmethod
    def say(eid, system, r):
        bad = r["errors"] + r["non2xx"]
        lat = (f", p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
               if r.get("p50_ms") is not None else "")
        extra = ""
        lk = r.get("lk")
        if lk and lk.get("lakeapi_db_batches_total"):
            secs = lk.get("window_s") or r["secs"] or 1
            extra = (f", {lk['lakeapi_db_queries_total'] / lk['lakeapi_db_batches_total']:.1f} "
                     f"q/Sync, loop runnable-waiting "
                     f"{100 * lk['lakeapi_loop_runqueue_wait_seconds_total'] / secs:.0f}%")
        bl.log(f"{eid}: {system}: {r['rps']:,.0f} req/s{lat}, CPU "
               f"{(r['server_us'] or 0) + (r['pg_us'] or 0) + (r['client_us'] or 0):.0f} µs/req, "
               f"other CPU {r['other_cpu_pct']:.0f}%" + extra
               + (f", {bad} errors/non-2xx" if bad else ""))

    def checks(self):
        """Single checks: count, a deep page and /livez (no database: the floor of an HTTP
        round trip) alone (1 connection), RSS with 1,000 idle keep-alive connections."""
        port, p = self.servers["lakeapi"]
        la = self.cfg["latency_duration"]
        for eid in ("count", "pages10000", "livez"):
            r = bl.run_wrk(port, self.listfiles[eid], 1, la, p.pid, self.pg_pid)
            self.results["checks"][eid] = r
            self.say(f"{eid} alone", "lakeapi", r)
        try:
            r = bl.idle_connections_rss(port, p.pid, "/api/v1/orders/1", 1000)
            self.results["checks"]["rss"] = r
            bl.log(f"RSS: {r['rss_kb'] / 1024:.1f} MB with {r['answered']} connections open")
        except OSError as e:
            self.results["checks"]["rss"] = {"error": str(e)}

    def run(self):
        # 256 wrk connections and 1,000 idle ones: children inherit the limit.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if not os.access(self.lakeapi, os.X_OK):
            raise RuntimeError(f"no lakeapi binary at {self.lakeapi} (make build)")
        t0 = time.monotonic()
        try:
            self.start_cluster()
            self.results["machine"] = machine(self.pgenv, self.lakeapi)
            self.load()
            self.prepare_lists()
            self.start_servers()
            self.warm_up()
            self.crosscheck()
            for cid, eid, conns in CONFIGS:
                if self.only and cid not in self.only:
                    continue
                self.results["configs"].append(self.bench_config(cid, eid, conns))
            if not self.only:
                self.checks()
            with open("/proc/loadavg") as f:
                self.results["machine"]["loadavg_at_end"] = " ".join(f.read().split()[:3])
        finally:
            self.procs.stop_all()
            script = os.path.join(ROOT, "tests", "pg_cluster.sh")
            subprocess.run([script, "stop" if self.keep_pg else "destroy", self.pgdir],
                           capture_output=True)
            for name in ("lakeapi.log", "lakeapi_nolog.log", "lakeapi_w1.log", "fastapi.log"):
                path = os.path.join(self.work, name)
                if os.path.exists(path):
                    self.results.setdefault("logs", {})[name] = os.path.getsize(path)
        self.results["total_s"] = round(time.monotonic() - t0)
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

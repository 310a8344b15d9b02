"""
growth.py - the cost-growth mode of the benchmark (issue 6), run by
bench/run.sh growth: how lakeapi's cost per request moves with the table size.

For each scale factor (0.1, 1, 10 by default) it starts a throwaway PostgreSQL
(tests/pg_cluster.sh, with fsync=off: only the load gets faster, the runs read),
times `lakeapi load orders --sf SF` and VACUUM ANALYZE, starts `lakeapi serve`
and measures four endpoints with wrk at 16 connections (the request lists and
wrk script of the other modes; keys from dbgen's sparse formula, so no sampling
query on a 15M-row table): GET by key, stream from a random cursor, count, and
the page at 2/3 of the table. Then the cluster is destroyed before the next SF,
so at most one SF's data is on disk. The wrk runner, CPU meter, cluster start,
machine description and result writing are driver.py's and benchlib.py's; the
markdown is report.render_growth().

Settings (environment): LAKEAPI_BIN, BENCH_DURATION (3 s per run),
BENCH_GROWTH_SF ("0.1 1 10"), BENCH_GROWTH_CONNS (16).
"""
import os
import random
import re
import signal
import subprocess
import sys
import time

import benchlib as bl
import driver
import report

N_KEYS = 50_000


def sparse_key(i):
    """Order key of row i (1-based), dbgen's mk_sparse: 8 keys used out of every 32."""
    return ((i >> 3) << 5) | (i & 7)


def fmt_sf(sf):
    return f"{sf:g}"


class Growth:
    def __init__(self, work):
        self.work = work
        self.lakeapi = os.path.abspath(os.environ.get("LAKEAPI_BIN", os.path.join(
            driver.ROOT, "build", "lakeapi")))
        self.sfs = [float(x) for x in os.environ.get("BENCH_GROWTH_SF", "0.1 1 10").split()]
        self.duration = int(os.environ.get("BENCH_DURATION", "3"))
        self.conns = int(os.environ.get("BENCH_GROWTH_CONNS", "16"))
        self.procs = bl.Procs(os.path.join(work, "pids"))
        self.results = {"mode": "growth", "sfs": self.sfs, "duration": self.duration,
                        "conns": self.conns, "pg_opts": "-c fsync=off", "loads": [],
                        "runs": [], "notes": []}

    def lists(self, rows):
        """Request files of the four endpoints for a table of `rows` orders."""
        rnd = random.Random(42)
        keys = [sparse_key(rnd.randint(1, rows)) for _ in range(N_KEYS)]
        deep = (-(-rows * 2 // 3) - 1) // 100 + 1  # the page holding row ceil(2/3 rows)
        eps = [
            ("get", "GET /api/v1/orders/{key}", [f"GET\t/api/v1/orders/{k}" for k in keys]),
            ("stream", "GET /api/v1/orders/stream?cursor=K&page_size=100",
             [f"GET\t/api/v1/orders/stream?cursor={k}&page_size=100" for k in keys]),
            ("count", "GET /api/v1/orders/count", ["GET\t/api/v1/orders/count"]),
            ("pages", "GET /api/v1/orders/pages?page=P&page_size=100 (P at 2/3)",
             [f"GET\t/api/v1/orders/pages?page={deep}&page_size=100"]),
        ]
        out = []
        for eid, title, lines in eps:
            path = os.path.join(self.work, f"growth-{eid}.txt")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            out.append({"id": eid, "title": title, "list": path,
                        "page": deep if eid == "pages" else None})
        return out

    def load(self, sf, env):
        bl.log(f"SF {fmt_sf(sf)}: lakeapi load orders --sf {fmt_sf(sf)}")
        t0 = time.monotonic()
        p = subprocess.run([self.lakeapi, "load", "orders", "--sf", fmt_sf(sf)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError(f"lakeapi load orders --sf {sf} failed: {p.stderr[-400:]}")
        says = [m.group(1) for m in re.finditer(r'"msg":"([^"]*loaded in[^"]*)"', p.stderr)]
        bl.log(f"SF {fmt_sf(sf)}: loaded in {wall:.1f} s" + (f" ({'; '.join(says)})"
                                                            if says else ""))
        t0 = time.monotonic()
        driver.psql(env, "VACUUM ANALYZE public.orders_synced")
        vac = time.monotonic() - t0
        rows = int(driver.psql(env, "SELECT count(*) FROM public.orders_synced"))
        size = driver.psql(env, "SELECT pg_size_pretty(pg_total_relation_size("
                                "'public.orders_synced'))")
        bl.log(f"SF {fmt_sf(sf)}: {rows:,} rows, {size}, VACUUM ANALYZE {vac:.1f} s")
        expect = int(round(1_500_000 * sf))
        if rows != expect:
            self.results["notes"].append(f"SF {fmt_sf(sf)}: {rows} rows, expected {expect}")
        self.results["loads"].append({"sf": sf, "rows": rows, "load_s": round(wall, 2),
                                      "loader_says": says, "vacuum_s": round(vac, 2),
                                      "size": size})
        return rows

    @staticmethod
    def first_path(ep):
        with open(ep["list"]) as f:
            return f.readline().rstrip("\n").split("\t")[1]

    @staticmethod
    def wait_idle(env, timeout=120.0):
        """Until PostgreSQL runs no client query but this one (a run's leftovers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = int(driver.psql(env, "SELECT count(*) FROM pg_stat_activity WHERE "
                                        "state = 'active' AND backend_type = 'client backend' "
                                        "AND pid <> pg_backend_pid()"))
            if busy == 0:
                return
            time.sleep(0.2)
        bl.log(f"PostgreSQL still busy after {timeout:.0f} s; measuring anyway")

    def one_request(self, port, ep, server_pid, pg_pid):
        """One request on an idle server, for an endpoint too slow for a wrk run; the
        same figures as a run of one request (p50 = p99 = its latency)."""
        with bl.Meter(server_pid, pg_pid) as m:
            t0 = time.monotonic()
            status, _ = bl.http_get(port, self.first_path(ep), 300)
            secs = time.monotonic() - t0
        return bl._result(1, 1 / secs, secs * 1e6, secs * 1e6, m,
                          errors=0, non2xx=0 if 200 <= status < 300 else 1, conns=1,
                          threads=0, alone=True)

    def one_sf(self, sf):
        pgdir = os.path.join(self.work, f"pg-sf{fmt_sf(sf)}")
        env, pg_pid = driver.start_cluster(pgdir, "-c fsync=off")
        try:
            if "machine" not in self.results:
                self.results["machine"] = driver.machine(env, self.lakeapi)
            rows = self.load(sf, env)
            eps = self.lists(rows)
            port = bl.free_port()
            lk = self.procs.start("lakeapi", [self.lakeapi, "serve", "--port", str(port)], env,
                                  os.path.join(self.work, "lakeapi.log"))
            bl.wait_http(port, lk)
            bl.log(f"SF {fmt_sf(sf)}: lakeapi serve on 127.0.0.1:{port} (pid {lk.pid}); "
                   "warm-up")
            # The deep page scans 2/3 of the table: at SF 10 one request takes seconds, so
            # 16 connections of it as warm-up would leave queries running in PostgreSQL
            # (lakeapi does not cancel them when wrk hangs up) into the next runs. One
            # request of it, 1 s of wrk for the others, and before every run a wait until
            # PostgreSQL has no query left from the previous one.
            for ep in eps:
                if ep["id"] == "pages":
                    t0 = time.monotonic()
                    bl.http_get(port, self.first_path(ep), 300)
                    first = self.results["loads"][-1]["first_deep_page_s"] = round(
                        time.monotonic() - t0, 3)
                    bl.log(f"SF {fmt_sf(sf)}: first request of page {ep['page']}: {first:.3f} s")
                else:
                    bl.run_wrk(port, ep["list"], self.conns, 1, lk.pid, pg_pid)
            for ep in eps:
                self.wait_idle(env)
                bl.log(f"SF {fmt_sf(sf)}: {ep['id']}: wrk -c{self.conns} {self.duration} s")
                r = bl.run_wrk(port, ep["list"], self.conns, self.duration, lk.pid, pg_pid)
                if r["requests"] == 0:
                    bl.log(f"SF {fmt_sf(sf)}: {ep['id']}: no request completed in "
                           f"{self.duration} s; timing one request alone")
                    self.wait_idle(env)
                    r = self.one_request(port, ep, lk.pid, pg_pid)
                driver.Bench.say(f"SF {fmt_sf(sf)}: {ep['id']}", "lakeapi", r)
                self.results["runs"].append(dict(r, sf=sf, rows=rows, id=ep["id"],
                                                 title=ep["title"], page=ep["page"]))
            self.wait_idle(env)
            self.procs.stop(lk)
        finally:
            self.procs.stop_all()
            subprocess.run([os.path.join(driver.ROOT, "tests", "pg_cluster.sh"), "destroy",
                            pgdir], capture_output=True)

    def run(self):
        if not os.access(self.lakeapi, os.X_OK):
            raise RuntimeError(f"no lakeapi binary at {self.lakeapi} (make build)")
        t0 = time.monotonic()
        for sf in self.sfs:
            self.one_sf(sf)
        self.results["total_s"] = round(time.monotonic() - t0, 1)
        with open("/proc/loadavg") as f:
            self.results["machine"]["loadavg_at_end"] = " ".join(f.read().split()[:3])
        return self.results


def main():
    # bench/run.sh stops the driver with SIGTERM: unwind so the finally blocks clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    res = Growth(sys.argv[1]).run()
    driver.write_results("growth", res, report.render_growth(res))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""bench/export.py - streaming export vs psql's COPY (issue 9), `make bench-export`.

Exports every row of public.orders_synced (SF 1: 1.5M rows) three ways, alternating
rounds so all of them sample the same foreign load:
  psql    psql -c "COPY (SELECT * FROM public.orders_synced) TO STDOUT" > /dev/null
  ndjson  curl -H 'Accept: application/x-ndjson' /rest/v1/orders_synced > /dev/null
  csv     curl -H 'Accept: text/csv'             /rest/v1/orders_synced > /dev/null
and samples lakeapi's RSS every 20 ms throughout. The goal: ndjson rows/s >= 0.8x psql
with the RSS under 64 MB. One extra NDJSON run is counted line by line (every row came).

Settings (environment): LAKEAPI_BIN (build/lakeapi), BENCH_SF (1), BENCH_ROUNDS (3),
BENCH_PGDIR (reuse that cluster and its data; default a throwaway one under /tmp).
Results: bench/results/<date>-export.{md,json} and stdout; progress on stderr.
Every process it starts is stopped by pid; the throwaway cluster is destroyed.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PATH = "/rest/v1/orders_synced"
SELECT = "SELECT * FROM public.orders_synced"


def log(msg):
    print(f"[export] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples a process's RSS every 20 ms while active."""

    def __init__(self, pid):
        self.pid, self.max_kb, self.samples = pid, 0, 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.max_kb = max(self.max_kb, rss_kb(self.pid))
            self.samples += 1
            time.sleep(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def timed(argv, env):
    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        subprocess.run(argv, env=env, stdout=null, check=True)
    return time.monotonic() - t0


def count_ndjson_rows(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{PATH}",
                                 headers={"Accept": "application/x-ndjson"})
    n, size = 0, 0
    with urllib.request.urlopen(req, timeout=600) as r:
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            n += chunk.count(b"\n")
            size += len(chunk)
    return n, size


def main():
    lakeapi = os.environ.get("LAKEAPI_BIN", os.path.join(ROOT, "build", "lakeapi"))
    sf = os.environ.get("BENCH_SF", "1")
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    pgdir = os.environ.get("BENCH_PGDIR")
    throwaway = not pgdir
    if throwaway:
        pgdir = tempfile.mkdtemp(prefix="lakeapi-export-")
        os.chmod(pgdir, 0o755)
    cluster = os.path.join(ROOT, "tests", "pg_cluster.sh")
    server = None
    try:
        out = subprocess.run(["sh", cluster, "start", pgdir], check=True, capture_output=True,
                             text=True).stdout.split()
        env = dict(os.environ)
        env.update(kv.split("=", 1) for kv in out)
        want = int(float(sf) * 1500000)
        have = subprocess.run(["psql", "-Atc", "SELECT count(*) FROM public.orders_synced"],
                              env=env, capture_output=True, text=True).stdout.strip()
        if have != str(want):
            log(f"loading orders SF {sf}")
            subprocess.run([lakeapi, "load", "orders", "--sf", sf], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["psql", "-qc", "VACUUM ANALYZE public.orders_synced"], env=env,
                       check=True)
        port = free_port()
        senv = dict(env, LOG_LEVEL="warning")
        server = subprocess.Popen([lakeapi, "serve", "--port", str(port)], env=senv,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).read()
                break
            except Exception:
                time.sleep(0.05)
        psql = ["psql", "-c", f"COPY ({SELECT}) TO STDOUT"]
        curl = ["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{port}{PATH}", "-H"]
        log("warm-up")
        timed(psql, env)
        timed(curl + ["Accept: application/x-ndjson"], env)
        times = {"psql": [], "ndjson": [], "csv": []}
        with RssSampler(server.pid) as rss:
            for i in range(rounds):
                times["psql"].append(timed(psql, env))
                times["ndjson"].append(timed(curl + ["Accept: application/x-ndjson"], env))
                times["csv"].append(timed(curl + ["Accept: text/csv"], env))
                log(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
            rows, size = count_ndjson_rows(port)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        res = {"sf": sf, "rows": want, "rounds": rounds, "loadavg_at_end": load,
               "ndjson_rows_counted": rows, "ndjson_bytes": size,
               "rss_max_kb": rss.max_kb, "rss_samples": rss.samples}
        for k, v in times.items():
            res[k] = {"seconds": [round(x, 3) for x in v],
                      "median_rows_per_s": round(want / statistics.median(v)),
                      "best_rows_per_s": round(want / min(v))}
        res["ratio_ndjson_median"] = round(statistics.median(times["psql"]) /
                                           statistics.median(times["ndjson"]), 3)
        res["ratio_ndjson_best"] = round(min(times["psql"]) / min(times["ndjson"]), 3)
        res["ratio_csv_median"] = round(statistics.median(times["psql"]) /
                                        statistics.median(times["csv"]), 3)
        ok = rows == want and rss.max_kb < 64 * 1024
        md = [f"# Export benchmark (SF {sf}, {want} rows, {rounds} alternating rounds)", "",
              "| | median s | median rows/s | best rows/s | ratio to psql (median) |",
              "|---|---|---|---|---|"]
        for k in ("psql", "ndjson", "csv"):
            r = res[k]
            ratio = "1" if k == "psql" else str(res.get(f"ratio_{k}_median"))
            md.append(f"| {k} | {statistics.median(times[k]):.2f} | {r['median_rows_per_s']} | "
                      f"{r['best_rows_per_s']} | {ratio} |")
        md += ["", f"lakeapi RSS max {rss.max_kb / 1024:.1f} MB over {rss.samples} samples; "
               f"NDJSON rows counted {rows} of {want} ({size} bytes); loadavg {load}.",
               f"Goal (ndjson >= 0.8x psql, RSS < 64 MB, every row): "
               f"{'met' if ok and res['ratio_ndjson_median'] >= 0.8 else 'NOT met'}."]
        text = "\n".join(md) + "\n"
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        stem = os.path.join(HERE, "results", time.strftime("%Y-%m-%d") + "-export")
        with open(stem + ".md", "w") as f:
            f.write(text)
        with open(stem + ".json", "w") as f:
            json.dump(res, f, indent=1)
        print(text)
        return 0 if ok else 1
    finally:
        if server and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if throwaway:
            subprocess.run(["sh", cluster, "destroy", pgdir], capture_output=True)
            shutil.rmtree(pgdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

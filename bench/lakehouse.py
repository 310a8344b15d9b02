#!/usr/bin/python3
"""lakehouse.py - the Lakehouse backend's benchmark (issue 15) against the fake SQL warehouse.

    /usr/bin/python3 bench/lakehouse.py [--bin build/lakeapi] [--latency 0.2] [--rows 1000000]
        [--out bench/results/lakehouse.md]

The fake warehouse (tests/fake_warehouse.py: the Statement Execution API over sqlite3,
on loopback) answers every statement after --latency seconds. Measured:
  1. cached read: GET /user?id=1 once (a miss), then wrk with one connection for 5 s:
     p50/p99 of hits;
  2. 1,000 concurrent identical uncached reads: 1,000 connections opened first, then
     one request on each at once; the statements the warehouse saw, and the time from
     the first request sent to the last answer, against 1.2 x --latency;
  3. export: GET /lakehouse/v1/big (--rows rows) as text/csv, which lakeapi fetches
     through EXTERNAL_LINKS and streams on; its peak RSS (VmHWM) during the export.
Prints a markdown report (and writes it to --out).
"""
import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from fake_workspace import FakeWorkspace  # noqa: E402

PAT = "dapi-bench-token-0123456789"
WAREHOUSE = "benchwarehouse01"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def rss_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class RemoteWarehouse:
    """The fake warehouse in a process of its own (so the client's GIL does not slow it),
    driven over the workspace's /control."""

    def __init__(self, rows):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve-fake",
                                      str(self.port), "--rows", str(rows)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "ready" not in line:
            raise RuntimeError("the fake warehouse did not start")

    def _call(self, method, body=None):
        import json
        import urllib.request
        req = urllib.request.Request(self.url + "/control", method=method,
                                     data=json.dumps(body).encode() if body else None)
        return json.loads(urllib.request.urlopen(req, timeout=30).read())

    def control(self, **kw):
        self._call("POST", {"warehouse": kw})

    def snapshot(self):
        return self._call("GET")["warehouse"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def serve_fake(port, rows):
    ws, wh = setup_warehouse(rows, port)
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        ws.stop()


def setup_warehouse(rows, port=0):
    ws = FakeWorkspace({}, pat=PAT, port=port or free_port()).start()
    wh = ws.add_warehouse(warehouse_id=WAREHOUSE)
    wh.execute("CREATE TABLE users (id BIGINT NOT NULL, first_name STRING, last_name STRING, "
               "email STRING, address STRING, ip_address STRING)")
    wh.executemany("INSERT INTO users VALUES (?,?,?,?,?,?)",
                   [(i, f"First{i}", f"Last{i}", f"user{i}@example.com",
                     f"{i} Main Street\nSpringfield", f"10.0.{i // 256 % 256}.{i % 256}")
                    for i in range(1, 10001)])
    wh.execute("CREATE TABLE big (id BIGINT, name STRING, amount DECIMAL(12,2), note STRING)")
    print(f"generating {rows} rows in the fake warehouse", file=sys.stderr, flush=True)
    wh.executemany("INSERT INTO big VALUES (?,?,?,?)",
                   ((i, f"name-{i}", f"{i % 100000}.{i % 100:02d}", "quoted, \"note\"")
                    for i in range(1, rows + 1)))
    return ws, wh


def start_lakeapi(binary, ws, port):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "DATABASE", "DB_", "DATABRICKS", "LAKE"))}
    env.update({"DATABRICKS_HOST": ws.url, "DATABRICKS_TOKEN": PAT,
                "DATABRICKS_WAREHOUSE_ID": WAREHOUSE, "USERS_BACKEND": "lakehouse",
                "LAKEHOUSE_CATALOG": "main", "LAKEHOUSE_SCHEMA": "default",
                "LOG_LEVEL": "info", "DB_COMMAND_TIMEOUT": "120"})
    logf = tempfile.TemporaryFile()
    proc = subprocess.Popen([binary, "serve", "--port", str(port)], env=env, stdout=logf,
                            stderr=subprocess.STDOUT, cwd=tempfile.gettempdir())
    import urllib.request
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/lakehouse/v1/").read()
            if b"main.default.big" in body:
                return proc, logf
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    logf.seek(0)
    raise RuntimeError("lakeapi did not discover the tables:\n" + logf.read().decode()[-2000:])


def bench_cached(port):
    import urllib.request
    url = f"http://127.0.0.1:{port}/user?id=1"
    r = urllib.request.urlopen(url)
    first = r.headers.get("X-Lakeapi-Cache")
    r = urllib.request.urlopen(url)
    second = r.headers.get("X-Lakeapi-Cache")
    out = subprocess.run(["wrk", "-t1", "-c1", "-d5s", "--latency", url], capture_output=True,
                         text=True, check=True).stdout
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"first": first, "second": second, "p50_ms": pct(50), "p99_ms": pct(99), "rps": rps}


async def concurrent_identical(port, n, path):
    conns = []
    for _ in range(n):
        conns.append(await asyncio.open_connection("127.0.0.1", port))
    req = f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode()

    async def one(reader, writer):
        writer.write(req)
        await writer.drain()
        data = await reader.read()
        done = time.monotonic()
        writer.close()
        return data, done

    t0 = time.monotonic()
    res = await asyncio.gather(*(one(r, w) for r, w in conns))
    statuses = {d.split(b" ", 2)[1] for d, _ in res}
    return statuses, max(t for _, t in res) - t0, sorted(t - t0 for _, t in res)


def server_durations(logf, path):
    """duration_ms of every access-log line for path: the time lakeapi held each request."""
    import json
    logf.seek(0)
    out = []
    for line in logf.read().decode("utf-8", "replace").splitlines():
        if f'"path":"{path}"' in line or f'"path": "{path}"' in line:
            try:
                out.append(json.loads(line)["duration_ms"] / 1000)
            except (ValueError, KeyError):
                pass
    return sorted(out)


def bench_coalesce(port, wh, latency, logf):
    wh.control(reset=True)
    statuses, total, times = asyncio.run(concurrent_identical(port, 1000, "/user?id=4242"))
    snap = wh.snapshot()
    server = server_durations(logf, "/user")[-1000:] or [float("nan")]
    return {"statuses": sorted(s.decode() for s in statuses), "statements": snap["submitted"],
            "last_s": total, "p50_s": times[len(times) // 2], "bound_s": 1.2 * latency,
            "server_max_s": max(server), "server_p50_s": server[len(server) // 2],
            "server_n": len(server)}


def bench_export(port, proc, wh, rows):
    wh.control(chunk_rows=100000, reset=True)
    base = rss_kb(proc.pid, "VmRSS")
    peak = base
    t0 = time.monotonic()
    nbytes = lines = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        # HTTP/1.0: the body comes unframed until the connection closes
        s.sendall(b"GET /lakehouse/v1/big?order=id HTTP/1.0\r\nHost: bench\r\n"
                  b"Accept: text/csv\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        head, body = head.split(b"\r\n\r\n", 1)
        nbytes, lines = len(body), body.count(b"\n")
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            nbytes += len(chunk)
            lines += chunk.count(b"\n")
            peak = max(peak, rss_kb(proc.pid, "VmRSS"))
    took = time.monotonic() - t0
    return {"bytes": nbytes, "lines": lines, "seconds": took, "rss_before_mb": base / 1024,
            "rss_peak_mb": max(peak, rss_kb(proc.pid, "VmHWM")) / 1024,
            "external_fetches": wh.snapshot()["external_fetches"], "rows": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "lakeapi"))
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "lakehouse.md"))
    ap.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve_fake:
        return serve_fake(a.serve_fake, a.rows)
    log(f"starting the fake warehouse with {a.rows} rows (a process of its own)")
    wh = RemoteWarehouse(a.rows)
    ws = wh
    port = free_port()
    proc, logf = start_lakeapi(a.bin, ws, port)
    try:
        wh.control(latency=a.latency)
        log("cached reads (wrk, 1 connection, 5 s)")
        cached = bench_cached(port)
        import urllib.request
        t = time.monotonic()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/user?id=99").read()
        single = time.monotonic() - t
        log(f"one uncached read: {single * 1000:.0f} ms; 1,000 concurrent identical uncached reads")
        co = bench_coalesce(port, wh, a.latency, logf)
        log(f"export of {a.rows} rows as CSV through EXTERNAL_LINKS")
        ex = bench_export(port, proc, wh, a.rows)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            logf.seek(0)
            print("lakeapi did not stop within 20 s of SIGTERM:\n" + logf.read().decode()[-3000:],
                  file=sys.stderr)
        wh.stop()
    ok1 = cached["p50_ms"] < 1.0
    ok2 = co["statements"] == 1 and co["server_max_s"] <= co["bound_s"] and co["statuses"] == ["200"]
    ok3 = ex["rss_peak_mb"] < 64 and ex["lines"] == a.rows + 1
    report = f"""# Lakehouse backend benchmark

Fake SQL warehouse on loopback (sqlite3 behind the Statement Execution API), statement
latency {a.latency * 1000:.0f} ms. `{' '.join(sys.argv)}`

| measure | result | target | ok |
|---|---|---|---|
| cached read `GET /user?id=1` p50 (wrk, 1 conn) | {cached['p50_ms']:.3f} ms (p99 {cached['p99_ms']:.3f} ms, {cached['rps']:.0f} req/s; first {cached['first']}, then {cached['second']}) | < 1 ms | {'yes' if ok1 else 'NO'} |
| 1,000 concurrent identical uncached reads: statements | {co['statements']} | 1 | {'yes' if co['statements'] == 1 else 'NO'} |
| ... all answered within (lakeapi's access log: request parsed to response queued) | max {co['server_max_s'] * 1000:.0f} ms, median {co['server_p50_s'] * 1000:.0f} ms over {co['server_n']} requests; statuses {','.join(co['statuses'])} | <= {co['bound_s'] * 1000:.0f} ms (1.2 x latency) | {'yes' if ok2 else 'NO'} |
| ... as the Python client saw it (first send to last answer) | {co['last_s'] * 1000:.0f} ms (median {co['p50_s'] * 1000:.0f} ms; one uncached read alone: {single * 1000:.0f} ms) | (includes the asyncio client's own time for 1,000 sockets) | - |
| export {a.rows:,} rows CSV via EXTERNAL_LINKS: peak RSS | {ex['rss_peak_mb']:.1f} MB (before {ex['rss_before_mb']:.1f} MB) | < 64 MB | {'yes' if ex['rss_peak_mb'] < 64 else 'NO'} |
| ... lines, bytes, time | {ex['lines']:,} lines, {ex['bytes'] / 1e6:.1f} MB, {ex['seconds']:.1f} s, {ex['external_fetches']} links | {a.rows + 1:,} lines | {'yes' if ok3 else 'NO'} |
"""
    print(report)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(report)
    return 0 if (ok1 and ok2 and ok3) else 1


T0 = time.monotonic()
if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""soak.py - lakeapi under SOAK_SECONDS (1800) of mixed traffic, RSS and fds sampled.

Starts a private PostgreSQL (tests/pg_cluster.sh), loads TPC-H orders SF 0.01 and
users, starts lakeapi, and runs at once:
  - readers: GET by key, pages (shallow and deep), count, users list, the landing page;
  - writers: status updates, user create/update/delete, notes;
  - exports: the whole orders table walked through /api/v1/orders/stream (1000 rows a page);
  - reloads: `lakeapi load users` every 60 s (an atomic table replace under traffic);
  - churn: short-lived connections and clients that disconnect mid-request.
Every SOAK_INTERVAL (10) seconds it samples lakeapi's RSS (/proc/PID/status VmRSS) and
open file descriptors (/proc/PID/fd), and the requests and errors since the last sample.
At the end: a markdown table (stdout and SOAK_OUT/soak.md), a PNG plot (SOAK_OUT/soak.png,
matplotlib) and a verdict: fails if lakeapi died, if a 5xx was answered, if RSS grew by
more than 10% + 8 MB from the first sample after warm-up to the last, or if the fds did.

  make soak                      (30 minutes)
  SOAK_SECONDS=300 make soak     (a short run)
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LAKEAPI_BIN", os.path.join(ROOT, "build", "lakeapi"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "1800"))
INTERVAL = float(os.environ.get("SOAK_INTERVAL", "10"))
OUT = os.environ.get("SOAK_OUT", os.path.join(ROOT, "build", "soak"))
RELOAD_EVERY = float(os.environ.get("SOAK_RELOAD_EVERY", "60"))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = {}  # status or exception name -> count

    def add(self, status):
        with self.lock:
            self.requests += 1
            if status is None or status >= 500:
                self.errors[status] = self.errors.get(status, 0) + 1

    def take(self):
        with self.lock:
            r, e = self.requests, dict(self.errors)
            self.requests = 0
            self.errors = {}
            return r, e


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def worker(url, stop, stats, fn, keys):
    rnd = random.Random(hash(fn.__name__) ^ threading.get_ident())
    with httpx.Client(base_url=url, timeout=30) as c:
        while not stop.is_set():
            try:
                for status in fn(c, rnd, keys):
                    stats.add(status)
            except httpx.HTTPError as e:
                stats.add(None)
                with stats.lock:
                    stats.errors[type(e).__name__] = stats.errors.get(type(e).__name__, 0) + 1
                time.sleep(0.1)


def reads(c, rnd, keys):
    yield c.get(f"/api/v1/orders/{rnd.choice(keys)}").status_code
    yield c.get("/api/v1/orders/pages", params={"page": rnd.randint(1, 15),
                                                "page_size": 10}).status_code
    yield c.get("/api/v1/orders/count").status_code
    yield c.get("/users/", params={"limit": 50, "after": rnd.randint(0, 1500)}).status_code
    yield c.get("/user", params={"id": rnd.randint(1, 2000)}).status_code
    yield c.get("/", headers={"Accept": "text/html"}).status_code


def writes(c, rnd, keys):
    yield c.post(f"/api/v1/orders/{rnd.choice(keys)}/status",
                 json={"o_orderstatus": rnd.choice("FOP")}).status_code
    r = c.post("/user", json={"first_name": "Soak", "email": f"s{rnd.random()}@soak.example.com"})
    yield r.status_code
    if r.status_code == 200:
        uid = r.json()["user_id"]
        yield c.put(f"/user/{uid}", json={"last_name": "Soaked"}).status_code
        yield c.delete(f"/user/{uid}").status_code
    yield c.post("/api/v1/notes", json={"content": "soak " + "x" * rnd.randint(1, 200)}).status_code


def exports(c, rnd, keys):
    cursor = 0
    while True:
        r = c.get("/api/v1/orders/stream", params={"cursor": cursor, "page_size": 1000})
        yield r.status_code
        if r.status_code != 200 or not r.json()["pagination"]["has_next"]:
            return
        cursor = r.json()["pagination"]["next_cursor"]


def churn(c, rnd, keys):
    url = str(c.base_url)
    port = int(url.rsplit(":", 1)[1].rstrip("/"))
    # A client that leaves mid-request, then short-lived connections.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /api/v1/orders/pages?page=10 HTTP/1.1\r\nHost: x\r\n\r\n")
    s.close()
    yield 200
    with httpx.Client(base_url=url, timeout=10) as fresh:
        yield fresh.get("/livez").status_code
    time.sleep(0.05)


def main():
    os.makedirs(OUT, exist_ok=True)
    base = tempfile.mkdtemp(prefix="lakeapi-soak-")
    os.chmod(base, 0o755)
    script = os.path.join(ROOT, "tests", "pg_cluster.sh")
    env = dict(os.environ, PG_CLUSTER_OPTS="-c fsync=off", PG_CLUSTER_PORT="5471")
    out = subprocess.run(["sh", script, "start", base], check=True, capture_output=True,
                         text=True, env=env).stdout
    pg = dict(kv.split("=", 1) for kv in out.split())
    cenv = {k: v for k, v in os.environ.items()
            if not k.startswith(("PG", "DATABASE", "DB_", "DATABRICKS", "LAKEBASE"))}
    cenv.update(pg)
    subprocess.run([BIN, "load", "all", "--sf", "0.01", "--rows", "2000"], env=cenv, check=True,
                   capture_output=True, timeout=600)
    keys = [int(k) for k in subprocess.run(
        ["psql", "-XAtq", "-c", "SELECT o_orderkey FROM orders_synced ORDER BY random() LIMIT 500"],
        env=dict(os.environ, **pg), capture_output=True, text=True, check=True).stdout.split()]
    port = free_port()
    log = open(os.path.join(OUT, "lakeapi.log"), "wb")
    proc = subprocess.Popen([BIN, "serve", "--port", str(port)],
                            env=dict(cenv, LOG_LEVEL="warning", DB_POOL_SIZE="4"),
                            stdout=log, stderr=subprocess.STDOUT, cwd=base)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    stop = threading.Event()
    stats = Stats()
    plan = [reads] * 3 + [writes] * 2 + [exports, churn]
    threads = [threading.Thread(target=worker, args=(url, stop, stats, fn, keys), daemon=True)
               for fn in plan]
    for t in threads:
        t.start()
    samples, reloads, t0 = [], 0, time.monotonic()
    next_reload = t0 + RELOAD_EVERY
    try:
        while time.monotonic() - t0 < SECONDS and proc.poll() is None:
            time.sleep(max(0.0, INTERVAL - (time.monotonic() - t0) % INTERVAL))
            if time.monotonic() >= next_reload:
                subprocess.run([BIN, "load", "users", "--rows", "2000"], env=cenv,
                               capture_output=True, timeout=300)
                reloads += 1
                next_reload += RELOAD_EVERY
            if proc.poll() is not None:
                break
            rss, fds = proc_sample(proc.pid)
            n, errs = stats.take()
            samples.append({"t": round(time.monotonic() - t0), "rss_kb": rss, "fds": fds,
                            "requests": n, "errors": errs})
            print(f"soak: t={samples[-1]['t']:5d}s rss={rss / 1024:6.1f} MB fds={fds:4d} "
                  f"req/s={n / INTERVAL:7.0f} errors={errs or 0}", flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        alive = proc.poll() is None
        rc = None
        if alive:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
        subprocess.run(["sh", script, "destroy", base], capture_output=True, env=env)
        shutil.rmtree(base, ignore_errors=True)
    return report(samples, alive, rc, reloads)


def report(samples, alive, rc, reloads):
    lines = ["| t (s) | RSS (MB) | open fds | req/s | 5xx/errors |", "|--:|--:|--:|--:|---|"]
    for s in samples:
        lines.append(f"| {s['t']} | {s['rss_kb'] / 1024:.1f} | {s['fds']} | "
                     f"{s['requests'] / INTERVAL:.0f} | {s['errors'] or '-'} |")
    warm = samples[min(len(samples) - 1, max(1, len(samples) // 10))] if samples else None
    last = samples[-1] if samples else None
    problems = []
    if not alive or rc != 0:
        problems.append(f"lakeapi died or exited {rc}")
    if not samples:
        problems.append("no samples")
    else:
        if last["rss_kb"] > warm["rss_kb"] * 1.10 + 8 * 1024:
            problems.append(f"RSS grew {warm['rss_kb']} -> {last['rss_kb']} kB")
        if last["fds"] > warm["fds"] + 8:
            problems.append(f"fds grew {warm['fds']} -> {last['fds']}")
        bad = {k: v for s in samples for k, v in s["errors"].items()}
        if bad:
            problems.append(f"errors answered: {bad}")
    total = sum(s["requests"] for s in samples)
    summary = (f"soak: {len(samples)} samples over {samples[-1]['t'] if samples else 0} s, "
               f"{total} requests, {reloads} reloads; RSS "
               f"{warm['rss_kb'] / 1024 if warm else 0:.1f} -> "
               f"{last['rss_kb'] / 1024 if last else 0:.1f} MB, fds {warm['fds'] if warm else 0} -> "
               f"{last['fds'] if last else 0}: " + ("; ".join(problems) or "flat, no errors"))
    text = "\n".join(lines) + "\n\n" + summary + "\n"
    with open(os.path.join(OUT, "soak.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "soak.json"), "w") as f:
        json.dump(samples, f)
    print(text)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4))
        ts = [s["t"] for s in samples]
        ax.plot(ts, [s["rss_kb"] / 1024 for s in samples], label="RSS (MB)", color="tab:blue")
        ax.set_xlabel("seconds")
        ax.set_ylabel("RSS (MB)")
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(ts, [s["fds"] for s in samples], label="open fds", color="tab:orange")
        ax2.set_ylabel("open fds")
        ax2.set_ylim(bottom=0)
        fig.legend(loc="lower right")
        ax.set_title("lakeapi soak: RSS and open file descriptors")
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, "soak.png"), dpi=100)
        print(f"soak: plot in {os.path.join(OUT, 'soak.png')}")
    except ImportError:
        print("soak: python3-matplotlib is missing (scripts/deps.sh installs it): no plot")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Benchmarks of issue 12, in one run, as ratios (bounded: about 3 minutes).

  1. GET by key with WORKERS=1 vs WORKERS=2 (no replica): requests/s and lakeapi
     CPU per request (utime+stime of the process over the round / requests);
  2. the same GETs with a streaming replica (PGHOST_READ, WORKERS=1): reads on
     the replica instead of the primary;
  3. instructions per request of the server (valgrind --tool=cachegrind: this
     VM has no hardware counters for perf stat), WORKERS=1 and 2: the Ir of a
     run of 3,000 GETs minus a run of 1,000, over 2,000;
  4. the read-your-writes cost, sequential on one connection: POST /user with
     and without the split (the post-commit LSN read), and GET /user?id= with
     X-Lakeapi-Min-LSN (kept on the primary while the replica has not replayed
     it) vs without (the replica).

Configurations alternate round by round (ROUNDS, default 5) and each figure is
given as median with min and max, so a noisy shared machine shows as spread.
Writes the markdown tables to stdout (and BENCH_OUT if set).

    LAKEAPI_BIN=build/lakeapi /usr/bin/python3 bench/scale.py
Settings: ROUNDS (5), SECONDS (4, per round and configuration), CONNECTIONS (32).
"""
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "scale"))
import scale_test as st  # noqa: E402 - the cluster and instance helpers

ROUNDS = int(os.environ.get("ROUNDS", "5"))
SECONDS = int(os.environ.get("SECONDS", "4"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wrk(url, listfile, seconds=SECONDS):
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s",
                          os.path.join(ROOT, "bench", "wrk", "requests.lua"), url, "--",
                          listfile], capture_output=True, text=True, timeout=seconds + 30)
    m = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if not m:
        raise RuntimeError("wrk: " + out.stdout + out.stderr)
    return json.loads(m.group(1))


def med(xs):
    return statistics.median(xs), min(xs), max(xs)


def fmt(xs, f="{:.0f}"):
    m, lo, hi = med(xs)
    return f"{f.format(m)} ({f.format(lo)} - {f.format(hi)})"


def instructions(env, base, keys):
    """Server instructions per GET under cachegrind (all threads), startup subtracted."""
    counts = {}
    for n in (1000, 3000):
        out = os.path.join(base, f"cg-{env['WORKERS']}-{n}.out")
        port = st.free_port()
        proc = subprocess.Popen(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                                 f"--cachegrind-out-file={out}", st.BIN, "serve", "--port",
                                 str(port)], env=st.clean_env(env), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=base)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    c.close()
                    break
            except OSError:
                time.sleep(0.5)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(n):
            c.request("GET", f"/api/v1/orders/{keys[i % len(keys)]}")
            r = c.getresponse()
            r.read()
        c.close()
        proc.terminate()
        proc.wait(timeout=120)
        with open(out) as f:
            summary = [ln for ln in f if ln.startswith("summary:")]
        counts[n] = int(summary[0].split()[1])
        del url
    return (counts[3000] - counts[1000]) / 2000


def sequential(url, method, paths, body=None, headers_for=None):
    """Latencies (ms) of requests on one keep-alive connection, one at a time."""
    host, port = url.rsplit("/", 1)[-1].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=15)
    lat, answers = [], []
    for i, p in enumerate(paths):
        h = {"Content-Type": "application/json"} if body else {}
        if headers_for:
            h.update(headers_for(i))
        data = json.dumps(body(i)).encode() if body else None
        t = time.perf_counter()
        c.request(method, p, body=data, headers=h)
        r = c.getresponse()
        payload = r.read()
        lat.append((time.perf_counter() - t) * 1000)
        answers.append((r.status, dict((k.lower(), v) for k, v in r.getheaders()), payload))
    c.close()
    return lat, answers


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    base = tempfile.mkdtemp(prefix="lakeapi-scalebench-")
    os.chmod(base, 0o755)
    prim_dir, rep_dir = os.path.join(base, "primary"), os.path.join(base, "replica")
    procs, lines = [], []
    try:
        common = "-c fsync=off -c wal_level=replica -c max_wal_senders=8 -c hot_standby=on"
        prim = st.cluster("start", prim_dir, st.free_port(), common)
        subprocess.run([st.BIN, "load", "all", "--sf", "0.1", "--rows", "2000"],
                       env=st.clean_env(prim), check=True, capture_output=True, timeout=600)
        keys = [int(k) for k in st.psql(prim, "SELECT o_orderkey FROM orders_synced "
                                              "ORDER BY random() LIMIT 5000").split()]
        os.makedirs(rep_dir)
        if os.getuid() == 0:
            shutil.chown(rep_dir, "postgres", "postgres")
        os.chmod(rep_dir, 0o700)
        subprocess.run(st.as_postgres([os.path.join(st.pg_bindir(), "pg_basebackup"), "-D",
                                       os.path.join(rep_dir, "pgdata"), "-R", "-X", "stream",
                                       "-c", "fast", "-h", prim["PGHOST"], "-p", prim["PGPORT"],
                                       "-U", "postgres"]), check=True, capture_output=True)
        rep = st.cluster("start", rep_dir, st.free_port(), common)
        listfile = os.path.join(base, "gets.txt")
        with open(listfile, "w") as f:
            for k in keys:
                f.write(f"GET\t/api/v1/orders/{k}\n")
        plain = dict(prim, LOG_LEVEL="warning", DB_POOL_SIZE="8")
        split = dict(plain, PGHOST_READ=f"{rep['PGHOST']}:{rep['PGPORT']}")
        configs = {"WORKERS=1": dict(plain, WORKERS="1"), "WORKERS=2": dict(plain, WORKERS="2"),
                   "WORKERS=1 + replica": dict(split, WORKERS="1")}
        inst = {}
        for name, env in configs.items():
            inst[name] = st.Instance(base, name.replace(" ", "").replace("=", "").replace("+", "-"),
                                     env)
            procs.append(inst[name])
        time.sleep(1)
        for i in inst.values():  # warm every pool and the caches
            wrk(i.url, listfile, 1)
        res = {n: {"rps": [], "cpu_us": [], "p50": [], "p99": []} for n in configs}
        for r in range(ROUNDS):
            order = list(configs) if r % 2 == 0 else list(reversed(list(configs)))
            for name in order:
                pid = inst[name].proc.pid
                c0 = cpu_seconds(pid)
                w = wrk(inst[name].url, listfile)
                c1 = cpu_seconds(pid)
                bad = w["connect"] + w["read"] + w["write"] + w["status"] + w["timeout"]
                assert bad == 0, f"{name}: errors {w}"
                rps = w["requests"] / (w["duration_us"] / 1e6)
                res[name]["rps"].append(rps)
                res[name]["cpu_us"].append((c1 - c0) / w["requests"] * 1e6)
                res[name]["p50"].append(w["p50_us"] / 1000)
                res[name]["p99"].append(w["p99_us"] / 1000)
            print(f"round {r + 1}/{ROUNDS} done", file=sys.stderr, flush=True)
        replica_reads = st.target_queries(inst["WORKERS=1 + replica"], "replica")

        # read-your-writes costs, sequential, in alternating chunks
        n, chunk = 300, 50
        split_url, plain_url = inst["WORKERS=1 + replica"].url, inst["WORKERS=1"].url
        lat_w_plain, lat_w_split, lat_r_plain, lat_r_lsn = [], [], [], []
        ids = []
        for _ in range(n // chunk):
            lat, _ = sequential(plain_url, "POST", ["/user"] * chunk,
                                body=lambda i: {"first_name": "B"})
            lat_w_plain += lat
            lat, ans = sequential(split_url, "POST", ["/user"] * chunk,
                                  body=lambda i: {"first_name": "B"})
            lat_w_split += lat
            assert all("x-lakeapi-min-lsn" in a[1] for a in ans)
            ids += [json.loads(a[2])["user_id"] for a in ans]
        m0 = inst["WORKERS=1 + replica"].metrics()
        for k in range(n // chunk):
            part = [f"/user?id={u}" for u in ids[k * chunk:(k + 1) * chunk]]
            lat, _ = sequential(split_url, "GET", part)
            lat_r_plain += lat
            # A position no replica has replayed: the rule keeps the read on the primary.
            lat, _ = sequential(split_url, "GET", part,
                                headers_for=lambda i: {"X-Lakeapi-Min-LSN": "FFFFFFFF/0"})
            lat_r_lsn += lat
        m1 = inst["WORKERS=1 + replica"].metrics()
        kept = (m1.get('lakeapi_db_primary_reads_total{reason="min_lsn"}', 0) -
                m0.get('lakeapi_db_primary_reads_total{reason="min_lsn"}', 0))

        ipr = {w: instructions(dict(plain, WORKERS=w), base, keys) for w in ("1", "2")}

        w1, w2, wr = (res["WORKERS=1"], res["WORKERS=2"], res["WORKERS=1 + replica"])
        r21 = [b / a for a, b in zip(w1["rps"], w2["rps"])]
        rr1 = [b / a for a, b in zip(w1["rps"], wr["rps"])]
        lines += [
            f"GET /api/v1/orders/{{key}}: wrk -t1 -c{CONNECTIONS}, {SECONDS} s per round, "
            f"{ROUNDS} alternating rounds; median (min - max). {os.cpu_count()} cores, shared "
            f"with wrk and PostgreSQL.",
            "",
            "| configuration | requests/s | lakeapi CPU us/request | p50 ms | p99 ms |",
            "|---|---|---|---|---|",
        ]
        for name in configs:
            x = res[name]
            lines.append(f"| {name} | {fmt(x['rps'])} | {fmt(x['cpu_us'], '{:.1f}')} | "
                         f"{fmt(x['p50'], '{:.2f}')} | {fmt(x['p99'], '{:.2f}')} |")
        lines += [
            "",
            f"- WORKERS=2 / WORKERS=1 throughput, per round: {fmt(r21, '{:.2f}')}",
            f"- with replica / without, per round: {fmt(rr1, '{:.2f}')} "
            f"({int(replica_reads)} reads served by the replica)",
            f"- server instructions per GET (cachegrind, startup subtracted): WORKERS=1 "
            f"{ipr['1']:.0f}, WORKERS=2 {ipr['2']:.0f}",
            "",
            f"Read-your-writes, {n} sequential requests of each kind on one connection, in "
            f"alternating chunks of {chunk} (ms):",
            "",
            "| request | p50 | p90 |",
            "|---|---|---|",
            f"| POST /user, no split | {pct(lat_w_plain, .5):.2f} | {pct(lat_w_plain, .9):.2f} |",
            f"| POST /user, split (+ post-commit LSN read) | {pct(lat_w_split, .5):.2f} | "
            f"{pct(lat_w_split, .9):.2f} |",
            f"| GET /user?id=, no header (replica) | {pct(lat_r_plain, .5):.2f} | "
            f"{pct(lat_r_plain, .9):.2f} |",
            f"| GET /user?id=, X-Lakeapi-Min-LSN not replayed (primary; {int(kept)}/{n} "
            f"kept there) | {pct(lat_r_lsn, .5):.2f} | {pct(lat_r_lsn, .9):.2f} |",
        ]
    finally:
        for p in procs:
            p.stop()
        for d in (rep_dir, prim_dir):
            try:
                st.cluster("stop", d)
            except Exception as e:  # noqa: BLE001 - tear down what can be
                print(f"stopping {d}: {e}", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if os.environ.get("BENCH_OUT"):
        with open(os.environ["BENCH_OUT"], "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()

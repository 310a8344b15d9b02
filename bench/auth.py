#!/usr/bin/python3
"""bench/auth.py - what access control costs (issue 10), in one run.

  bench/auth.sh   (builds nothing; LAKEAPI_BIN, default build/lakeapi)

1. GET /rest/v1/orders_synced?o_orderkey=eq.K (random K; the Data API) on lakeapi servers over the same
   database: one open (no auth settings), one verifying an RS256 bearer token
   against a JWKS on loopback (verification cached after the first request),
   running every request as `SET LOCAL ROLE` + request settings in its own
   transaction. wrk rounds alternate between the two; the report is req/s and
   the ratio auth / open.
2. pgbench -M prepared running the same two things PostgreSQL-side: the plain
   SELECT, and BEGIN; set_config(role, claims, method, path, headers); SELECT;
   COMMIT - the transaction cost without lakeapi.
A third server runs the same transaction for anonymous requests (DB_ANON_ROLE, no
JWT): it separates the cost of the transaction from the cost of the token.
"""
import json
import os
import random
import re
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import jwt_tokens as jt  # noqa: E402

BIN = os.environ.get("LAKEAPI_BIN", os.path.join(ROOT, "build", "lakeapi"))
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNS = int(os.environ.get("BENCH_CONNS", "32"))
SF = os.environ.get("BENCH_SF", "0.1")
NKEYS = int(float(SF) * 1500000 * 4)  # TPC-H order keys are sparse: 1..6M per SF 1.5M rows


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, env=None, **kw):
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, **kw)


def psql(pg, sql):
    return run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
               env=dict(os.environ, **pg)).stdout.strip()


def serve(pg, **extra):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DATABASE", "JWT"))}
    env.update(pg, LOG_LEVEL="warning", **extra)
    p = subprocess.Popen([BIN, "serve", "--port", str(port)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("lakeapi did not start")


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port, listfile, token=None, pid=None):
    """(req/s, lakeapi CPU microseconds per request): the second is immune to a busy machine."""
    c0 = cpu_s(pid) if pid else 0
    cmd = ["wrk", "-t2", f"-c{CONNS}", f"-d{DURATION}s", "-s",
           os.path.join(ROOT, "bench", "wrk", "requests.lua")]
    if token:
        cmd += ["-H", "Authorization: Bearer " + token]
    out = run(cmd + [f"http://127.0.0.1:{port}", "--", listfile]).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed requests:\n{out}")
    return float(m.group(1)), ((cpu_s(pid) - c0) / n * 1e6 if pid else 0)


def pgbench(pg, script):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    out = run(["pgbench", "-n", "-M", "prepared", "-c", str(CONNS), "-j", "2", "-T",
               str(DURATION), "-f", f.name], env=dict(os.environ, **pg)).stdout
    os.unlink(f.name)
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def main():
    base = tempfile.mkdtemp(prefix="lakeapi-bench-auth-")
    os.chmod(base, 0o755)
    script = os.path.join(ROOT, "tests", "pg_cluster.sh")
    out = run(["sh", script, "start", base],
              env=dict(os.environ, PG_CLUSTER_OPTS="-c fsync=off")).stdout
    pg = dict(kv.split("=", 1) for kv in out.split())
    procs = []
    jwks_server = None
    try:
        log(f"auth bench: loading orders SF {SF}")
        run([BIN, "load", "orders", "--sf", SF], env=dict(os.environ, **pg), timeout=900)
        psql(pg, "DO $$ BEGIN CREATE ROLE bench_user NOLOGIN; EXCEPTION WHEN duplicate_object "
                 "THEN NULL; END $$; GRANT bench_user TO CURRENT_USER; "
                 "GRANT SELECT ON public.orders_synced TO bench_user")
        key = jt.Key("RSA", "bench-1")
        jwks = json.dumps({"keys": [key.jwk]}).encode()

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(jwks)))
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *a):
                pass

        jwks_server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=jwks_server.serve_forever, daemon=True).start()
        jwks_url = f"http://127.0.0.1:{jwks_server.server_address[1]}/jwks.json"
        token = jt.token(jt.claims("bench", role="bench_user", ttl=3600), "RS256", key)

        keys = [int(k) for k in psql(pg, "SELECT o_orderkey FROM orders_synced ORDER BY "
                                         "random() LIMIT 20000").split()]
        listfile = os.path.join(base, "requests.txt")
        with open(listfile, "w") as f:
            for k in keys:
                f.write(f"GET\t/rest/v1/orders_synced?o_orderkey=eq.{k}\n")
        open_p, open_port = serve(pg)
        auth_p, auth_port = serve(pg, JWT_JWKS_URL=jwks_url)
        anon_p, anon_port = serve(pg, DB_ANON_ROLE="bench_user")
        procs += [open_p, auth_p, anon_p]
        time.sleep(0.5)  # the JWKS fetch
        runs = {"open": (open_port, None, open_p.pid), "auth": (auth_port, token, auth_p.pid),
                "anon": (anon_port, None, anon_p.pid)}
        for port, tok, pid in runs.values():
            wrk(port, listfile, tok)  # warm-up
        results = {k: [] for k in runs}
        cpu = {k: [] for k in runs}
        for r in range(ROUNDS):
            for k, (port, tok, pid) in runs.items():
                rps, us = wrk(port, listfile, tok, pid)
                results[k].append(rps)
                cpu[k].append(us)
            log(f"round {r + 1}: " + ", ".join(f"{k} {results[k][-1]:.0f} req/s "
                                               f"{cpu[k][-1]:.1f} us CPU/req" for k in runs))
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
        procs = []
        sel = ("\\set k random(1, %d)\nSELECT o_orderkey, o_custkey, o_orderstatus, o_totalprice, "
               "o_orderdate, o_orderpriority, o_clerk, o_shippriority, o_comment FROM "
               "public.orders_synced WHERE o_orderkey = :k;\n" % NKEYS)
        txn = sel.replace("SELECT o_orderkey", "BEGIN;\nSELECT set_config('role', 'bench_user', "
                          "true), set_config('request.jwt.claims', '{\"sub\":\"bench\",\"role\":"
                          "\"bench_user\"}', true), set_config('request.method', 'GET', true), "
                          "set_config('request.path', '/rest/v1/orders_synced', true), "
                          "set_config('request.headers', '{}', true);\nSELECT o_orderkey", 1)
        txn += "COMMIT;\n"
        # The same transaction pipelined (one round trip, as lakeapi sends it).
        piped = txn.replace("BEGIN;", "\\startpipeline\nBEGIN;", 1) + "\\endpipeline\n"
        pg_plain = pgbench(pg, sel)
        pg_txn = pgbench(pg, txn)
        pg_piped = pgbench(pg, piped)
        o = statistics.median(results["open"])
        a = statistics.median(results["auth"])
        n = statistics.median(results["anon"])
        co, ca, cn = (statistics.median(cpu[k]) for k in ("open", "auth", "anon"))
        print("| what | throughput | lakeapi CPU per request |\n|---|---|---|")
        print(f"| lakeapi GET /rest/v1/orders_synced?o_orderkey=eq.K, no auth | {o:.0f} req/s | {co:.1f} us |")
        print(f"| lakeapi, RS256 bearer (cached) + SET LOCAL ROLE transaction | {a:.0f} req/s | "
              f"{ca:.1f} us |")
        print(f"| lakeapi, no token, DB_ANON_ROLE (the same transaction, no JWT) | {n:.0f} req/s | "
              f"{cn:.1f} us |")
        print(f"| **ratio auth / open** | **{a / o:.2f}** | {co / ca:.2f} |")
        print("\n| pgbench (same database, same clients) | throughput |\n|---|---|")
        print(f"| pgbench -M prepared, the SELECT alone | {pg_plain:.0f} tps |")
        print(f"| pgbench -M prepared, BEGIN; set_config x5; SELECT; COMMIT | {pg_txn:.0f} tps |")
        print(f"| pgbench, the same transaction in one pipeline (\\startpipeline) | "
              f"{pg_piped:.0f} tps |")
        print(f"| **ratio transaction / SELECT in pgbench** (4 round trips; pipelined) | "
              f"**{pg_txn / pg_plain:.2f}**; **{pg_piped / pg_plain:.2f}** |")
        print(f"\n{CONNS} connections, {DURATION} s per run, median of {ROUNDS} alternating "
              f"rounds (" + "; ".join(f"{k}: " + ", ".join(f"{x:.0f}" for x in v)
                                      for k, v in results.items()) + f"), SF {SF}.")
    finally:
        for p in procs:
            p.kill()
        if jwks_server:
            jwks_server.shutdown()
        subprocess.run(["sh", script, "destroy", base], capture_output=True)


if __name__ == "__main__":
    main()

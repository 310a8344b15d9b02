"""
benchlib.py - the measuring tools of the benchmark (bench/driver.py uses them):
child processes that are always cleaned up, CPU and RSS read from /proc, the
wrk and pgbench runners and their parsers, and the idle keep-alive client.

Everything here talks to loopback only. CPU is read from /proc/<pid>/stat
(utime+stime of a process and its live descendants, plus the cutime+cstime of
the root, which holds the CPU of children it has already reaped - how exited
PostgreSQL backends stay counted).
"""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))
WRK_LUA = os.path.join(HERE, "wrk", "requests.lua")


def log(msg):
    """Progress goes to stderr with the time since the benchmark started."""
    print(f"[{time.monotonic() - log.t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


log.t0 = time.monotonic()


# ---- child processes ----

class Procs:
    """Long-running children, each in its own process group so a server's
    workers stop with it. Their pids are appended to pidfile so bench/run.sh can
    stop them even if this interpreter dies."""

    def __init__(self, pidfile):
        self.pidfile = pidfile
        self.procs = []

    def start(self, name, argv, env, logpath):
        out = open(logpath, "ab")
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid}\n")
        p.bench_name = name
        self.procs.append(p)
        return p

    def stop(self, p, grace=10.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(reversed(self.procs)):
            self.stop(p)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5.0):
    """One HTTP/1.1 request on a fresh connection: (status, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def wait_http(port, proc, path="/api/v1/orders/count", timeout=60.0):
    """Waits until the server answers anything on path; raises if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.bench_name} exited with {proc.returncode} while starting")
        try:
            http_get(port, path, timeout=2.0)
            return
        except (OSError, ValueError, IndexError):
            time.sleep(0.2)
    raise RuntimeError(f"{proc.bench_name} does not answer on port {port}")


def route_exists(port, path):
    """False when the router does not know the route (a bare 404 Not Found)."""
    try:
        status, body = http_get(port, path)
    except (OSError, ValueError, IndexError):
        return False
    return not (status == 404 and b'"Not Found"' in body)


# ---- /proc ----

def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # The command name may hold blanks and parentheses: split after the last ')'.
    fields = s[s.rindex(")") + 2:].split()
    return fields  # fields[0] is field 3 (state)


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(_stat(d)[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_pids(root):
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(root):
    """CPU ticks of root and its live descendants, plus what root has reaped."""
    total = 0
    for pid in tree_pids(root):
        try:
            f = _stat(pid)
        except (OSError, ValueError, IndexError):
            continue
        total += int(f[11]) + int(f[12])  # utime, stime
        if pid == root:
            total += int(f[13]) + int(f[14])  # cutime, cstime
    return total


def rss_kb(root, tree=False, field="VmRSS:"):
    """VmRSS (or another /proc status field in kB) of root, or of its whole tree."""
    total = 0
    for pid in (tree_pids(root) if tree else [root]):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def machine_busy_ticks():
    """Busy ticks of all CPUs from /proc/stat: user, nice, system and steal. irq and
    softirq are left out: loopback networking runs there, and the kernel may charge
    that time to no process, so it would show our own work as someone else's."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[7]


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---- runs ----

class Meter:
    """CPU of the server tree, of PostgreSQL and of the load generator over one run."""

    def __init__(self, server_pid, pg_pid):
        self.server_pid, self.pg_pid = server_pid, pg_pid

    def __enter__(self):
        self.t0 = time.monotonic()
        self.m0 = machine_busy_ticks()
        self.s0 = cpu_ticks(self.server_pid) if self.server_pid else 0
        self.p0 = cpu_ticks(self.pg_pid)
        self.c0 = children_cpu_s()
        return self

    def __exit__(self, *exc):
        self.server_s = ((cpu_ticks(self.server_pid) - self.s0) / CLK_TCK
                         if self.server_pid else None)
        self.pg_s = (cpu_ticks(self.pg_pid) - self.p0) / CLK_TCK
        self.client_s = children_cpu_s() - self.c0
        # Whatever else ran meanwhile (other tenants, steal): the run's noise.
        busy = (machine_busy_ticks() - self.m0) / CLK_TCK
        ours = (self.server_s or 0) + self.pg_s + self.client_s
        wall = (time.monotonic() - self.t0) * (os.cpu_count() or 1)
        self.other_pct = max(0.0, 100.0 * (busy - ours) / wall) if wall > 0 else 0.0
        return False


def run_wrk(port, listfile, conns, seconds, server_pid, pg_pid, threads=2, lua=None,
            script_args=None):
    """One wrk run. lua: the script (requests.lua, replaying listfile; chain.lua takes
    script_args instead)."""
    threads = max(1, min(threads, conns))
    args = script_args if script_args is not None else [listfile]
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s",
            "--latency", "-s", lua or WRK_LUA, f"http://127.0.0.1:{port}", "--"] + list(args)
    with Meter(server_pid, pg_pid) as m:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    w = json.loads(line[len("WRKJSON "):])
    n = w["requests"]
    secs = w["duration_us"] / 1e6
    errors = w["connect"] + w["read"] + w["write"] + w["timeout"]
    return _result(n, n / secs if secs else 0.0, w["p50_us"], w["p99_us"], m,
                   errors=errors, non2xx=w["status"], conns=conns, threads=threads)


def _percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def run_pgbench(script, conns, seconds, pg_pid, env, workdir, tag, sampling=None):
    """pgbench -n -M prepared as users run it. sampling=None: no per-transaction log (the
    throughput rounds: -l costs pgbench throughput); a rate in (0, 1]: -l with
    --sampling-rate for the latency percentiles (a separate round)."""
    threads = max(1, min(2, conns))
    prefix = os.path.join(workdir, f"pgb-{tag}")
    # -T counts from before the clients connect, and 256 backends take seconds to start
    # (measured: 2 s here; then a 2 s run processed nothing): their start-up gets its own
    # allowance, and tps is pgbench's own figure "without initial connection time".
    allowance = 0 if conns <= 64 else conns // 64 + 1
    argv = ["pgbench", "-n", "-M", "prepared", "-f", script, "-c", str(conns), "-j",
            str(threads), "-T", str(seconds + allowance)]
    if sampling:
        argv += ["-l", "--log-prefix", prefix]
        if sampling < 1.0:
            argv += ["--sampling-rate", str(sampling)]
    with Meter(None, pg_pid) as m:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=workdir,
                             timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    tps_m = re.search(r"tps = ([\d.]+) \(without initial", out.stdout)
    done_m = re.search(r"actually processed: (\d+)", out.stdout)
    if not tps_m or not done_m:
        raise RuntimeError(f"pgbench printed no tps: {(out.stdout + out.stderr).strip()[-600:]}")
    tps, done = float(tps_m.group(1)), int(done_m.group(1))
    failed_m = re.search(r"number of failed transactions: (\d+)", out.stdout)
    extra = {}
    p50 = p99 = None
    if sampling:
        lat = []
        d = os.path.dirname(prefix)
        for name in os.listdir(d):
            if name.startswith(os.path.basename(prefix) + "."):
                path = os.path.join(d, name)
                with open(path) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) >= 3:
                            lat.append(int(parts[2]))
                os.unlink(path)
        raw = sorted(lat)
        # wrk's convention, so the two latency columns compare: see co_correct().
        interval = int(seconds * 1e6 / (done / conns)) if done >= conns else 0
        lat = sorted(co_correct(raw, interval))
        p50, p99 = _percentile(lat, 50), _percentile(lat, 99)
        extra = {"raw_p50_ms": _ms(_percentile(raw, 50)), "raw_p99_ms": _ms(_percentile(raw, 99)),
                 "samples": len(raw), "sampling": sampling}
    return _result(done, tps, p50, p99, m, errors=int(failed_m.group(1)) if failed_m else 0,
                   non2xx=0, conns=conns, threads=threads, **extra)


def _ms(us):
    return None if us is None else us / 1000.0


def co_correct(samples, interval):
    """wrk 4 corrects its latency histogram for coordinated omission before it reports
    anything (stats_correct(), with interval = runtime / (requests / connections)): a
    sample of n us also counts n - interval, n - 2 interval, ... while above interval,
    the requests a stalled connection would have sent meanwhile. The same here for
    pgbench's samples, so p50/p99 of both tools mean the same thing."""
    if interval <= 0:
        return list(samples)
    out = list(samples)
    for n in samples:
        if n >= 2 * interval:
            m = n - interval
            while m > interval:
                out.append(m)
                m -= interval
    return out


def _result(n, rps, p50_us, p99_us, m, **extra):
    """One run's figures; the *_s totals let merge() add rounds up exactly."""
    def per_req(secs):
        return None if secs is None or n == 0 else secs * 1e6 / n

    r = {"requests": n, "rps": rps, "secs": n / rps if rps else 0.0,
         "p50_ms": None if p50_us is None else p50_us / 1000.0,
         "p99_ms": None if p99_us is None else p99_us / 1000.0,
         "server_us": per_req(m.server_s), "pg_us": per_req(m.pg_s),
         "client_us": per_req(m.client_s), "other_cpu_pct": m.other_pct,
         "server_s": m.server_s, "pg_s": m.pg_s, "client_s": m.client_s}
    r.update(extra)
    return r


def merge(rounds):
    """Rounds of one system on one endpoint as one result: req/s over the summed time,
    CPU per request over the summed CPU, p50 the request-weighted mean of the rounds'
    p50s, p99 the worst round's (percentiles do not add up; the worst is the honest
    bound)."""
    if len(rounds) == 1:
        return dict(rounds[0], rounds=1)
    n = sum(r["requests"] for r in rounds)
    secs = sum(r["secs"] for r in rounds)

    def total(key):
        vals = [r[key] for r in rounds]
        return None if any(v is None for v in vals) else sum(vals)

    def per_req(key):
        t = total(key)
        return None if t is None or n == 0 else t * 1e6 / n

    def worst(key):
        vals = [r[key] for r in rounds if r.get(key) is not None]
        return max(vals) if vals else None

    p50s = [(r["p50_ms"], r["requests"]) for r in rounds if r["p50_ms"] is not None]
    weight = sum(w for _, w in p50s)
    out = dict(rounds[0])
    out.update({
        "requests": n, "secs": secs, "rps": n / secs if secs else 0.0,
        "p50_ms": sum(p * w for p, w in p50s) / weight if weight else None,
        "p99_ms": worst("p99_ms"), "raw_p99_ms": worst("raw_p99_ms"),
        "server_s": total("server_s"), "pg_s": total("pg_s"), "client_s": total("client_s"),
        "server_us": per_req("server_s"), "pg_us": per_req("pg_s"),
        "client_us": per_req("client_s"),
        "other_cpu_pct": (sum(r["other_cpu_pct"] * r["secs"] for r in rounds) / secs
                          if secs else 0.0),
        "errors": sum(r["errors"] for r in rounds), "non2xx": sum(r["non2xx"] for r in rounds),
        "rounds": len(rounds), "round_rps": [round(r["rps"]) for r in rounds],
    })
    return out


def spread(rounds, key):
    """Median, min and max of one figure over rounds (None where a round lacks it)."""
    vals = sorted(r[key] for r in rounds if r.get(key) is not None)
    if not vals:
        return None
    n = len(vals)
    med = vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2
    return {"median": med, "min": vals[0], "max": vals[-1], "n": n}


def summarize(rounds):
    """Rounds of one system in one configuration: every figure as median/min/max, plus
    the rounds themselves. CPU per request is the median of the rounds' own figures."""
    keys = ("rps", "p50_ms", "p99_ms", "server_us", "pg_us", "client_us", "total_us",
            "other_cpu_pct")
    for r in rounds:
        r["total_us"] = sum(r[k] or 0 for k in ("server_us", "pg_us", "client_us"))
    out = {k: spread(rounds, k) for k in keys}
    out["errors"] = sum(r["errors"] + r["non2xx"] for r in rounds)
    out["rounds"] = rounds
    out["conns"] = rounds[0]["conns"] if rounds else None
    return out


# ---- idle keep-alive connections ----

def idle_connections_rss(port, server_pid, path, count=1000, tree=False):
    """Opens count keep-alive connections, sends one request on each and reads
    its answer, then keeps them open and reads the server's VmRSS."""
    before = rss_kb(server_pid, tree)
    socks, answered = [], 0
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    try:
        # All connect, then all ask, then all read: a slow server gets every request at
        # once instead of one round trip after another (uvicorn closes a connection idle
        # for 5 s, so a sequential client would lose the first ones before the last).
        for _ in range(count):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        for s in socks:
            s.sendall(req)
        for s in socks:
            if _read_response(s):
                answered += 1
        time.sleep(1.0)
        fds = sum(fd_count(p) for p in (tree_pids(server_pid) if tree else [server_pid]))
        during = rss_kb(server_pid, tree)
        peak = rss_kb(server_pid, tree, "VmHWM:")
        # Still alive? Ask on the first connection once more.
        socks[0].sendall(req)
        alive = _read_response(socks[0])
    finally:
        for s in socks:
            s.close()
    return {"connections": count, "answered": answered, "rss_before_kb": before,
            "rss_kb": during, "hwm_kb": peak, "fds": fds, "still_serving": alive}


def _read_response(s):
    """Reads one response with a Content-Length body; True on a 2xx."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head[9:10] == b"2"

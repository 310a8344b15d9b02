"""A bounded concurrent write load with a client-side ledger, for the fault tests.

Writer threads send status updates (each thread owns its order keys) and user
creations (unique emails) to lakeapi; a reader thread sends GETs. Every answer
is classified:

- ack: 200/201, the write is acknowledged and must be in the tables afterwards;
- unknown: 503/504 whose detail says "the update may not have been applied";
- not_applied: 503/504 whose detail says "the update was not applied" (then it
  must NOT be in the tables: the server promised);
- anything else (a transport error, a timeout, another status) is a failure.

`verify(pg)` compares the ledger against the tables with psql.
"""
import threading
import time

import httpx

from conftest import psql

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UNKNOWN = "the update may not have been applied"
NOT_APPLIED = "the update was not applied"


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = {}   # key -> [(letter, outcome)] in send order
        self.users = []    # (email, outcome)
        self.reads = {}    # status code -> count
        self.failures = [] # (what, detail)
        self.latencies = []  # (start monotonic, seconds, kind, status)

    def outcome(self, r):
        if r.status_code in (200, 201):
            return "ack"
        if r.status_code in (503, 504):
            detail = r.json().get("detail", "")
            if detail.endswith(UNKNOWN):
                return "unknown"
            if detail.endswith(NOT_APPLIED):
                return "not_applied"
        return None


class WriteLoad:
    """writers status-update threads and one user-creating thread, plus one reader."""

    def __init__(self, url, keys, writers=2, tag="f", timeout=10.0):
        self.url = url
        self.keys = keys
        self.ledger = Ledger()
        self.stop_flag = threading.Event()
        self.tag = tag
        self.timeout = timeout
        self.threads = []
        per = max(1, len(keys) // writers)
        for w in range(writers):
            mine = keys[w * per:(w + 1) * per]
            self.threads.append(threading.Thread(target=self._status_writer, args=(w, mine)))
        self.threads.append(threading.Thread(target=self._user_writer))
        self.threads.append(threading.Thread(target=self._reader))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=self.timeout + 5)
        assert not any(t.is_alive() for t in self.threads), "a load thread hung"
        return self.ledger

    def _call(self, client, kind, fn):
        t0 = time.monotonic()
        try:
            r = fn()
        except httpx.HTTPError as e:
            with self.ledger.lock:
                self.ledger.failures.append((kind, repr(e)))
                self.ledger.latencies.append((t0, time.monotonic() - t0, kind, None))
            time.sleep(0.05)
            return None
        with self.ledger.lock:
            self.ledger.latencies.append((t0, time.monotonic() - t0, kind, r.status_code))
        return r

    def _record(self, r, kind, add):
        """Files a write's answer with add(outcome), or as a failure; backs off on errors."""
        if r is None:
            return
        out = self.ledger.outcome(r)
        with self.ledger.lock:
            if out is None:
                self.ledger.failures.append((kind, f"{r.status_code} {r.text}"))
            else:
                add(out)
        if out != "ack":
            time.sleep(0.02)

    def _status_writer(self, w, keys):
        n = 0
        with httpx.Client(base_url=self.url, timeout=self.timeout) as c:
            while not self.stop_flag.is_set():
                key = keys[n % len(keys)]
                letter = LETTERS[(n // len(keys) + w) % 26]
                n += 1
                r = self._call(c, "status", lambda: c.post(
                    f"/api/v1/orders/{key}/status", json={"o_orderstatus": letter}))
                self._record(r, "status",
                             lambda out: self.ledger.status.setdefault(key, []).append((letter, out)))

    def _user_writer(self):
        n = 0
        with httpx.Client(base_url=self.url, timeout=self.timeout) as c:
            while not self.stop_flag.is_set():
                email = f"{self.tag}-{n}@faults.example.com"
                n += 1
                r = self._call(c, "user", lambda: c.post(
                    "/user", json={"first_name": "Fault", "last_name": self.tag, "email": email}))
                self._record(r, "user", lambda out: self.ledger.users.append((email, out)))

    def _reader(self):
        with httpx.Client(base_url=self.url, timeout=self.timeout) as c:
            i = 0
            while not self.stop_flag.is_set():
                key = self.keys[i % len(self.keys)]
                i += 1
                r = self._call(c, "read", lambda: c.get(f"/api/v1/orders/{key}"))
                if r is None:
                    continue
                with self.ledger.lock:
                    self.ledger.reads[r.status_code] = self.ledger.reads.get(r.status_code, 0) + 1
                    if r.status_code not in (200, 503, 504):
                        self.ledger.failures.append(("read", f"{r.status_code} {r.text}"))
                if r.status_code != 200:
                    time.sleep(0.02)


def verify(ledger, pg, initial):
    """Checks the tables against the ledger; returns counts. initial: key -> status."""
    keys = sorted(ledger.status)
    final = {}
    if keys:
        rows = psql(pg, "SELECT o_orderkey, o_orderstatus FROM orders_synced WHERE o_orderkey IN ("
                    + ",".join(str(k) for k in keys) + ")")
        for line in rows.splitlines():
            k, v = line.split("|")
            final[int(k)] = v
    acked = unknown = not_applied = 0
    problems = []
    for key, writes in ledger.status.items():
        last_ack = max((i for i, (_, o) in enumerate(writes) if o == "ack"), default=-1)
        allowed = {writes[last_ack][0]} if last_ack >= 0 else {initial[key]}
        # An unknown write may commit late (a frozen backend runs what it had
        # received when it wakes up, after lakeapi gave up on it), so any of them.
        allowed |= {v for v, o in writes if o == "unknown"}
        if final.get(key) not in allowed:
            problems.append(f"order {key}: {final.get(key)} not in {sorted(allowed)} "
                            f"(last writes {writes[-5:]})")
        acked += sum(1 for _, o in writes if o == "ack")
        unknown += sum(1 for _, o in writes if o == "unknown")
        not_applied += sum(1 for _, o in writes if o == "not_applied")
    present = set()
    if ledger.users:
        tag = ledger.users[0][0].split("-")[0]
        present = set(psql(pg, f"SELECT email FROM users WHERE email LIKE '{tag}-%'").split())
    for email, o in ledger.users:
        if o == "ack" and email not in present:
            problems.append(f"acknowledged user {email} is missing")
        if o == "not_applied" and email in present:
            problems.append(f"user {email} answered 'not applied' but exists")
        acked += o == "ack"
        unknown += o == "unknown"
        not_applied += o == "not_applied"
    return {"acked": acked, "unknown": unknown, "not_applied": not_applied,
            "problems": problems}

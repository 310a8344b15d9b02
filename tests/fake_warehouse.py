"""A fake Databricks SQL warehouse for the fake workspace (tests/fake_workspace.py).

It speaks the SQL Statement Execution API over the workspace's real HTTP server on
loopback and runs every statement on a real SQL engine (Python's sqlite3), so what
lakeapi sends is executed, not matched against canned answers:

  POST /api/2.0/sql/statements                        submit; waits up to wait_timeout
  GET  /api/2.0/sql/statements/{id}                   status, manifest, first chunk
  GET  /api/2.0/sql/statements/{id}/result/chunks/{n} chunk n (INLINE or EXTERNAL_LINKS)
  POST /api/2.0/sql/statements/{id}/cancel
  GET  /api/2.0/sql/warehouses/{id}                   {"id","name","state"}
  POST /api/2.0/sql/warehouses/{id}/start
  GET  /external/{id}/{n}?sig=...                     an EXTERNAL_LINKS chunk; refused (400)
                                                      when it carries an Authorization header,
                                                      as presigned storage URLs are

The Databricks dialect is mapped onto sqlite's where they differ: three-part names
`catalog`.`schema`.`table` (only the fake's own catalog and schema exist), the
catalog's information_schema.columns (built from the tables' declared types, which are
Databricks type names: BIGINT, STRING, DECIMAL(12,2), DATE, TIMESTAMP, BOOLEAN,
ARRAY<INT>, ...), ILIKE, typed named parameters (:name with "type"). Values come back
as strings (or null) typed by the manifest, as JSON_ARRAY does; DML answers
num_affected_rows (and num_inserted_rows for INSERT).

Behaviour knobs (control(warehouse={...}) or POST /control {"warehouse": {...}}):
  latency      seconds a statement runs (RUNNING) before its result exists
  pending      seconds it waits (PENDING) before it runs
  chunk_rows   rows per result chunk (INLINE and EXTERNAL_LINKS)
  state        RUNNING | STOPPED | STARTING (a statement on a STOPPED warehouse starts it)
  start_delay  seconds STARTING lasts
  rate_limit   the next N API calls answer 429 with Retry-After: retry_after
  fail_next    the next N statements end FAILED with fail_code / fail_message
"""
import decimal
import json
import re
import secrets
import sqlite3
import threading
import time
import urllib.parse

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")
INT_TYPES = {"TINYINT": "BYTE", "BYTE": "BYTE", "SMALLINT": "SHORT", "SHORT": "SHORT",
             "INT": "INT", "INTEGER": "INT", "BIGINT": "LONG", "LONG": "LONG"}


def type_name(type_text):
    """The manifest's type_name of a declared (Databricks) type text."""
    t = (type_text or "STRING").upper()
    base = re.split(r"[(<]", t, 1)[0].strip()
    if base in INT_TYPES:
        return INT_TYPES[base]
    return {"FLOAT": "FLOAT", "REAL": "FLOAT", "DOUBLE": "DOUBLE", "DECIMAL": "DECIMAL",
            "NUMERIC": "DECIMAL", "BOOLEAN": "BOOLEAN", "DATE": "DATE",
            "TIMESTAMP": "TIMESTAMP", "TIMESTAMP_NTZ": "TIMESTAMP_NTZ", "ARRAY": "ARRAY",
            "MAP": "MAP", "STRUCT": "STRUCT", "BINARY": "BINARY"}.get(base, "STRING")


def render(value, tname, ttext=""):
    """A sqlite value as the JSON_ARRAY string Databricks would send for that type."""
    if value is None:
        return None
    if tname == "DECIMAL":
        m = re.search(r",\s*(\d+)\)", ttext)
        d = decimal.Decimal(str(value))
        return f"{d:.{int(m.group(1))}f}" if m else str(d)
    if tname == "BOOLEAN":
        return "true" if value in (1, True, "true", "1") else "false"
    if tname in ("DOUBLE", "FLOAT") and isinstance(value, (int, float)):
        return repr(float(value))
    if tname == "TIMESTAMP" and isinstance(value, str) and "T" not in value:
        return value.replace(" ", "T") + ("Z" if not value.endswith("Z") else "")
    return str(value)


def csv_field(v):
    if v is None:
        return ""
    if any(c in v for c in ',"\n\r'):
        return '"' + v.replace('"', '""') + '"'
    return v


class Statement:
    def __init__(self, sid, req):
        self.id = sid
        self.req = req
        self.state = "PENDING"
        self.error = None
        self.columns = []  # [(name, type_text, type_name)]
        self.rows = None   # INLINE: list of rendered rows
        self.table = None  # EXTERNAL_LINKS: a sqlite table holding the result
        self.total = 0
        self.done = threading.Event()
        self.cancel = threading.Event()
        self.submitted = time.time()


class FakeWarehouse:
    def __init__(self, workspace, warehouse_id="abc123def456", catalog="main", schema="default"):
        self.ws = workspace
        self.id = warehouse_id
        self.catalog = catalog
        self.schema = schema
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db_lock = threading.Lock()
        self.lock = threading.Lock()
        self.statements = {}
        self.latency = 0.0
        self.pending = 0.0
        self.chunk_rows = 1000
        self.state = "RUNNING"
        self.start_delay = 1.0
        self.rate_limit = 0
        self.retry_after = 1
        self.fail_next = 0
        self.fail_code = "BAD_REQUEST"
        self.fail_message = "[INJECTED] statement failed"
        self.reset_counts()

    def reset_counts(self):
        with self.lock:
            self.counts = {"submitted": 0, "polls": 0, "chunk_fetches": 0, "external_fetches": 0,
                           "external_with_auth": 0, "canceled": 0, "rate_limited": 0,
                           "starts": 0, "warehouse_gets": 0}
            self.log = []  # statement texts, in submission order
            self.params_log = []

    # ---- setup helpers for tests ----

    def execute(self, sql, params=()):
        """Runs setup SQL; complex types (ARRAY<INT>) may be written as in Databricks."""
        sql = re.sub(r"\b((?:ARRAY|MAP|STRUCT)<[^\s]*>)", r'"\1"', sql)
        # DECIMAL keeps its digits as text (sqlite's NUMERIC affinity would make it a double)
        sql = re.sub(r"\bDECIMAL\((\d+),\s*(\d+)\)", r'"DECIMAL(\1,\2)__TEXT"', sql)
        with self.db_lock:
            return self.db.execute(sql, params).fetchall()

    def executemany(self, sql, rows):
        with self.db_lock:
            self.db.execute("BEGIN")
            self.db.executemany(sql, rows)
            self.db.execute("COMMIT")

    def control(self, **kw):
        with self.lock:
            for k, v in kw.items():
                if k in ("latency", "pending", "start_delay"):
                    setattr(self, k, float(v))
                elif k in ("chunk_rows", "rate_limit", "retry_after", "fail_next"):
                    setattr(self, k, int(v))
                elif k in ("fail_code", "fail_message"):
                    setattr(self, k, str(v))
                elif k == "state":
                    self.state = str(v)
                    if v == "STARTING":
                        self._finish_start_later()
                elif k == "reset":
                    pass
                else:
                    raise ValueError(f"unknown warehouse control {k}")
        if kw.get("reset"):
            self.reset_counts()

    def snapshot(self):
        with self.lock:
            return dict(self.counts, state=self.state, latency=self.latency,
                        statements=list(self.log))

    # ---- warehouse state ----

    def _finish_start_later(self):
        def run():
            time.sleep(self.start_delay)
            with self.lock:
                if self.state == "STARTING":
                    self.state = "RUNNING"
        threading.Thread(target=run, daemon=True).start()

    def start_warehouse(self):
        with self.lock:
            self.counts["starts"] += 1
            if self.state == "STOPPED":
                self.state = "STARTING"
                self._finish_start_later()

    # ---- dialect ----

    def translate(self, sql):
        cat, sch = re.escape(self.catalog), re.escape(self.schema)
        q = r"`?"
        info = re.compile(rf"{q}{cat}{q}\.{q}information_schema{q}\.{q}columns{q}", re.I)
        sql = info.sub("fake_information_schema_columns", sql)
        three = re.compile(rf"`([^`]+)`\.`([^`]+)`\.`([^`]+)`")

        def repl(m):
            if m.group(1) != self.catalog or m.group(2) != self.schema:
                raise LookupError(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view "
                                  f"`{m.group(1)}`.`{m.group(2)}`.`{m.group(3)}` cannot be found.")
            return f"`{m.group(3)}`"
        sql = three.sub(repl, sql)
        return re.sub(r"\bILIKE\b", "LIKE", sql, flags=re.I)

    def build_information_schema(self):
        """information_schema.columns of the catalog, from the tables' declared types."""
        self.db.execute("DROP TABLE IF EXISTS fake_information_schema_columns")
        self.db.execute("CREATE TEMP TABLE fake_information_schema_columns (table_catalog TEXT, "
                        "table_schema TEXT, table_name TEXT, column_name TEXT, "
                        "ordinal_position BIGINT, data_type STRING, full_data_type STRING, "
                        "is_nullable STRING)")
        tables = [r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table','view') "
            "AND name NOT LIKE 'fake_%' AND name NOT LIKE 'sqlite_%'")]
        for t in tables:
            for cid, name, decl, notnull, _d, _pk in self.db.execute(
                    f'SELECT * FROM pragma_table_info(?)', (t,)):
                full = (decl or "STRING").upper().replace("__TEXT", "")
                self.db.execute(
                    "INSERT INTO fake_information_schema_columns VALUES (?,?,?,?,?,?,?,?)",
                    (self.catalog, self.schema, t, name, cid, type_name(full), full,
                     "NO" if notnull else "YES"))

    def declared_types(self, sql):
        """column name -> declared type text, over the tables the statement reads."""
        out = {"count(*)": "BIGINT"}
        for t in re.findall(r"(?:FROM|JOIN|INTO|UPDATE)\s+`?([A-Za-z_][A-Za-z0-9_]*)`?", sql,
                            re.I):
            for _cid, name, decl, *_ in self.db.execute("SELECT * FROM pragma_table_info(?)",
                                                         (t,)):
                out.setdefault(name, (decl or "STRING").upper().replace("__TEXT", ""))
        return out

    @staticmethod
    def bind(params):
        out = {}
        for p in params or []:
            name, value, typ = p.get("name"), p.get("value"), (p.get("type") or "STRING").upper()
            if value is None:
                out[name] = None
            elif typ in INT_TYPES:
                out[name] = int(value)
            elif typ in ("DOUBLE", "FLOAT"):
                out[name] = float(value)
            elif typ == "BOOLEAN":
                out[name] = 1 if str(value).lower() == "true" else 0
            else:
                out[name] = str(value)
        return out

    # ---- running a statement ----

    def run(self, st):
        try:
            if st.cancel.wait(self.pending):
                return self._end(st, "CANCELED")
            while True:
                with self.lock:
                    running = self.state == "RUNNING"
                if running:
                    break
                if st.cancel.wait(0.05):
                    return self._end(st, "CANCELED")
            with self.lock:
                st.state = "RUNNING"
            if st.cancel.wait(self.latency):
                return self._end(st, "CANCELED")
            with self.lock:
                fail = self.fail_next > 0
                if fail:
                    self.fail_next -= 1
            if fail:
                st.error = {"error_code": self.fail_code, "message": self.fail_message}
                return self._end(st, "FAILED")
            self.execute_statement(st)
            self._end(st, "SUCCEEDED")
        except LookupError as e:
            st.error = {"error_code": "BAD_REQUEST", "message": str(e.args[0])}
            self._end(st, "FAILED")
        except (sqlite3.Error, ValueError, TypeError) as e:
            st.error = {"error_code": "BAD_REQUEST", "message": f"[PARSE_SYNTAX_ERROR] {e}"}
            self._end(st, "FAILED")

    def _end(self, st, state):
        with self.lock:
            st.state = state
            if state == "CANCELED":
                self.counts["canceled"] += 1
        st.done.set()

    def execute_statement(self, st):
        sql = self.translate(st.req.get("statement", ""))
        params = self.bind(st.req.get("parameters"))
        external = st.req.get("disposition") == "EXTERNAL_LINKS"
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        with self.db_lock:
            if "fake_information_schema_columns" in sql:
                self.build_information_schema()
            types = self.declared_types(sql)
            if verb in ("INSERT", "UPDATE", "DELETE"):
                cur = self.db.execute(sql, params)
                n = str(cur.rowcount)
                if verb == "INSERT":
                    st.columns = [("num_affected_rows", "BIGINT", "LONG"),
                                  ("num_inserted_rows", "BIGINT", "LONG")]
                    st.rows = [[n, n]]
                else:
                    st.columns = [("num_affected_rows", "BIGINT", "LONG")]
                    st.rows = [[n]]
                st.total = 1
                return
            if external:
                st.table = "fake_result_" + st.id.replace("-", "")
                self.db.execute(f"CREATE TEMP TABLE {st.table} AS {sql}", params)
                cur = self.db.execute(f"SELECT * FROM {st.table} LIMIT 1")
                first = cur.fetchone()
                names = [d[0] for d in cur.description]
                st.total = self.db.execute(f"SELECT count(*) FROM {st.table}").fetchone()[0]
                sample = first or [None] * len(names)
            else:
                cur = self.db.execute(sql, params)
                raw = cur.fetchall()
                names = [d[0] for d in cur.description] if cur.description else []
                st.total = len(raw)
                sample = raw[0] if raw else [None] * len(names)
        cols = []
        for name, v in zip(names, sample):
            decl = types.get(name) or types.get(name.lower())
            if decl is None:
                decl = "BIGINT" if isinstance(v, int) else "DOUBLE" if isinstance(v, float) \
                    else "STRING"
            cols.append((name, decl, type_name(decl)))
        st.columns = cols
        if not external:
            st.rows = [[render(v, c[2], c[1]) for v, c in zip(r, cols)] for r in raw]

    # ---- answers ----

    def chunk_bounds(self, st):
        n = max(1, self.chunk_rows)
        count = max(1, (st.total + n - 1) // n)
        return [(i, i * n, min(n, st.total - i * n)) for i in range(count)]

    def manifest(self, st):
        cols = [{"name": c[0], "type_text": c[1], "type_name": c[2], "position": i}
                for i, c in enumerate(st.columns)]
        for c in cols:
            m = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", c["type_text"])
            if m:
                c["type_precision"], c["type_scale"] = int(m.group(1)), int(m.group(2))
        chunks = self.chunk_bounds(st)
        fmt = st.req.get("format") or "JSON_ARRAY"
        return {"format": fmt, "schema": {"column_count": len(cols), "columns": cols},
                "total_chunk_count": len(chunks), "total_row_count": st.total,
                "truncated": False,
                "chunks": [{"chunk_index": i, "row_offset": o, "row_count": c}
                           for i, o, c in chunks]}

    def chunk(self, st, index, base_url):
        chunks = self.chunk_bounds(st)
        if index < 0 or index >= len(chunks):
            return None
        i, offset, count = chunks[index]
        out = {"chunk_index": i, "row_offset": offset, "row_count": count}
        if i + 1 < len(chunks):
            out["next_chunk_index"] = i + 1
            out["next_chunk_internal_link"] = f"/api/2.0/sql/statements/{st.id}/result/chunks/{i + 1}"
        if st.req.get("disposition") == "EXTERNAL_LINKS":
            link = dict(out, external_link=f"{base_url}/external/{st.id}/{i}?sig={secrets.token_hex(8)}",
                        expiration=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime(time.time() + 900)))
            return {"external_links": [link]}
        out["data_array"] = st.rows[offset:offset + count] if st.rows else []
        return out

    def response(self, st, base_url):
        with self.lock:
            state = st.state
        body = {"statement_id": st.id, "status": {"state": state}}
        if state == "FAILED":
            body["status"]["error"] = st.error
        if state == "SUCCEEDED":
            body["manifest"] = self.manifest(st)
            body["result"] = self.chunk(st, 0, base_url)
        return body

    def external_body(self, st, index):
        """The CSV (or JSON_ARRAY) bytes of one external chunk, generated from the result table."""
        chunks = self.chunk_bounds(st)
        _, offset, count = chunks[index]
        if st.table:
            with self.db_lock:
                rows = self.db.execute(f"SELECT * FROM {st.table} LIMIT ? OFFSET ?",
                                       (count, offset)).fetchall()
            rows = [[render(v, c[2], c[1]) for v, c in zip(r, st.columns)] for r in rows]
        else:
            rows = st.rows[offset:offset + count]
        if (st.req.get("format") or "JSON_ARRAY") == "CSV":
            lines = [",".join(csv_field(v) for v in r) for r in rows]
            if index == 0:
                lines.insert(0, ",".join(csv_field(c[0]) for c in st.columns))
            return ("\n".join(lines) + ("\n" if lines else "")).encode(), "text/csv"
        return json.dumps(rows).encode(), "application/json"

    # ---- HTTP (called by the workspace handler) ----

    def handle(self, h, method, path, body):
        """Answers a request under /api/2.0/sql/ or /external/; returns True when it did."""
        url = urllib.parse.urlsplit(path)
        parts = url.path.strip("/").split("/")
        base_url = f"http://127.0.0.1:{self.ws.port}"
        if parts[0] == "external" and method == "GET" and len(parts) == 3:
            with self.lock:
                self.counts["external_fetches"] += 1
            if h.headers.get("Authorization"):
                with self.lock:
                    self.counts["external_with_auth"] += 1
                h.error(400, "InvalidArgument", "Only one auth mechanism allowed")
                return True
            st = self.statements.get(parts[1])
            if not st or not st.done.is_set() or st.state != "SUCCEEDED":
                h.error(404, "NoSuchKey", "The specified key does not exist.")
                return True
            data, ctype = self.external_body(st, int(parts[2]))
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return True
        if parts[:3] != ["api", "2.0", "sql"]:
            return False
        if not self.ws.bearer_ok(h.headers.get("Authorization")):
            h.error(401, "UNAUTHENTICATED", "Invalid access token.")
            return True
        with self.lock:
            limited = self.rate_limit > 0
            if limited:
                self.rate_limit -= 1
                self.counts["rate_limited"] += 1
        if limited:
            data = json.dumps({"error_code": "TOO_MANY_REQUESTS",
                               "message": "Too many requests"}).encode()
            h.send_response(429)
            h.send_header("Retry-After", str(self.retry_after))
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return True
        rest = parts[3:]
        if rest[:1] == ["warehouses"] and len(rest) >= 2:
            if rest[1] != self.id:
                h.error(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {rest[1]} does not exist.")
            elif method == "GET" and len(rest) == 2:
                with self.lock:
                    self.counts["warehouse_gets"] += 1
                    state = self.state
                h.send_json(200, {"id": self.id, "name": "fake warehouse", "state": state})
            elif method == "POST" and rest[2:] == ["start"]:
                self.start_warehouse()
                h.send_json(200, {})
            else:
                h.error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {url.path}'")
            return True
        if rest[:1] != ["statements"]:
            h.error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {url.path}'")
            return True
        if method == "POST" and len(rest) == 1:
            return self.submit(h, body, base_url)
        st = self.statements.get(rest[1]) if len(rest) > 1 else None
        if st is None:
            h.error(404, "RESOURCE_DOES_NOT_EXIST", "Statement not found")
        elif method == "POST" and rest[2:] == ["cancel"]:
            st.cancel.set()
            h.send_json(200, {})
        elif method == "GET" and len(rest) == 2:
            with self.lock:
                self.counts["polls"] += 1
            h.send_json(200, self.response(st, base_url))
        elif method == "GET" and len(rest) == 5 and rest[2:4] == ["result", "chunks"]:
            with self.lock:
                self.counts["chunk_fetches"] += 1
            c = self.chunk(st, int(rest[4]), base_url) if st.state == "SUCCEEDED" else None
            if c is None:
                h.error(404, "RESOURCE_DOES_NOT_EXIST", "Chunk not found")
            else:
                h.send_json(200, c)
        else:
            h.error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {url.path}'")
        return True

    def submit(self, h, body, base_url):
        try:
            req = json.loads(body)
        except ValueError:
            h.error(400, "MALFORMED_REQUEST", "Could not parse request body as JSON")
            return True
        if req.get("warehouse_id") != self.id:
            h.error(404, "RESOURCE_DOES_NOT_EXIST",
                    f"Warehouse {req.get('warehouse_id')} does not exist.")
            return True
        wait = str(req.get("wait_timeout", "10s"))
        m = re.fullmatch(r"(\d+)s", wait)
        if not m or not (int(m.group(1)) == 0 or 5 <= int(m.group(1)) <= 50):
            h.error(400, "INVALID_PARAMETER_VALUE",
                    "wait_timeout must be 0s or between 5s and 50s")
            return True
        if req.get("disposition") == "INLINE" and req.get("format") not in (None, "JSON_ARRAY"):
            h.error(400, "INVALID_PARAMETER_VALUE", "INLINE disposition supports JSON_ARRAY only")
            return True
        st = Statement(f"01f0{secrets.token_hex(14)}", req)
        with self.lock:
            self.statements[st.id] = st
            self.counts["submitted"] += 1
            self.log.append(req.get("statement"))
            self.params_log.append(req.get("parameters"))
            stopped = self.state == "STOPPED"
        if stopped:  # a statement starts a stopped warehouse, and waits for it
            self.start_warehouse()
        threading.Thread(target=self.run, args=(st,), daemon=True).start()
        if not st.done.wait(int(m.group(1))) and req.get("on_wait_timeout") == "CANCEL":
            st.cancel.set()
            st.done.wait(5)
        h.send_json(200, self.response(st, base_url))
        return True

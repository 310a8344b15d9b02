#!/usr/bin/env python3
"""check_sql.py - fails when SQL is built outside the reviewed builders (issue 11).

Request text must never become SQL text: values travel as parameters ($1, :name)
and identifiers come from the catalog or the validated configuration. This scan
enforces where SQL text may be *built* at all:

1. A call that runs or registers SQL (PQexec*, PQsendQuery*, PQprepare,
   PQsendPrepare, db_pool_add_statement, db_pool_query_sql, db_stream_open,
   web_prepare) must get its SQL as string literal(s), unless the file is in
   BUILDERS.
2. A string literal that looks like a piece of SQL (SELECT ... FROM, INSERT
   INTO, UPDATE ... SET, DELETE FROM, WHERE, ORDER BY, ...) may appear only as
   such a literal argument, or in a file in BUILDERS. Anything else is a
   fragment on its way into a format or concatenation - SQL being built.

Every entry of BUILDERS says why its interpolations are safe; adding one is a
security review. Usage: scripts/check_sql.py [ROOT] | --self-test
"""
import os
import re
import sys

BUILDERS = {
    # The Data API's builder: identifiers only after a catalog lookup, values as $n.
    "src/rest/sql.c": "Data API: catalog-checked identifiers, $n parameters",
    # Table descriptors: names from ORDERS_TABLE/USERS_TABLE (validated identifiers in
    # config.c) and compile-time column lists; values as $n.
    "src/web/table.c": "descriptor SQL from validated config identifiers",
    # The pool passes registered/cached SQL through, plus fixed session setup.
    "src/db/conn.c": "passes statements through; fixed setup SQL",
    "src/db/pool.c": "passes statements through",
    "src/db/stmt_cache.c": "passes cached statements through",
    "src/db/stream.c": "wraps a given statement in DECLARE/FETCH",
    # CLI-only: the demo loader and private cluster (identifiers from config/flags).
    "src/demo/loader.c": "CLI loader: config identifiers, never request text",
    "src/demo/cluster.c": "CLI private cluster setup",
    # SQL warehouse statements: catalog identifiers quoted, values as :name parameters.
    "src/lakehouse/store.c": "warehouse statements: :name parameters",
    "src/lakehouse/tables.c": "information_schema query: catalog names quoted",
    "src/lakehouse/statement.c": "sends a given statement",
    "src/web/store_pg.c": "store SQL over validated table identifiers",
    # The Data API's builder, as it landed: split by statement kind, plus its catalog.
    "src/rest/sql_select.c": "Data API reads: catalog-checked identifiers, $n parameters",
    "src/rest/sql_write.c": "Data API writes: catalog-checked identifiers, $n parameters",
    "src/rest/schema.c": "catalog introspection: fixed SQL over pg_catalog, $n parameters",
    "src/rest/write.c": "Data API writes: runs sql_write.c statements",
    "src/rest/read_cursor.c": "Data API keyset cursors: sql_select.c's builder, catalog keys",
    "src/rest/app.c": "runs the catalog query of schema.c",
    "src/web/cache.c": "count(*) over a catalog-qualified (quoted) table name",
    "src/db/route.c": "read/write split: passes registered statements through",
    "src/db/listen.c": "LISTEN on the configured channel, quoted as an identifier",
    # Wraps the Data API builder's statement for NDJSON exports.
    "src/rest/export.c": "wraps a rest/sql.c statement in row_to_json",
    # Session setup: fixed SQL, and the configured pre-request function, quoted.
    "src/db/session.c": "fixed session SQL; configured function name quoted",
    # Warehouse reads: catalog-checked columns, :name parameters.
    "src/lakehouse/read.c": "warehouse reads: catalog identifiers, :name parameters",
    # Pass-throughs of descriptor SQL (web_sql_* of src/web/table.c) into the pool.
    "src/web/route.c": "web_prepare(): passes descriptor SQL through",
    "src/api/api_internal.h": "api_prepare(): passes descriptor SQL through",
}
# A runner's SQL argument may also be the result of a reviewed builder's function.
BUILDER_CALL = re.compile(r"\s*web_sql_\w+\s*\(")

# function name -> index of its SQL argument
RUNNERS = {
    "PQexec": 1, "PQexecParams": 1, "PQsendQuery": 1, "PQsendQueryParams": 1,
    "PQprepare": 2, "PQsendPrepare": 2, "db_pool_add_statement": 1,
    "db_pool_query_sql": 1, "db_stream_open": 1, "web_prepare": 1, "api_prepare": 1,
}
DECLARATION = re.compile(r"\s*(?:(?:static|inline|const|extern)\s+)*(?!return\b)[A-Za-z_]\w*"
                         r"(?:\s+|\s*\*+\s*)$")

SQL_SHAPE = re.compile(
    r"\b(SELECT\b.*\bFROM|SELECT\s+(\$|%|count|1\b)|INSERT\s+INTO|UPDATE\s+\S+\s+SET|\bSET\s+\S+\s*=|"
    r"DELETE\s+FROM|\bWHERE\b|ORDER\s+BY|GROUP\s+BY|\bRETURNING\b|\bLIMIT\s+\$|"
    r"\bOFFSET\s+\$|\bVALUES\s*\()")

STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def strip_comments(text):
    """Blanks out comments (keeping line numbers and string literals)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def call_args(text, start):
    """Arguments (start, end) of the call whose '(' is at text[start]."""
    depth, i, args, arg_start = 0, start, [], start + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            m = STRING.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append((arg_start, i))
                return args
        elif c == "," and depth == 1:
            args.append((arg_start, i))
            arg_start = i + 1
        i += 1
    return args


def only_literals(s):
    return re.fullmatch(r'\s*(?:"(?:[^"\\\n]|\\.)*"\s*)+', s) is not None


def scan_text(rel, text):
    text = strip_comments(text)
    line_of = lambda pos: text.count("\n", 0, pos) + 1
    bad, allowed_spans = [], []
    builder = rel in BUILDERS
    for m in re.finditer(r"\b(" + "|".join(RUNNERS) + r")\s*\(", text):
        prefix = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
        if text[max(0, m.start() - 1)] == "_" or DECLARATION.fullmatch(prefix):
            continue  # a declaration/definition, not a call
        args = call_args(text, m.end() - 1)
        idx = RUNNERS[m.group(1)]
        if len(args) <= idx:
            continue
        a, b = args[idx]
        if only_literals(text[a:b]) or BUILDER_CALL.match(text[a:b]):
            allowed_spans.append((a, b))
        elif not builder:
            bad.append(f"{rel}:{line_of(m.start())}: {m.group(1)}() gets SQL that is not a "
                       f"string literal: {text[a:b].strip()[:60]}")
    if builder:
        return bad
    for m in STRING.finditer(text):
        if any(a <= m.start() < b for a, b in allowed_spans):
            continue
        if SQL_SHAPE.search(m.group(0)):
            bad.append(f"{rel}:{line_of(m.start())}: SQL text outside a reviewed builder: "
                       f"{m.group(0)[:70]}")
    return bad


def scan(root):
    bad = []
    src = os.path.join(root, "src")
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                p = os.path.join(d, f)
                rel = os.path.relpath(p, root)
                with open(p, encoding="utf-8", errors="replace") as fh:
                    bad += scan_text(rel, fh.read())
    return bad


def self_test():
    cases = {
        'db_pool_add_statement(p, "SELECT 1", 0, DB_STMT_READ);': 0,
        'PQexec(c, "SELECT pg_advisory_lock(1)");': 0,
        'snprintf(q, n, "SELECT * FROM t WHERE id = %s", id);': 1,
        'buf_printf(&b, "DELETE FROM %s", name);': 1,
        'db_pool_query_sql(p, b.data, 1, v, DB_STMT_READ, cb, d);': 1,
        'PQexec(c, sql);': 1,
        'log_warn("request failed: %s", why); /* SELECT x FROM y */': 0,
        'buf_append_str(&sql, " WHERE ");': 1,
        'web_send_detail(ex, 400, "Invalid select parameter");': 0,
        'id = api_prepare(app, web_sql_get(t), 1, DB_STMT_READ);': 0,
        'return web_prepare(app->pool, sql, 1, kind);': 1,
        'int web_prepare(db_pool_t *pool, char *sql, int n, db_stmt_kind_t k);': 0,
    }
    failed = 0
    for code, want in cases.items():
        got = len(scan_text("src/x/test.c", code))
        if got != want:
            print(f"self-test: {code!r}: {got} finding(s), want {want}", file=sys.stderr)
            failed += 1
    if scan_text("src/rest/sql.c", 'buf_printf(&b, "SELECT %s FROM %s", a, t);'):
        print("self-test: the builder allow list is not honoured", file=sys.stderr)
        failed += 1
    print("check_sql: self-test " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    if self_test() != 0:
        return 1
    bad = scan(root)
    for b in bad:
        print(b, file=sys.stderr)
    if bad:
        print(f"check_sql: {len(bad)} place(s) build SQL outside the reviewed builders "
              f"(scripts/check_sql.py BUILDERS)", file=sys.stderr)
        return 1
    print(f"check_sql: SQL is built only in the {len(BUILDERS)} reviewed builders")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""
report.py - renders the benchmark's results (the dict bench/driver.py builds)
as the markdown written to bench/results/<date>-<mode>.md: machine, setup,
the issue's goals with the measured figures, one table per endpoint, the
scaling curve and the idle-connection RSS.
"""
import re

SYSTEMS = (("lakeapi", "lakeapi"), ("lakeapi_1", "lakeapi, alone"),
           ("pgbench", "pgbench -M prepared"), ("fastapi", "FastAPI peer"))


def _f(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)


def _ms(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else (f"{v:.2f}" if v < 100 else f"{v:,.0f}")


def _ratio(a, b):
    if not a or not b or not b.get("rps"):
        return None
    return a["rps"] / b["rps"]


def _x(v):
    if v is None:
        return "-"
    return f"{v:.2f}x" if v < 10 else f"{v:.0f}x"


def endpoint_table(ep, conns):
    runs = ep["runs"]
    pg, fa = runs.get("pgbench"), runs.get("fastapi")
    lines = ["| system | clients | req/s | p50 ms | p99 ms | server CPU µs/req | "
             "PG CPU µs/req | client CPU µs/req | other CPU % | errors | vs pgbench | "
             "vs FastAPI |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for key, label in SYSTEMS:
        r = runs.get(key)
        if key == "lakeapi_1" and r is None:
            continue
        if r is None:
            lines.append(f"| {label} | - | not run | | | | | | | | | |")
            continue
        bad = r["errors"] + r["non2xx"]
        lines.append(
            f"| {label} | {r['conns']} | {_f(r['rps'])} | {_ms(r['p50_ms'])} | "
            f"{_ms(r['p99_ms'])} | {_f(r['server_us'], '{:,.1f}')} | {_f(r['pg_us'], '{:,.1f}')} | "
            f"{_f(r['client_us'], '{:,.1f}')} | {_f(r.get('other_cpu_pct'), '{:.0f}')} | "
            f"{bad} | {_x(_ratio(r, pg))} | {_x(_ratio(r, fa))} |")
    return "\n".join(lines)


def goals(res):
    eps = {e["id"]: e for e in res["endpoints"]}

    def run(eid, system):
        e = eps.get(eid)
        return e["runs"].get(system) if e and e.get("runs") else None

    def row(fig, goal, measured, ok):
        mark = "-" if ok is None else ("yes" if ok else "**no**")
        return f"| {fig} | {goal} | {measured} | {mark} |"

    out = ["| figure | goal | measured | met |", "|---|---|---|---|"]
    lk, pg, fa = run("get", "lakeapi"), run("get", "pgbench"), run("get", "fastapi")
    r = _ratio(lk, pg)
    out.append(row(f"GET by key, {res['conns']} connections", ">= 1.0x pgbench, p99 <= 2 ms",
                   f"{_x(r)} pgbench, p99 {_ms(lk and lk['p99_ms'])} ms",
                   None if r is None else (r >= 1.0 and lk["p99_ms"] <= 2.0)))
    r = _ratio(lk, fa)
    out.append(row("GET by key vs the FastAPI peer", ">= 30x", _x(r),
                   None if r is None else r >= 30))
    r = _ratio(run("stream", "lakeapi"), run("stream", "pgbench"))
    out.append(row("GET /stream (100 rows)", ">= 0.9x pgbench (keyset SQL)", _x(r),
                   None if r is None else r >= 0.9))
    for eid, fig, limit in (("count", "GET /count", 1.0),
                            ("pages10000", "GET /pages?page=10000", 5.0)):
        one, loaded = run(eid, "lakeapi_1"), run(eid, "lakeapi")
        measured = (f"alone: p50 {_ms(one and one['p50_ms'])} ms; at {loaded['conns']} "
                    f"connections: p50 {_ms(loaded['p50_ms'])} ms, {_f(loaded['rps'])} req/s"
                    if loaded else "-")
        out.append(row(fig, f"p50 < {limit:g} ms (one request alone)", measured,
                       None if one is None else one["p50_ms"] < limit))
    r = _ratio(run("status", "lakeapi"), run("status", "pgbench"))
    out.append(row("POST /status", ">= 1.0x pgbench UPDATE (synchronous_commit=on)", _x(r),
                   None if r is None else r >= 1.0))
    rss = (res.get("rss") or {}).get("lakeapi") or {}
    if "rss_kb" in rss:
        mb = rss["rss_kb"] / 1024
        out.append(row("RSS, 1,000 idle keep-alive connections", "<= 32 MB", f"{mb:.1f} MB",
                       mb <= 32 and rss["answered"] == rss["connections"]))
    ld = res.get("load", {})
    sf = res["cfg"]["sf"]
    at_sf1 = sf == 1
    g = ld.get("gen_orders_s")
    out.append(row(f"gen orders --sf {sf}", "<= 5 s at SF 1", _f(g, "{:.2f} s"),
                   (g <= 5) if (g is not None and at_sf1) else None))
    lo = None
    for s in ld.get("loader_says", []):
        m = re.match(r"orders: SF \S+ loaded in ([\d.]+) s", s)
        if m:
            lo = float(m.group(1))
    out.append(row(f"load orders --sf {sf}", "<= 15 s at SF 1", _f(lo, "{:.1f} s"),
                   (lo <= 15) if (lo is not None and at_sf1) else None))
    return "\n".join(out)


def summary(res):
    """One line per endpoint: the three systems' req/s and lakeapi's ratios and latency."""
    out = ["| endpoint | clients | lakeapi req/s | pgbench req/s | FastAPI req/s | vs pgbench | "
           "vs FastAPI | lakeapi p50 / p99 ms | lakeapi alone p50 ms |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for ep in res["endpoints"]:
        runs = ep.get("runs") or {}
        lk, pg, fa, one = (runs.get(k) for k in ("lakeapi", "pgbench", "fastapi", "lakeapi_1"))
        if lk is None:
            out.append(f"| `{ep['title']}` | | skipped | | | | | | |")
            continue
        out.append(f"| `{ep['title']}` | {lk['conns']} | {_f(lk['rps'])} | "
                   f"{_f(pg and pg['rps'])} | {_f(fa and fa['rps'])} | {_x(_ratio(lk, pg))} | "
                   f"{_x(_ratio(lk, fa))} | {_ms(lk['p50_ms'])} / {_ms(lk['p99_ms'])} | "
                   f"{_ms(one and one['p50_ms'])} |")
    return "\n".join(out)


def render(res):
    m = res.get("machine", {})
    cfg = res["cfg"]
    ld = res.get("load", {})
    mode = res["mode"]
    o = [f"# lakeapi benchmark: {mode} ({m.get('date', '?')})", "",
         f"Command: `make bench{'-quick' if mode == 'quick' else ''}` "
         f"(= `bench/run.sh {mode}`). Every figure below was measured in this one run, on the "
         "same database; ratios compare runs made minutes apart on a shared machine, so read "
         "them to +-10%.", "", "## Machine", "",
         "| | |", "|---|---|"]
    for k, label in (("nproc", "cores (nproc)"), ("cpu", "CPU"), ("mem_gb", "memory GB"),
                     ("kernel", "kernel"), ("loadavg_at_start", "load average at start"),
                     ("loadavg_at_end", "load average at end"),
                     ("postgres", "PostgreSQL"), ("pg_settings", "PostgreSQL settings"),
                     ("wrk", "wrk"), ("pgbench", "pgbench"), ("lakeapi", "lakeapi"),
                     ("python", "Python"), ("peer", "FastAPI peer packages")):
        o.append(f"| {label} | {m.get(k, '?')} |")
    o += ["", "## Setup", "",
          f"- Data: TPC-H orders SF {cfg['sf']} and {cfg['users']:,} users, loaded by "
          f"`lakeapi load all` ({_f(ld.get('load_all_s'), '{:.1f} s')}"
          + (": " + "; ".join(ld["loader_says"]) if ld.get("loader_says") else "")
          + f"); `lakeapi gen orders` alone: {_f(ld.get('gen_orders_s'), '{:.2f} s')}. "
          "VACUUM ANALYZE and pg_prewarm before measuring.",
          (f"- Each endpoint: {cfg.get('rounds', 1)} rounds of (lakeapi, pgbench, FastAPI), "
           f"{cfg['duration']} s each, alternating so all three sample the same foreign load; "
           "req/s and CPU are over all rounds, p50 is their request-weighted mean, p99 the "
           "worst round's." if cfg.get("rounds", 1) > 1 else
           "- Order per endpoint: lakeapi, pgbench, FastAPI."),
          f"- Each run: {cfg['duration']} s, {res['conns']} connections (count and pages: "
          f"{res.get('heavy_conns', 16)}, since the seed's SQL scans the table; plus lakeapi "
          "alone on one connection for the latency goals); wrk `-t2` with precomputed request "
          "lists (random existing keys); pgbench `-M prepared -j 2` with the same SQL, same unix "
          "socket.",
          "- Latency: wrk corrects its histogram for coordinated omission (stats_correct); "
          "pgbench's per-transaction latencies get the same correction here, so p50/p99 "
          "compare (uncorrected pgbench figures: raw_p50_ms/raw_p99_ms in the .json).",
          "- CPU µs/request: /proc utime+stime deltas divided by the requests served - server: "
          "the server's process tree; PG: the postmaster and all its backends (exited ones "
          "included); client: wrk or pgbench itself. Other CPU %: the share of the machine's "
          "CPU time (user+system+steal of all cores, /proc/stat) that went to other processes "
          "during the run - other tenants of this shared machine, the hypervisor: the run's "
          "noise. A high one means the absolute figures are low; the ratios still compare "
          "runs made under about the same noise.",
          "- lakeapi: `lakeapi serve` with default settings (pool 10 + overflow 20). FastAPI peer: "
          "uvicorn with one worker per core, SQLAlchemy pool_size=10, max_overflow=20, "
          "pool_pre_ping=True per worker. Both write their default access log to a file.", "",
          "## Summary", "", summary(res), "", "## Goals (issue 6)", "", goals(res), ""]
    cc = res.get("crosscheck")
    if cc:
        o += [f"Cross-check: {cc['compared']} requests (get, stream, count, first/random/last/"
              f"10000th page) answered identically by lakeapi and the seed peer"
              if not cc["differ"] else
              f"Cross-check: **{len(cc['differ'])} of {cc['compared']} requests differ** between "
              "lakeapi and the seed peer: " + "; ".join(cc["differ"][:5]), ""]
    o += ["## Endpoints", ""]
    for ep in res["endpoints"]:
        o += [f"### {ep['title']}", "", ep["what"] + ".", ""]
        if ep.get("skipped"):
            o += [f"Skipped: {ep['skipped']}.", ""]
            continue
        o += [endpoint_table(ep, res["conns"]), "", "<details><summary>pgbench script</summary>",
              "", "```", ep["sql"].rstrip(), "```", "", "</details>", ""]
    if res.get("scaling"):
        o += ["## Scaling: GET by key", "",
              "| connections | lakeapi req/s | lakeapi p50 ms | lakeapi p99 ms | pgbench tps | "
              "pgbench p99 ms | vs pgbench |", "|--:|--:|--:|--:|--:|--:|--:|"]
        for r in res["scaling"]:
            lk, pb = r["lakeapi"], r["pgbench"]
            o.append(f"| {r['conns']} | {_f(lk['rps'])} | {_ms(lk['p50_ms'])} | "
                     f"{_ms(lk['p99_ms'])} | {_f(pb and pb['rps'])} | "
                     f"{_ms(pb and pb['p99_ms'])} | {_x(_ratio(lk, pb))} |")
        o += ["", "pgbench stops at 256 clients: each is a PostgreSQL backend process.", ""]
    if res.get("rss"):
        o += ["## RSS with 1,000 idle keep-alive connections", "",
              "Each connection sent one GET by key, read the answer and stays open; VmRSS read "
              "from /proc one second later (FastAPI: all uvicorn processes). This runs last, so "
              "\"before\" already includes whatever the earlier runs (1,024 connections in "
              "full mode) left allocated.", "",
              "| server | RSS before | RSS with 1,000 open | peak RSS (VmHWM) | answered | "
              "open fds "
              "| still serving |", "|---|--:|--:|--:|--:|--:|---|"]
        for name, r in res["rss"].items():
            if "error" in r:
                o.append(f"| {name} | error: {r['error']} | | | | | |")
                continue
            o.append(f"| {name} | {r['rss_before_kb'] / 1024:.1f} MB | {r['rss_kb'] / 1024:.1f} MB"
                     f" | {_f(r.get('hwm_kb') and r['hwm_kb'] / 1024, '{:.1f} MB')} | "
                     f"{r['answered']} | {r['fds']} | {'yes' if r['still_serving'] else 'no'} |")
        o.append("")
    if res.get("notes"):
        o += ["## Notes", ""] + [f"- {n}" for n in res["notes"]] + [""]
    return "\n".join(o)


def render_growth(res):
    """The growth mode (bench/growth.py): one row per endpoint and SF, then the loads."""
    m = res.get("machine", {})
    sfs = ", ".join(f"{s:g}" for s in res["sfs"])
    o = [f"# lakeapi benchmark: growth ({m.get('date', '?')})", "",
         "Command: `bench/run.sh growth`. How lakeapi's cost per request grows with the orders "
         f"table: SF {sfs}, each loaded into its own throwaway cluster, measured with wrk "
         f"({res['conns']} connections, {res['duration']} s per run, after 1 s of warm-up per "
         "endpoint; precomputed request lists, random keys from dbgen's sparse formula). "
         f"The clusters run with `{res['pg_opts']}` to speed up the load (the measured "
         "endpoints only read).", "", "## Machine", "", "| | |", "|---|---|"]
    for k, label in (("nproc", "cores (nproc)"), ("cpu", "CPU"), ("mem_gb", "memory GB"),
                     ("kernel", "kernel"), ("loadavg_at_start", "load average at start"),
                     ("loadavg_at_end", "load average at end"), ("postgres", "PostgreSQL"),
                     ("pg_settings", "PostgreSQL settings"), ("wrk", "wrk"),
                     ("lakeapi", "lakeapi")):
        o.append(f"| {label} | {m.get(k, '?')} |")
    o += ["", "## Cost per request", "",
          "CPU µs/req: utime+stime over the run divided by the requests (lakeapi: its process; "
          "PG: the postmaster and all backends). x SF " + f"{res['sfs'][0]:g}" + ": lakeapi + PG "
          "CPU per request relative to the same endpoint at the smallest SF.", "",
          "| endpoint | SF | rows | req/s | p50 ms | p99 ms | lakeapi CPU µs/req | "
          "PG CPU µs/req | x SF " + f"{res['sfs'][0]:g}" + " | other CPU % | errors |",
          "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    base = {}
    for r in sorted(res["runs"], key=lambda r: ([e for e in ("get", "stream", "count", "pages")]
                                                .index(r["id"]), r["sf"])):
        cost = (r["server_us"] or 0) + (r["pg_us"] or 0)
        base.setdefault(r["id"], cost)
        title = r["title"]
        if r["id"] == "pages":
            title = f"GET /api/v1/orders/pages?page={r['page']}&page_size=100"
        if r.get("alone"):
            title += " (one request alone: none finished in the wrk run)"
        o.append(f"| `{title}` | {r['sf']:g} | {r['rows']:,} | {_f(r['rps'])} | "
                 f"{_ms(r['p50_ms'])} | {_ms(r['p99_ms'])} | {_f(r['server_us'], '{:,.1f}')} | "
                 f"{_f(r['pg_us'], '{:,.1f}')} | "
                 f"{_x(cost / base[r['id']] if base[r['id']] else None)} | "
                 f"{_f(r.get('other_cpu_pct'), '{:.0f}')} | {r['errors'] + r['non2xx']} |")
    o += ["", "The pages row asks for the page holding row 2/3 of the table, so its position "
          "grows with the SF. Before every run the driver waits until PostgreSQL has no "
          "query left from the previous one. A row marked \"one request alone\" had no "
          "request finish within the wrk run (all connections stuck in seconds-long "
          "queries): it is one request timed on the idle server instead.", "", "## Loads", "",
          "| SF | rows | `lakeapi load orders` s (wall) | loader says | VACUUM ANALYZE s | "
          "table + indexes | first request of the deep page s |", "|--:|--:|--:|---|--:|--:|--:|"]
    for ld in res["loads"]:
        o.append(f"| {ld['sf']:g} | {ld['rows']:,} | {ld['load_s']:.1f} | "
                 f"{'; '.join(ld['loader_says']) or '-'} | {ld['vacuum_s']:.1f} | {ld['size']} | "
                 f"{_f(ld.get('first_deep_page_s'), '{:.3f}')} |")
    o += ["", "The first request of the deep page is the warm-up's, on a server that has not "
          "answered a pages request yet: what one cold deep page costs."]
    o += ["", f"Whole mode: {res.get('total_s', 0):.0f} s.", ""]
    if res.get("notes"):
        o += ["## Notes", ""] + [f"- {n}" for n in res["notes"]] + [""]
    return "\n".join(o)

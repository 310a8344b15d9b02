"""
report.py - renders the benchmark's results (the dicts bench/driver.py and
bench/growth.py build) as the markdown written to bench/results/<date>-<mode>.md:
machine, setup, the summary table with ratios, issue 13's goals with the
measured figures, stability across rounds, every round's figures, and the
single checks. Every figure of a configuration is the median of its rounds
with [min-max] beside it.
"""
import re

SYSTEM_LABELS = {"lakeapi": "lakeapi (as shipped)", "lakeapi_nolog": "lakeapi, access log off",
                 "lakeapi_w1": "lakeapi, WORKERS=1", "pgbench": "pgbench -M prepared",
                 "fastapi": "FastAPI peer"}


def _f(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)


def _ms(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else (f"{v:.2f}" if v < 100 else f"{v:,.0f}")


def _x(v):
    if v is None:
        return "-"
    return f"{v:.2f}x" if v < 10 else f"{v:.0f}x"


def _med(summary, key):
    s = summary and summary.get(key)
    return s["median"] if s else None


def _spread(summary, key, fmt=_f):
    """median [min-max]"""
    s = summary and summary.get(key)
    if not s:
        return "-"
    if s["n"] == 1:
        return fmt(s["median"])
    return f"{fmt(s['median'])} [{fmt(s['min'])}-{fmt(s['max'])}]"


def _ratio(a, b, key="rps"):
    x, y = _med(a, key), _med(b, key)
    return x / y if x and y else None


def _stab(summary):
    s = summary and summary.get("rps")
    return s["max"] / s["min"] if s and s["min"] else None


def _cpu(summary):
    parts = [_med(summary, k) for k in ("server_us", "pg_us", "client_us")]
    if summary is None or parts[1] is None:
        return "-"
    if parts[0] is None:
        return f"{parts[1] + parts[2]:.0f} (PG {parts[1]:.0f} + client {parts[2]:.0f})"
    return (f"{sum(parts):.0f} ({parts[0]:.0f} + {parts[1]:.0f} + {parts[2]:.0f})")


def _configs(res):
    return [c for c in res.get("configs", []) if not c.get("skipped")]


def _lat(cfg):
    """pgbench's p99 from its sampled latency round."""
    lat = cfg.get("pgbench_latency") or {}
    return lat.get("p99_ms")


def summary(res):
    w1 = any("lakeapi_w1" in c["systems"] for c in _configs(res))
    out = ["| endpoint | clients | lakeapi req/s (as shipped) | lakeapi req/s, access log off | "
           "pgbench tps | vs pgbench (shipped / log off) | access log cost | p99 ms lakeapi / "
           "pgbench | CPU µs/req lakeapi (server + PG + wrk) | CPU µs/req pgbench (PG + client) |"
           + (" WORKERS=1 (one loop) req/s (vs pgbench) |" if w1 else ""),
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|" + ("--:|" if w1 else "")]
    for c in _configs(res):
        sy = c["systems"]
        lk, nl, pg = sy.get("lakeapi"), sy.get("lakeapi_nolog"), sy.get("pgbench")
        r1, r2 = _ratio(lk, pg), _ratio(nl, pg)
        cost = 1 - _ratio(lk, nl) if _ratio(lk, nl) else None
        row = (f"| `{c['title']}` | {c['conns']} | {_spread(lk, 'rps')} | {_spread(nl, 'rps')} | "
               f"{_spread(pg, 'rps')} | {_x(r1)} / {_x(r2)} | "
               f"{_f(cost and cost * 100, '{:+.1f}%')} | "
               f"{_ms(_med(lk, 'p99_ms'))} / {_ms(_lat(c))} | {_cpu(lk)} | {_cpu(pg)} |")
        if w1:
            x = sy.get("lakeapi_w1")
            row += f" {_spread(x, 'rps')} ({_x(_ratio(x, pg))}) |"
        out.append(row)
    return "\n".join(out)


def goals(res):
    cfgs = {c["id"]: c for c in _configs(res)}

    def row(fig, goal, measured, ok):
        mark = "-" if ok is None else ("yes" if ok else "**no**")
        return f"| {fig} | {goal} | {measured} | {mark} |"

    out = ["| figure | goal | measured (medians of the rounds) | met |", "|---|---|---|---|"]
    for cid, need, fig in (("get1", 0.8, "GET by key, 1 connection"),
                           ("get16", 1.0, "GET by key, 16 connections"),
                           ("get64", 1.0, "GET by key, 64 connections"),
                           ("get256", 1.0, "GET by key, 256 connections"),
                           ("user64", 1.0, "GET /user?id=, 64 connections"),
                           ("stream64", 0.9, "GET /stream (100 rows), 64 connections"),
                           ("status64", 1.0, "POST status, 64 connections"),
                           ("rest64", 1.0, "Data API GET by key (eq.K), 64 connections"),
                           ("restlist64", 0.9, "Data API filtered, ordered 100 rows, 64 connections")):
        c = cfgs.get(cid)
        if not c:
            continue
        lk, pg = c["systems"].get("lakeapi"), c["systems"].get("pgbench")
        r = _ratio(lk, pg)
        p99, pp99 = _med(lk, "p99_ms"), _lat(c)
        check_p99 = cid in ("get16", "get64", "get256", "user64")
        goal = f">= {need:.1f}x pgbench" + (", p99 <= pgbench's" if check_p99 else "")
        ok = None if r is None else (r >= need and (not check_p99 or (p99 is not None and pp99
                                                                      is not None and p99 <= pp99)))
        measured = f"{_x(r)}" + (f"; p99 {_ms(p99)} vs {_ms(pp99)} ms" if check_p99 else "")
        out.append(row(fig, goal, measured, ok))
    worse = []
    for c in _configs(res):
        a, b = _stab(c["systems"].get("lakeapi")), _stab(c["systems"].get("pgbench"))
        if a is not None and b is not None and a > b:
            worse.append(f"{c['id']} {a:.2f} vs {b:.2f}")
    stab_all = [f"{c['id']} {_stab(c['systems'].get('lakeapi')):.2f}/"
                f"{_stab(c['systems'].get('pgbench')):.2f}"
                for c in _configs(res) if _stab(c["systems"].get("lakeapi"))
                and _stab(c["systems"].get("pgbench"))]
    out.append(row("Stability across rounds", "lakeapi max/min <= pgbench max/min",
                   "lakeapi/pgbench: " + ", ".join(stab_all),
                   None if not stab_all else not worse))
    costs = []
    for c in _configs(res):
        r = _ratio(c["systems"].get("lakeapi"), c["systems"].get("lakeapi_nolog"))
        if r:
            costs.append((c["id"], 1 - r))
    out.append(row("Access log cost", "< 5% (1 - shipped / log off)",
                   ", ".join(f"{cid} {v * 100:+.1f}%" for cid, v in costs),
                   None if not costs else all(v < 0.05 for _, v in costs)))
    return "\n".join(out)


def stability(res):
    out = ["| configuration | lakeapi max/min | log off max/min | pgbench max/min | "
           "lakeapi queries per Sync | lakeapi loop: runnable but waiting for a CPU | "
           "lakeapi pool connections |", "|---|--:|--:|--:|--:|--:|--:|"]
    for c in _configs(res):
        sy = c["systems"]
        rounds = sy["lakeapi"]["rounds"]
        qps, wait, conns = [], [], []
        for r in rounds:
            lk = r.get("lk") or {}
            if lk.get("lakeapi_db_batches_total"):
                qps.append(lk["lakeapi_db_queries_total"] / lk["lakeapi_db_batches_total"])
            secs = lk.get("window_s") or r.get("secs")
            if secs:
                wait.append(100 * lk.get("lakeapi_loop_runqueue_wait_seconds_total", 0) / secs)
            if lk.get("pool_connections") is not None:
                conns.append(lk["pool_connections"])
        rng = (lambda v, f: f"{f(min(v))}-{f(max(v))}" if v else "-")
        out.append(f"| {c['id']} | {_x(_stab(sy.get('lakeapi')))} | "
                   f"{_x(_stab(sy.get('lakeapi_nolog')))} | {_x(_stab(sy.get('pgbench')))} | "
                   f"{rng(qps, lambda v: f'{v:.1f}')} | {rng(wait, lambda v: f'{v:.0f}%')} | "
                   f"{rng(conns, lambda v: f'{v:.0f}')} |")
    return "\n".join(out)


def rounds_table(c):
    sy = c["systems"]
    names = [n for n in ("lakeapi", "lakeapi_nolog", "lakeapi_w1", "pgbench", "fastapi") if n in sy]
    n = max(len(sy[x]["rounds"]) for x in names)
    out = ["| system | " + " | ".join(f"round {i + 1}" for i in range(n)) +
           " | median [min-max] | p50 ms | p99 ms | CPU µs/req | other CPU % | errors |",
           "|---|" + "--:|" * n + "--:|--:|--:|--:|--:|--:|"]
    for x in names:
        s = sy[x]
        out.append(f"| {SYSTEM_LABELS[x]} | " +
                   " | ".join(_f(r["rps"]) for r in s["rounds"]) +
                   f" | {_spread(s, 'rps')} | {_spread(s, 'p50_ms', _ms)} | "
                   f"{_spread(s, 'p99_ms', _ms)} | {_cpu(s)} | {_spread(s, 'other_cpu_pct')} | "
                   f"{s['errors']} |")
    lat = c.get("pgbench_latency")
    if lat:
        med = _med(sy.get("pgbench"), "rps")
        out += ["", f"pgbench's latency comes from one more round with a per-transaction log "
                    f"sampled at {lat.get('sampling', 0):g} ({lat.get('samples', 0):,} samples): "
                    f"p50 {_ms(lat['p50_ms'])} ms, p99 {_ms(lat['p99_ms'])} ms (uncorrected "
                    f"{_ms(lat.get('raw_p50_ms'))} / {_ms(lat.get('raw_p99_ms'))}); that round ran "
                    f"at {_f(lat['rps'])} tps"
                + (f", {100 * (lat['rps'] / med - 1):+.1f}% against the unlogged median" if med
                   else "") + "."]
    return "\n".join(out)


def machine_table(m, keys):
    o = ["| | |", "|---|---|"]
    for k, label in keys:
        o.append(f"| {label} | {m.get(k, '?')} |")
    return o


def render(res):
    m = res.get("machine", {})
    cfg = res["cfg"]
    ld = res.get("load", {})
    mode = res["mode"]
    o = [f"# lakeapi benchmark: {mode} ({m.get('date', '?')})", "",
         f"Command: `make bench{'-quick' if mode == 'quick' else ''}` "
         f"(= `bench/run.sh {mode}`), {res.get('total_s', 0)} s in all. Every figure was "
         "measured in this one run, on one database, on a shared machine: each is the median "
         f"of {cfg['rounds']} alternating rounds with [min-max] beside it.", "",
         "## Machine", ""]
    o += machine_table(m, (("nproc", "cores (nproc)"), ("cpu", "CPU"), ("mem_gb", "memory GB"),
                           ("kernel", "kernel"), ("loadavg_at_start", "load average at start"),
                           ("loadavg_at_end", "load average at end"),
                           ("postgres", "PostgreSQL"), ("pg_settings", "PostgreSQL settings"),
                           ("wrk", "wrk"), ("pgbench", "pgbench"), ("lakeapi", "lakeapi"),
                           ("python", "Python"), ("peer", "FastAPI peer packages")))
    o += ["", "## Setup", "",
          f"- Data: TPC-H orders SF {cfg['sf']} and {cfg['users']:,} users (`lakeapi load all`: "
          f"{_f(ld.get('load_all_s'), '{:.1f} s')}"
          + ("; " + "; ".join(ld["loader_says"]) if ld.get("loader_says") else "")
          + f"; `lakeapi gen orders` alone {_f(ld.get('gen_orders_s'), '{:.2f} s')}), "
          "VACUUM ANALYZE and pg_prewarm before measuring.",
          f"- Each configuration: {cfg['rounds']} rounds of {cfg['duration']} s per system; in "
          "every round each system runs once, in an order that rotates from round to round, so "
          "all sample the same foreign load.",
          "- lakeapi: `lakeapi serve` with default settings (pool 10 + overflow 20), two "
          "servers: as shipped (one event loop per core, JSON access log on, stderr to a file) and with the access log off "
          "(`LOG_LEVEL=warning`); in full mode a third, as shipped but with `WORKERS=1` (one "
          "event loop instead of one per core), for what the loop per core adds. wrk `-t2` with precomputed request lists "
          "(random existing keys; /stream: sequential readers, bench/wrk/chain.lua).",
          "- pgbench: `pgbench -n -M prepared -j 2` with the same SQL over the same unix socket, "
          "as users run it: no per-transaction log in the throughput rounds. Its p99 comes from "
          f"one separate round with `-l --sampling-rate {0.01:g}` (its own tps is printed "
          "beside, to show what the log costs).",
          "- Latency: wrk's, corrected for coordinated omission; pgbench's samples get the same "
          "correction (benchlib.co_correct).",
          "- CPU µs/request: /proc utime+stime deltas over a round divided by its requests: "
          "server (lakeapi), PG (postmaster and all backends), client (wrk or pgbench). "
          "Other CPU %: the machine's CPU spent outside these processes during the round "
          "(other tenants): the noise figure.", "",
          "## Summary", "", summary(res), "", "## Goals (issue 13)", "", goals(res), "",
          "## Stability across rounds", "",
          "max/min of req/s over the rounds. Per lakeapi round, from its /metrics: queries per "
          "Sync (lakeapi_db_queries_total / lakeapi_db_batches_total), the share of the round "
          "the loop thread was runnable but waiting for a CPU "
          "(lakeapi_loop_runqueue_wait_seconds_total), and the pool's connections at the end.", "",
          stability(res), ""]
    cc = res.get("crosscheck")
    if cc:
        o += [f"Cross-check: {cc['compared']} requests answered identically by lakeapi and the "
              "seed peer" if not cc["differ"] else
              f"Cross-check: **{len(cc['differ'])} of {cc['compared']} requests differ**: "
              + "; ".join(cc["differ"][:5]), ""]
    o += ["## Configurations", ""]
    for c in res.get("configs", []):
        o += [f"### {c['id']}: {c['title']}, {c.get('conns', '-')} connections", ""]
        if c.get("skipped"):
            o += ["Skipped: lakeapi does not serve this route.", ""]
            continue
        o += [c["what"] + ".", "", rounds_table(c), "",
              "<details><summary>pgbench script</summary>", "", "```", c["sql"].rstrip(), "```",
              "", "</details>", ""]
        fa = c["systems"].get("fastapi")
        if fa:
            o += [f"lakeapi vs the FastAPI peer: {_x(_ratio(c['systems']['lakeapi'], fa))} in "
                  "req/s.", ""]
    ch = res.get("checks") or {}
    if ch:
        o += ["## Single checks", "", "| check | measured |", "|---|---|"]
        for eid, label in (("count", "GET /count alone (1 connection)"),
                           ("pages10000", "GET /pages?page=10000 alone (1 connection)"),
                           ("livez", "GET /livez alone (1 connection; no database: the HTTP "
                                     "round trip's floor, to set beside get1)")):
            r = ch.get(eid)
            if r:
                o.append(f"| {label} | p50 {_ms(r['p50_ms'])} ms, p99 {_ms(r['p99_ms'])} ms, "
                         f"{_f(r['rps'])} req/s |")
        rss = ch.get("rss") or {}
        if "rss_kb" in rss:
            o.append(f"| RSS with 1,000 idle keep-alive connections | {rss['rss_kb'] / 1024:.1f} MB"
                     f" ({rss['answered']} answered, still serving: "
                     f"{'yes' if rss['still_serving'] else 'no'}) |")
        o.append(f"| gen orders --sf {cfg['sf']} | {_f(ld.get('gen_orders_s'), '{:.2f} s')} |")
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

#!/usr/bin/python3
"""check_layers.py - fails when an #include breaks lakeapi's layer order.

The folders under src/ are layers; each may include only the layers listed for it
below (and itself, and the C library). Public headers in include/lakeapi/ belong to
the layer named in PUBLIC. Two more rules:
  - a resource never includes another resource: a file in src/api/ includes only
    api/api_internal.h and headers of its own module (resources*.c -> api/resources.h);
  - a layer's internal headers ("folder/*internal*.h" under src/) are for that folder alone.

Usage: scripts/check_layers.py [ROOT]   (exit 1 and one line per violation)
"""
import os
import re
import sys

# layer -> the layers it may include. Data flows one way:
# cli -> {api, rest, lakehouse} -> {web, auth} -> {http, db, demo} -> {workspace, json}
# -> config -> log -> json -> util. The log writes JSON lines, so it sits above json: a
# layer of one file (src/util/log.c) inside util's folder.
ALLOWED = {
    "cli": {"api", "rest", "lakehouse", "web", "auth", "http", "db", "demo", "workspace",
            "json", "config", "util"},
    "api": {"web", "auth", "lakehouse", "http", "db", "workspace", "json", "config", "util"},
    "lakehouse": {"rest", "web", "auth", "http", "db", "workspace", "json", "config", "util"},
    "rest": {"web", "auth", "http", "db", "json", "config", "util"},
    "auth": {"web", "http", "db", "workspace", "json", "config", "util"},
    "web": {"http", "db", "json", "config", "util"},
    "http": {"json", "config", "util"},
    "db": {"workspace", "json", "config", "util"},
    "demo": {"db", "json", "config", "util"},
    "workspace": {"json", "config", "util"},
    "config": {"log", "json", "util"},
    "log": {"json", "util"},
    "json": {"util"},
    "util": set(),
}
# Every layer above the log may log.
for _layer, _deps in ALLOWED.items():
    if "config" in _deps or _layer == "config":
        _deps.add("log")

# Files whose layer is not their folder's.
FILE_LAYER = {"src/util/log.c": "log"}

# include/lakeapi/<name>.h -> its layer (a header named after a layer belongs to it).
PUBLIC = {
    "arena": "util", "buf": "util", "b64url": "util", "inbox": "util", "loopspin": "util",
    "log": "log",
    "cluster": "demo", "gen": "demo", "loader": "demo",
    "credentials": "db", "ws_http": "workspace", "http_server": "http", "router": "http", "json_body": "json",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_header(path, layers):
    if path.startswith("lakeapi/"):
        name = os.path.splitext(path[len("lakeapi/"):])[0]
        if name in PUBLIC:
            return PUBLIC[name]
        if name in layers:
            return name
        return None
    top = path.split("/", 1)[0]
    return top if top in layers and "/" in path else ""


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    src = os.path.join(root, "src")
    layers = set(ALLOWED) - {"log"}
    bad = []
    for dirpath, _, files in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        if rel_dir == ".":
            continue  # main.c: the entry point may call anything
        layer = rel_dir.split(os.sep)[0]
        if layer not in ALLOWED:
            bad.append(f"src/{rel_dir}: a folder that is no layer (add it to scripts/check_layers.py)")
            continue
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            rel = f"src/{rel_dir}/{f}"
            file_layer = FILE_LAYER.get(rel, layer)
            with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    target = layer_of_header(inc, layers)
                    if target is None:
                        bad.append(f"{rel}:{n}: {inc}: a public header of no known layer "
                                   "(name it after its layer or add it to PUBLIC)")
                    elif target == "":
                        continue  # a header beside the file, e.g. "test_util.h"
                    elif target == "util" and layer == "util":
                        continue  # util/log.c includes util's own headers
                    elif target != file_layer and target not in ALLOWED[file_layer]:
                        bad.append(f"{rel}:{n}: {file_layer} may not include {inc} ({target})")
                    elif target != layer and "internal" in os.path.basename(inc):
                        bad.append(f"{rel}:{n}: {inc} is internal to src/{target}/")
                    elif layer == "api" and target == "api" and not api_own(f, inc):
                        bad.append(f"{rel}:{n}: a resource includes another resource ({inc})")
    for b in bad:
        print(b)
    if bad:
        print(f"check_layers: {len(bad)} include(s) break the layer order", file=sys.stderr)
        return 1
    print("check_layers: every include follows the layer order")
    return 0


def api_own(filename, inc):
    """api/api_internal.h is shared; any other api header only by its own module's files."""
    if inc == "api/api_internal.h":
        return True
    module = os.path.splitext(os.path.basename(inc))[0]
    return os.path.splitext(filename)[0].startswith(module)


if __name__ == "__main__":
    sys.exit(main())

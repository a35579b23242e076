#!/usr/bin/env python3
"""The layers of src/ run one way (README, "Where things are").

Every header a file reaches, directly or through other headers, must belong
to its own layer or one below it; and the layers below the bridge return
results and errors as values, so they never answer a request themselves.
Prints each breach and exits 1 when there is one; `-v` prints the table.
"""
import os
import re
import sys

# Lowest first; a layer may reach its own headers and those of the layers it lists.
LAYERS = {
    "base": [],
    "transport": ["base"],
    "storage": ["base"],
    "domain": ["base", "transport", "storage"],
    "endpoint": ["base", "transport", "storage", "domain"],
    "top": ["base", "transport", "storage", "domain", "endpoint"],
}

HEADERS = {
    "base": ["arena.h", "mem.h", "log.h", "config.h", "json_text.h", "embed.h", "metrics.h", "import_csv.h"],
    "transport": ["http.h", "http_parser.h", "http_auth.h", "router.h", "problem.h", "forms.h", "server.h"],
    "storage": ["db.h"],
    "domain": ["auth.h", "revoked.h", "mail.h", "events.h", "body.h", "outbound.h", "outbox.h", "sse.h", "telegram.h"],
    "endpoint": ["api.h", "api_v1.h", "bridge.h", "openapi.h", "resource.h", "app.h"],
    "top": ["commands.h"],
}

# Files whose name has no layer prefix.
FILES = {
    "base": ["arena.c", "mem.c", "log.c", "config.c", "json_text.c", "metrics.c", "import_csv.c"],
    "transport": ["media_sniff.c"],
    "domain": ["body.c", "events.c", "outbound.c", "outbox.c", "sse.c"],
    "endpoint": ["openapi.c", "routes.c", "app.c"],
    "top": ["main.c", "commands.c"],
}
PREFIXES = [("http_", "transport"), ("db_", "storage"), ("auth_", "domain"), ("mail_", "domain"),
            ("outbound_", "domain"), ("sse_", "domain"), ("api_", "endpoint"), ("res_", "endpoint")]

# Below the bridge nothing answers: these calls belong to the endpoints.
ANSWERS = re.compile(r"\b(http_respond\w*|http_request_release|http_header_add)\s*\(")
INCLUDE = re.compile(r'#include "hourglass/([a-z_0-9]+\.h)"')


def layer_of_file(name):
    for layer, names in FILES.items():
        if name in names:
            return layer
    for prefix, layer in PREFIXES:
        if name.startswith(prefix):
            return layer
    return None


def layer_of_header(name):
    for layer, names in HEADERS.items():
        if name in names:
            return layer
    return None


def reach(root, path, seen):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for h in INCLUDE.findall(text):
        if h not in seen:
            seen[h] = path
            reach(root, os.path.join(root, "include/hourglass", h), seen)
    return seen


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    verbose = "-v" in sys.argv
    problems = []
    headers = sorted(os.listdir(os.path.join(root, "include/hourglass")))
    for h in headers:
        if h.endswith(".h") and layer_of_header(h) is None:
            problems.append(f"include/hourglass/{h}: no layer (add it to HEADERS in scripts/layers.py)")
    units = [("src/" + f, layer_of_file(f)) for f in sorted(os.listdir(os.path.join(root, "src"))) if f.endswith(".c")]
    units += [("include/hourglass/" + h, layer_of_header(h)) for h in headers if h.endswith(".h")]
    for path, layer in units:
        if layer is None:
            problems.append(f"{path}: no layer (name it with a layer's prefix or add it to scripts/layers.py)")
            continue
        allowed = set(LAYERS[layer]) | {layer}
        seen = reach(root, os.path.join(root, path), {})
        for h, via in sorted(seen.items()):
            hl = layer_of_header(h)
            if hl is not None and hl not in allowed:
                how = "" if via == os.path.join(root, path) else f" (through {os.path.relpath(via, root)})"
                problems.append(f"{path} ({layer}) reaches {h} ({hl}){how}")
        if path.startswith("src/") and layer in ("base", "storage", "domain"):
            with open(os.path.join(root, path), encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = ANSWERS.search(line)
                    if m:
                        problems.append(f"{path}:{n} ({layer}) answers a request itself: {m.group(1)}")
        if verbose:
            print(f"{layer:9} {path}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering problem(s)")
        return 1
    print(f"layers: {len(units)} files, one direction")
    return 0


if __name__ == "__main__":
    sys.exit(main())

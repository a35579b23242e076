#!/usr/bin/env python3
"""The layers of src/ run one way (README, "Where things are").

Every header a file reaches, directly or through other headers, must belong
to its own layer or one below it; and the layers below the bridge return
results and errors as values, so they never answer a request themselves.
Within a layer the files run one way too: no circle of headers including each
other, and no circle of calls between the files of one layer (a call graph
from each file's public definitions and the names other files call).
Prints each breach and exits 1 when there is one; `-v` prints the table.
"""
import collections
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
    "base": ["arena.h", "mem.h", "log.h", "config.h", "json_text.h", "embed.h", "metrics.h", "import_csv.h", "cache.h"],
    "transport": ["http.h", "http_parser.h", "http_auth.h", "http_etag.h", "router.h", "problem.h", "forms.h", "server.h"],
    "storage": ["db.h"],
    "domain": ["auth.h", "revoked.h", "mail.h", "events.h", "body.h", "outbound.h", "outbox.h", "sse.h", "telegram.h"],
    "endpoint": ["api.h", "api_auth.h", "api_images.h", "api_v1.h", "bridge.h", "compat.h", "openapi.h", "resource.h",
                 "app.h", "shop_cache.h", "batch.h"],
    "top": ["commands.h"],
}

# Files whose name has no layer prefix.
FILES = {
    "base": ["arena.c", "mem.c", "log.c", "config.c", "json_text.c", "metrics.c", "import_csv.c", "cache.c"],
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


COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])\'')
# A definition starts a line: a return type, the name, its parameters, then the body's brace.
DEFINITION = re.compile(r"^(?!static\b|typedef\b|struct\b|enum\b)[A-Za-z_][\w \t*]*?\b(\w+)\s*\([^;{}]*\)\s*\{", re.M)
CALL = re.compile(r"\b(\w+)\s*\(")


def code_of(path):
    """The file's text without comments and string contents."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return STRING.sub('""', COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text))


def circles(graph):
    """The strongly connected parts of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def include_circles(root, headers):
    graph = {}
    for h in headers:
        with open(os.path.join(root, "include/hourglass", h), encoding="utf-8") as f:
            graph[h] = set(INCLUDE.findall(f.read())) - {h}
    return [" -> ".join(part) for part in circles(graph)]


def call_circles(root, units):
    """Circles of calls between the .c files of each layer, with one call per edge as the example."""
    defined, code = {}, {}
    for path, layer in units:
        if path.startswith("src/") and layer is not None:
            code[path] = code_of(os.path.join(root, path))
            for m in DEFINITION.finditer(code[path]):
                defined.setdefault(m.group(1), path)
    layer_of = dict(units)
    graph, example = collections.defaultdict(set), {}
    for path, text in code.items():
        for m in CALL.finditer(text):
            callee = defined.get(m.group(1))
            if callee and callee != path and layer_of[callee] == layer_of[path]:
                graph[path].add(callee)
                example.setdefault((path, callee), m.group(1))
    found = []
    for part in circles(graph):
        inside = set(part)
        calls = [f"{os.path.basename(a)} -> {os.path.basename(b)} ({example[(a, b)]})"
                 for a in part for b in sorted(graph[a] & inside)]
        found.append((layer_of[part[0]], [os.path.basename(p) for p in part], calls))
    return found


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
    for circle in include_circles(root, [h for h in headers if h.endswith(".h")]):
        problems.append(f"headers include each other in a circle: {circle}")
    for layer, files, calls in call_circles(root, units):
        problems.append(f"files of {layer} call each other in a circle: {', '.join(files)}: " + "; ".join(calls))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering problem(s)")
        return 1
    print(f"layers: {len(units)} files, one direction")
    return 0


if __name__ == "__main__":
    sys.exit(main())

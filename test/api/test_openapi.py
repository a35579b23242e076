"""The OpenAPI document (/openapi.json), Swagger UI (/docs) and ReDoc (/redoc).

What the server routes is learnt three ways, none of them the document itself: the routes of
API.md (written here), the route patterns in the sources' route tables and resource
declarations, and the Allow header the router answers to OPTIONS. The document must hold them
all, and no more. (The server also refuses to start when a routed (pattern, method) is missing
from the document: test/unit/test_openapi.c.) `@redocly/cli lint` runs as its own stage of
scripts/test.
"""

import glob
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, REPO, http

METHODS = ("get", "post", "put", "patch", "delete")

# API.md's routes that the server has today (messages and the shop come later).
API_MD = [
    ("GET", "/"), ("POST", "/"), ("GET", "/health"), ("GET", "/health/ready"), ("GET", "/metrics"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc"),
    ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/auth/resend-verification"), ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"), ("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/logout-all"),
    ("GET", "/api/v1/auth/sessions"), ("DELETE", "/api/v1/auth/sessions/{id}"),
    ("POST", "/api/v1/auth/forgot-password"), ("POST", "/api/v1/auth/reset-password"),
    ("GET", "/api/v1/users/me"), ("PATCH", "/api/v1/users/me"), ("DELETE", "/api/v1/users/me"),
    ("POST", "/api/v1/users/me/password/check"), ("PUT", "/api/v1/users/me/password"),
    ("POST", "/api/v1/users/me/email"), ("POST", "/api/v1/users/me/email/confirm"),
    ("PUT", "/api/v1/users/me/avatar"), ("DELETE", "/api/v1/users/me/avatar"),
    ("GET", "/api/v1/users/{id}/avatar"), ("GET", "/api/v1/users"), ("GET", "/api/v1/users/{id}"),
    ("GET", "/api/v1/admin/users"), ("GET", "/api/v1/admin/users/{id}"), ("PATCH", "/api/v1/admin/users/{id}"),
    ("DELETE", "/api/v1/admin/users/{id}"),
    ("GET", "/api/v1/stats"), ("GET", "/api/v1/achievements"), ("GET", "/api/v1/music"),
    ("POST", "/api/v1/messages"), ("GET", "/api/v1/messages/{user_id}"), ("GET", "/api/v1/conversations"),
    ("POST", "/api/v1/messages/{user_id}/read"), ("GET", "/api/v1/events"),
]
# API.md's planning tools: (collection, item); a nested collection only lists and creates.
RESOURCES = [
    ("/api/v1/lists", "/api/v1/lists/{id}"),
    ("/api/v1/tasks", "/api/v1/tasks/{id}"),
    ("/api/v1/balance-wheel", "/api/v1/balance-wheel/{id}"),
    ("/api/v1/kanban/columns", "/api/v1/kanban/columns/{id}"),
    ("/api/v1/kanban/cards", "/api/v1/kanban/cards/{id}"),
    ("/api/v1/kanban/cards/{card_id}/items", "/api/v1/kanban/items/{id}"),
    ("/api/v1/gantt/tasks", "/api/v1/gantt/tasks/{id}"),
    ("/api/v1/gantt/tasks/{task_id}/durations", "/api/v1/gantt/durations/{id}"),
    ("/api/v1/planner/entries", "/api/v1/planner/entries/{id}"),
    ("/api/v1/categories", "/api/v1/categories/{id}"),
    ("/api/v1/pomodoro/presets", "/api/v1/pomodoro/presets/{id}"),
    ("/api/v1/pomodoros", "/api/v1/pomodoros/{id}"),
    ("/api/v1/admin/music", "/api/v1/admin/music/{id}"),
]
for _coll, _item in RESOURCES:
    API_MD += [("GET", _coll), ("POST", _coll), ("GET", _item), ("PATCH", _item), ("PUT", _item), ("DELETE", _item)]


@pytest.fixture(scope="module")
def doc(server):
    st, h, body = http("GET", server.url + "/openapi.json")
    assert st == 200, (st, body[:300])
    assert h["content-type"].startswith("application/json"), h
    return json.loads(body)


def operations(doc):
    for pattern, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield pattern, method, op


def concrete(pattern):
    """A path that the pattern matches: every {param} is 1."""
    return re.sub(r"\{[^}]+\}", "1", pattern)


def test_document_is_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"] and doc["paths"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["cookieAuth"] == {**schemes["cookieAuth"], "type": "apiKey", "in": "cookie",
                                     "name": "access_token"}
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "code"}
    assert {"detail", "errors"} <= set(problem["properties"])


def test_every_route_of_api_md_is_documented(doc):
    missing = [(m, p) for m, p in API_MD if m.lower() not in doc["paths"].get(p, {})]
    assert not missing, "routes of API.md missing from /openapi.json: %s" % missing


def test_every_route_in_the_sources_is_documented(doc):
    """Patterns of route tables ({ALLOW_...}) and resource declarations (API "/..."), read from src/."""
    found = set()
    for path in glob.glob(os.path.join(REPO, "src", "*.c")):
        if os.path.basename(path) == "api_compat.c":
            continue  # only with COMPAT_SEED000: test_compat_seed000.py checks its document
        with open(path, encoding="utf-8") as f:
            for line in f:
                if "ALLOW_" in line:
                    found.update(re.findall(r'"(/[^"%\s]*)"', line))
                if not line.startswith("#define"):
                    found.update("/api/v1" + p for p in re.findall(r'\bAPI "(/[^"%\s]*)"', line))
    assert len(found) > 30, found
    missing = sorted(p for p in found if p not in doc["paths"])
    assert not missing, "route patterns in src/ missing from /openapi.json: %s" % missing


def test_documented_methods_are_the_routed_ones(server, doc):
    """OPTIONS answers the router's methods for a path in Allow: they must be the document's."""
    wrong = []
    for pattern, item in doc["paths"].items():
        st, h, _ = http("OPTIONS", server.url + concrete(pattern))
        assert st == 204, (pattern, st)
        routed = {m.strip().lower() for m in h["allow"].split(",")} - {"head", "options"}
        documented = {m for m in item if m in METHODS}
        if routed != documented:
            wrong.append((pattern, sorted(routed), sorted(documented)))
    assert not wrong, "(pattern, routed, documented): %s" % wrong


def test_each_resource_has_its_schemas(doc):
    schemas = doc["components"]["schemas"]
    for coll, item in RESOURCES:
        page = doc["paths"][coll]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        name = page.rsplit("/", 1)[1]
        assert name in schemas and schemas[name]["properties"]["items"]["type"] == "array", (coll, name)
        body = doc["paths"][coll]["post"]["requestBody"]["content"]["application/json"]["schema"]
        target = schemas[body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
        assert target.get("additionalProperties") is False, (coll, target)
        for method in ("get", "patch", "put", "delete"):
            assert "404" in doc["paths"][item][method]["responses"], (item, method)


def test_operations_are_complete(doc):
    ids = set()
    for pattern, method, op in operations(doc):
        where = "%s %s" % (method, pattern)
        assert op.get("summary") and op.get("tags"), where
        assert op["operationId"] not in ids, where
        ids.add(op["operationId"])
        assert any(code.startswith("2") for code in op["responses"]), where
        assert any(code.startswith("4") for code in op["responses"]), where
        assert "security" in op, where
        if "requestBody" in op:
            assert "422" in op["responses"] and "415" in op["responses"], where
        for name in re.findall(r"\{([^}]+)\}", pattern):
            params = doc["paths"][pattern].get("parameters", []) + op.get("parameters", [])
            assert any(p.get("in") == "path" and p.get("name") == name for p in params), (where, name)


def test_refs_resolve(doc):
    def refs(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "$ref":
                    yield x
                else:
                    yield from refs(x)
        elif isinstance(v, list):
            for x in v:
                yield from refs(x)

    for r in set(refs(doc)):
        node = doc
        for part in r.lstrip("#/").split("/"):
            assert part in node, r
            node = node[part]


def test_security_matches_the_server(server, doc):
    """Every operation that asks for a token answers 401 without one; public GETs do not."""
    for pattern, method, op in operations(doc):
        st, h, body = http(method.upper(), server.url + concrete(pattern), body=b"{}",
                           headers={"Content-Type": "application/json"})
        if op["security"] == [{"botToken": []}] and st == 503:
            # API.md: the bot's routes answer 503 not_configured while BOT_API_TOKEN is unset
            assert b'"not_configured"' in body, (method, pattern, st, body[:200])
        elif op["security"]:
            assert st == 401, (method, pattern, st, body[:200])
            assert "401" in op["responses"]
        elif method == "get":
            assert st != 401, (method, pattern, st, body[:200])


def test_request_bodies_come_from_the_declared_fields(doc):
    register = doc["paths"]["/api/v1/auth/register"]["post"]["requestBody"]
    schema = register["content"]["application/json"]["schema"]
    assert register["required"] is True
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"email", "password"}
    assert schema["properties"]["email"]["format"] == "email"
    assert schema["properties"]["date_of_birth"]["format"] == "date"
    assert schema["properties"]["username"]["maxLength"] == 150
    patch = doc["paths"]["/api/v1/admin/users/{id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in patch
    assert patch["properties"]["role"]["enum"] == ["user", "staff", "admin"]
    login = doc["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"} <= set(login)


def test_the_command_prints_the_same_document(server):
    out = subprocess.run([BIN, "openapi"], capture_output=True, timeout=30, env={"PATH": os.environ["PATH"]})
    assert out.returncode == 0, out.stderr
    st, _, body = http("GET", server.url + "/openapi.json")
    assert out.stdout.rstrip(b"\n") == body


def test_document_is_cached_by_etag(server):
    st, h, body = http("GET", server.url + "/openapi.json")
    etag = h["etag"]
    assert etag.startswith('"') and "no-cache" in h["cache-control"]
    st, h2, body2 = http("GET", server.url + "/openapi.json", headers={"If-None-Match": etag})
    assert st == 304 and body2 == b"" and h2["etag"] == etag
    st, _, _ = http("GET", server.url + "/openapi.json", headers={"If-None-Match": '"other", W/' + etag})
    assert st == 304
    st, _, _ = http("GET", server.url + "/openapi.json", headers={"If-None-Match": '"other"'})
    assert st == 200


# ------------------------------------------------------------------------------ the pages


def page_assets(html):
    return re.findall(r'(?:src|href)="(docs/assets/[^"]+)"', html)


@pytest.mark.parametrize("page,needs", [
    ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"]),
    ("/redoc", ["redoc.standalone.js"]),
])
def test_page_serves_its_assets_itself(server, page, needs):
    st, h, body = http("GET", server.url + page)
    assert st == 200 and h["content-type"].startswith("text/html"), (st, h)
    html = body.decode()
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "a page must not load from elsewhere: " + html
    assets = page_assets(html)
    for name in needs:
        assert any(a.startswith("docs/assets/" + name + "?v=") for a in assets), (name, assets)
    spec_url = "openapi.json" in html  # ReDoc's element, or Swagger UI's start script
    for a in assets:
        st, h, data = http("GET", server.url + "/" + a)
        spec_url |= a.startswith("docs/assets/swagger-init.js") and b'"openapi.json"' in data
        assert st == 200 and len(data) == int(h["content-length"]) > 0, (a, st)
        assert h["cache-control"] == "public, max-age=31536000, immutable", (a, h)
        assert h["etag"].startswith('"') and h["x-content-type-options"] == "nosniff"
        st, h2, data = http("GET", server.url + "/" + a, headers={"If-None-Match": h["etag"]})
        assert st == 304 and data == b"" and h2["etag"] == h["etag"], (a, st)
    assert spec_url, "the page does not load openapi.json"
    st, h, _ = http("GET", server.url + page)
    assert "no-cache" in h["cache-control"]
    st, _, _ = http("GET", server.url + page, headers={"If-None-Match": h["etag"]})
    assert st == 304


def test_asset_types_and_versions(server):
    st, h, body = http("GET", server.url + "/docs/assets/swagger-ui.css")
    assert st == 200 and h["content-type"].startswith("text/css")
    # only the URL with the current version may be kept for good
    assert h["cache-control"] == "no-cache"
    st, h, _ = http("GET", server.url + "/docs/assets/swagger-ui-bundle.js?v=000000000000")
    assert st == 200 and h["content-type"].startswith("text/javascript") and h["cache-control"] == "no-cache"
    st, h, body = http("HEAD", server.url + "/docs/assets/redoc.standalone.js")
    assert st == 200 and body == b"" and int(h["content-length"]) > 100000
    st, h, body = http("GET", server.url + "/docs/assets/favicon-32x32.png")
    assert st == 200 and h["content-type"] == "image/png" and body.startswith(b"\x89PNG")
    for licence in ("swagger-ui-dist.LICENSE.txt", "redoc.LICENSE.txt"):
        st, h, _ = http("GET", server.url + "/docs/assets/" + licence)
        assert st == 200 and h["content-type"].startswith("text/plain")


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fopenapi.json", "FILES"])
def test_unknown_asset_is_404(server, name):
    st, h, body = http("GET", server.url + "/docs/assets/" + name)
    assert st == 404 and json.loads(body)["code"] == "not_found"


def test_swagger_ui_renders_the_operations(server):
    """A real browser renders /docs from the server's own files: each tag and an operation show."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium is not installed (Debian package chromium)")
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--no-first-run", "--virtual-time-budget=20000", "--dump-dom", server.url + "/docs"],
                         capture_output=True, timeout=120)
    dom = out.stdout.decode("utf-8", "replace")
    assert 'class="swagger-ui' in dom, out.stderr.decode()[-2000:]
    assert "opblock-tag" in dom and "/api/v1/auth/login" in dom, dom[:2000]

"""CORS: CLIENT_ORIGIN=http://app.example on the shared server."""

import pytest

from conftest import http

ORIGIN = "http://app.example"


def _list(value):
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


def preflight(server, path, origin=ORIGIN, method="GET", req_headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    return http("OPTIONS", server.url + path, headers=h)


def test_preflight_allowed_origin(server):
    st, h, body = preflight(server, "/health", req_headers="content-type, authorization, x-request-id")
    assert st == 204, (st, h, body)
    assert body == b""
    assert h.get("access-control-allow-origin") == ORIGIN, h
    assert h.get("access-control-allow-credentials") == "true", h
    methods = {m.upper() for m in _list(h.get("access-control-allow-methods"))}
    assert "GET" in methods, h
    allowed_headers = _list(h.get("access-control-allow-headers"))
    assert {"content-type", "authorization"} <= allowed_headers, h
    assert h.get("access-control-max-age", "").isdigit() and int(h["access-control-max-age"]) > 0, h
    assert "origin" in _list(h.get("vary")), h
    assert {"GET", "HEAD"} <= {m.upper() for m in _list(h.get("allow"))}, h


@pytest.mark.parametrize("path,method", [("/", "POST"), ("/health/ready", "GET"), ("/metrics", "GET")])
def test_preflight_other_known_paths(server, path, method):
    st, h, _ = preflight(server, path, method=method)
    assert st == 204, (path, st, h)
    assert h.get("access-control-allow-origin") == ORIGIN
    assert method in {m.upper() for m in _list(h.get("access-control-allow-methods"))}, h
    assert method in {m.upper() for m in _list(h.get("allow"))}, h


def test_options_without_cors_headers(server):
    st, h, body = http("OPTIONS", server.url + "/health")
    assert st == 204, (st, h)
    assert body == b""
    assert {"GET", "HEAD"} <= {m.upper() for m in _list(h.get("allow"))}, h
    assert "access-control-allow-origin" not in h


@pytest.mark.parametrize("origin", ["http://evil.example", "https://app.example", "http://app.example.evil.com",
                                    "http://app.exampl", "http://app.example:8080", "null"])
def test_preflight_disallowed_origin(server, origin):
    st, h, _ = preflight(server, "/health", origin=origin)
    assert st == 204, (st, h)
    assert "access-control-allow-origin" not in h, h
    assert "access-control-allow-credentials" not in h, h
    assert "access-control-allow-methods" not in h, h


def test_simple_get_with_allowed_origin(server):
    st, h, body = http("GET", server.url + "/health", headers={"Origin": ORIGIN})
    assert st == 200 and body == b"ok"
    assert h.get("access-control-allow-origin") == ORIGIN, h
    assert h.get("access-control-allow-credentials") == "true", h
    assert "origin" in _list(h.get("vary")), h


@pytest.mark.parametrize("method,path,status", [("GET", "/nonexistent", 404), ("DELETE", "/health", 405),
                                                ("GET", "/health/ready", 200), ("POST", "/", 200)])
def test_every_answer_carries_cors_for_allowed_origin(server, method, path, status):
    st, h, _ = http(method, server.url + path, headers={"Origin": ORIGIN}, body=b"" if method == "POST" else None)
    assert st == status
    assert h.get("access-control-allow-origin") == ORIGIN, h
    assert h.get("access-control-allow-credentials") == "true", h
    assert "origin" in _list(h.get("vary")), h


def test_simple_get_with_disallowed_origin(server):
    st, h, body = http("GET", server.url + "/health", headers={"Origin": "http://evil.example"})
    assert st == 200 and body == b"ok"
    assert "access-control-allow-origin" not in h, h
    assert "access-control-allow-credentials" not in h, h


def test_options_unknown_path_is_404(server):
    st, h, body = preflight(server, "/nonexistent")
    assert st == 404, (st, h, body)
    assert h.get("content-type", "").startswith("application/problem+json")
    assert "access-control-allow-methods" not in h


def test_several_allowed_origins(make_server):
    s = make_server(CLIENT_ORIGIN="http://a.example,http://b.example")
    for origin in ("http://a.example", "http://b.example"):
        st, h, _ = http("GET", s.url + "/health", headers={"Origin": origin})
        assert st == 200 and h.get("access-control-allow-origin") == origin, (origin, h)
        st, h, _ = preflight(s, "/health", origin=origin)
        assert st == 204 and h.get("access-control-allow-origin") == origin, (origin, h)
    st, h, _ = http("GET", s.url + "/health", headers={"Origin": "http://app.example"})
    assert "access-control-allow-origin" not in h


def test_no_client_origin_allows_nothing(make_server):
    s = make_server(CLIENT_ORIGIN=None)
    st, h, _ = preflight(s, "/health", origin="http://app.example")
    assert st == 204
    assert "access-control-allow-origin" not in h
    st, h, _ = http("GET", s.url + "/health", headers={"Origin": "http://app.example"})
    assert "access-control-allow-origin" not in h

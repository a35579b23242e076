"""Problem JSON errors (RFC 9457), their language, and what they must never contain."""

import json
import re

import pytest

from conftest import Conn, assert_problem, get_request, http

LEAK_PATTERNS = [r"\bSELECT\b", r"\bINSERT\b", r"schema_migrations", r"\blibpq\b", r"\bpg_\w+",
                 r"\.c:\d+", r"Traceback", r"Sanitizer", r"0x[0-9a-fA-F]{6,}", r"postgresql://",
                 r"\bsegfault\b", r"\bassert", r"\bllhttp\b", r"\bHPE_"]


def assert_no_leak(body):
    text = body.decode("utf-8", "replace")
    for p in LEAK_PATTERNS:
        assert not re.search(p, text), "error body leaks internals (%s): %s" % (p, text)


def test_404_problem_json(server):
    st, h, body = http("GET", server.url + "/nonexistent")
    doc = assert_problem((st, h, body), 404, "not_found")
    assert doc["title"] == "Not Found"
    assert set(doc) >= {"type", "title", "status", "code", "detail"}
    assert_no_leak(body)


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/healthz", "/HEALTH",
                                  "/metrics/x", "/health/ready/x"])
def test_unknown_paths_are_404(server, path):
    assert_problem(http("GET", server.url + path), 404, "not_found")


def test_404_for_every_method(server):
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert_problem(http(method, server.url + "/nonexistent", body=b"" if method != "GET" else None),
                       404, "not_found")


def _allow_set(h):
    return {m.strip().upper() for m in h.get("allow", "").split(",") if m.strip()}


def test_405_with_allow(server):
    st, h, body = http("DELETE", server.url + "/health")
    doc = assert_problem((st, h, body), 405, "method_not_allowed")
    assert doc["title"] == "Method Not Allowed"
    allow = _allow_set(h)
    assert {"GET", "HEAD"} <= allow, h.get("allow")
    assert "DELETE" not in allow and "POST" not in allow
    assert_no_leak(body)


@pytest.mark.parametrize("method,path,must,must_not", [
    ("POST", "/health/ready", {"GET"}, {"POST"}),
    ("PUT", "/metrics", {"GET"}, {"PUT"}),
    ("DELETE", "/", {"GET", "POST"}, {"DELETE"}),
    ("PATCH", "/health", {"GET", "HEAD"}, {"PATCH"}),
])
def test_405_other_routes(server, method, path, must, must_not):
    st, h, body = http(method, server.url + path, body=b"")
    assert_problem((st, h, body), 405, "method_not_allowed")
    allow = _allow_set(h)
    assert must <= allow, h.get("allow")
    assert not (must_not & allow), h.get("allow")


@pytest.mark.parametrize("accept_language,lang", [
    (None, "en"),
    ("ru-RU,ru;q=0.9", "ru"),
    ("ru", "ru"),
    ("RU", "ru"),
    ("en;q=0.5, ru", "ru"),
    ("en", "en"),
    ("en-US,en;q=0.9,ru;q=0.8", "en"),
    ("de-DE", "en"),
    ("ru;q=0.1, en;q=0.9", "en"),
    ("*", "en"),
])
def test_problem_detail_language(server, accept_language, lang):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    st, h, body = http("GET", server.url + "/nonexistent", headers=headers)
    doc = assert_problem((st, h, body), 404, "not_found", lang=lang)
    # the machine-readable parts never change with the language
    assert doc["code"] == "not_found" and doc["type"] == "about:blank" and doc["status"] == 404
    assert doc["title"] == "Not Found"


def test_russian_details_differ_from_english_for_405(server):
    _, _, en = http("DELETE", server.url + "/health")
    _, _, ru = http("DELETE", server.url + "/health", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    den, dru = json.loads(en)["detail"], json.loads(ru)["detail"]
    assert re.search("[\u0400-\u04ff]", dru), dru
    assert not re.search("[\u0400-\u04ff]", den), den
    assert json.loads(ru)["code"] == "method_not_allowed"


def test_400_is_problem_json_in_russian_too(server):
    with Conn(server.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Language: ru\r\nContent-Length: abc\r\n\r\n")
        r = c.read_response()
    # the headers may not have been fully parsed: any language is acceptable, but it is problem JSON
    assert r.status == 400
    doc = r.json()
    assert doc["code"] == "malformed_request" and doc["status"] == 400
    assert_no_leak(r.body)


def test_error_bodies_leak_nothing(server):
    bodies = []
    for req in (get_request("/'%20OR%201=1--"), b"\x00\x01garbage\r\n\r\n",
                b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n"):
        with Conn(server.port) as c:
            c.send(req)
            r = c.read_response()
            assert r.status >= 400, r
            assert r.headers["content-type"].startswith("application/problem+json")
            bodies.append(r.body)
    for b in bodies:
        assert_no_leak(b)
        json.loads(b)


def test_problem_json_is_utf8_with_length(server):
    st, h, body = http("GET", server.url + "/nonexistent", headers={"Accept-Language": "ru"})
    assert int(h["content-length"]) == len(body)
    body.decode("utf-8")  # valid UTF-8

"""Direct messages and conversations (API.md "Messages"): POST /api/v1/messages,
GET /api/v1/messages/{user_id}, GET /api/v1/conversations, POST /api/v1/messages/{user_id}/read.

Choices beyond API.md that these tests pin (see docs/messages.md):
  * a conversation page takes ?limit= and ?cursor= like every list, and ?before= (a message
    id: only older messages); next_cursor is the id of the oldest message shown;
  * a conversation with, or a read mark for, a user that does not exist answers 404 not_found,
    like a nested route whose parent is missing; path ids that are not positive 64-bit integers
    answer 404 too;
  * Location of a new message is under /api/v1/messages/.
"""

import json
import urllib.parse

import pytest

from conftest import http
from messages_helpers import (MESSAGE_KEYS, MISSING_ID, ORIGIN, PASSWORD, PUBLIC_KEYS, TIME_RE, module_server,
                              new_user, page_query, send, uniq)
from planning_helpers import BAD_PATH_IDS, Api, assert_errors, field_errors, ok, problem

MESSAGES = "/api/v1/messages"
CONVERSATIONS = "/api/v1/conversations"


@pytest.fixture(scope="module")
def srv():
    yield from module_server()


@pytest.fixture
def a(srv):
    return new_user(srv)


@pytest.fixture
def b(srv):
    return new_user(srv)


@pytest.fixture
def c(srv):
    return new_user(srv)


def conversation(api, peer, **params):
    peer_id = peer if isinstance(peer, int) else peer.id
    return api.get("%s/%d%s" % (MESSAGES, peer_id, page_query(**params)))


def conversation_ids(api, peer, **params):
    page = ok(conversation(api, peer, **params))
    assert set(page) == {"items", "next_cursor"}, page
    return [m["id"] for m in page["items"]]


def whole_conversation(api, peer, limit=None):
    """Every message of a conversation, following next_cursor."""
    out, cursor = [], None
    for _ in range(1000):
        page = ok(conversation(api, peer, limit=limit, cursor=cursor))
        assert set(page) == {"items", "next_cursor"}, page
        out += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out
        assert isinstance(cursor, str) and cursor, page
    raise AssertionError("the cursor never ends")


def conversations(api, **params):
    page = ok(api.get(CONVERSATIONS + page_query(**params)))
    assert set(page) == {"items", "next_cursor"}, page
    return page


def all_conversations(api, limit=None):
    out, cursor = [], None
    for _ in range(1000):
        page = conversations(api, limit=limit, cursor=cursor)
        out += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out
        assert isinstance(cursor, str) and cursor, page
    raise AssertionError("the cursor never ends")


def peers(api, **kw):
    return [item["user"]["id"] for item in all_conversations(api, **kw)]


def unread_from(api, peer):
    for item in all_conversations(api):
        if item["user"]["id"] == peer.id:
            return item["unread"]
    raise AssertionError("no conversation with %d" % peer.id)


def mark_read(api, peer):
    peer_id = peer if isinstance(peer, int) else peer.id
    return api.post("%s/%d/read" % (MESSAGES, peer_id))


def check_message(m, sender, recipient, text):
    assert set(m) == MESSAGE_KEYS, m
    assert isinstance(m["id"], int) and m["id"] > 0, m
    assert m["from_user_id"] == sender.id and m["to_user_id"] == recipient.id, m
    assert m["text"] == text, m
    assert TIME_RE.match(m["created_at"]), m


# --------------------------------------------------------------------------- sending

def test_send_answers_201_with_the_message_and_location(a, b):
    text = uniq("привет")
    r = a.post(MESSAGES, {"to_user_id": b.id, "text": text})
    m = ok(r, 201)
    check_message(m, a, b, text)
    assert m["read_at"] is None, m
    loc = r.headers.get("location", "")
    assert loc.startswith("/api/v1/messages/"), r.headers
    # both sides see it in their conversation
    assert ok(conversation(a, b))["items"] == [m]
    assert ok(conversation(b, a))["items"] == [m]


def test_send_text_bounds_count_code_points(a, b):
    for text in ("Ж", "a" * 4000, "Я" * 4000, "😀" * 4000):
        m = send(a, b, text)
        assert m["text"] == text
    r = a.post(MESSAGES, {"to_user_id": b.id, "text": "😀" * 4000}, ascii_json=True)
    assert ok(r, 201)["text"] == "😀" * 4000
    assert_errors(a.post(MESSAGES, {"to_user_id": b.id, "text": ""}), [("text", "too_short")])
    for text in ("a" * 4001, "Я" * 4001, "😀" * 4001):
        assert_errors(a.post(MESSAGES, {"to_user_id": b.id, "text": text}), [("text", "too_long")])
    texts = [m["text"] for m in whole_conversation(b, a)]
    assert texts == ["😀" * 4000, "😀" * 4000, "Я" * 4000, "a" * 4000, "Ж"]


def test_send_required_fields(a, b):
    assert_errors(a.post(MESSAGES, {}), [("to_user_id", "required"), ("text", "required")])
    assert_errors(a.post(MESSAGES, {"to_user_id": b.id}), [("text", "required")])
    assert_errors(a.post(MESSAGES, {"text": "x"}), [("to_user_id", "required")])
    assert_errors(a.post(MESSAGES, {"to_user_id": None, "text": None}), [("to_user_id", "required"),
                                                                         ("text", "required")])
    assert whole_conversation(a, b) == []


@pytest.mark.parametrize("value", ["1", 1.5, 2.0, True, [1], {"id": 1}],
                         ids=["string", "float", "float-integral", "bool", "array", "object"])
def test_send_to_user_id_must_be_an_integer(a, b, value):
    if value == "1":
        value = str(b.id)
    assert_errors(a.post(MESSAGES, {"to_user_id": value, "text": "x"}), [("to_user_id", "wrong_type")])
    assert whole_conversation(a, b) == []


@pytest.mark.parametrize("value", [5, True, ["a"], {"a": "b"}], ids=["number", "bool", "array", "object"])
def test_send_text_must_be_a_string(a, b, value):
    assert_errors(a.post(MESSAGES, {"to_user_id": b.id, "text": value}), [("text", "wrong_type")])


@pytest.mark.parametrize("name", ["bogus", "id", "from_user_id", "created_at", "read_at"])
def test_send_unknown_fields_are_rejected(a, b, name):
    body = {"to_user_id": b.id, "text": "x", name: a.id if name.endswith("id") else "2026-01-01T00:00:00Z"}
    assert_errors(a.post(MESSAGES, body), [(name, "unknown_field")])
    assert whole_conversation(a, b) == []


def test_send_every_error_in_one_answer(a):
    assert_errors(a.post(MESSAGES, {"bogus": 1, "text": ""}),
                  [("bogus", "unknown_field"), ("to_user_id", "required"), ("text", "too_short")])
    assert_errors(a.post(MESSAGES, {"to_user_id": "x", "text": 7}),
                  [("to_user_id", "wrong_type"), ("text", "wrong_type")])


def test_send_to_oneself_is_invalid_recipient(a):
    assert_errors(a.post(MESSAGES, {"to_user_id": a.id, "text": "me"}), [("to_user_id", "invalid_recipient")])
    assert all_conversations(a) == []


@pytest.mark.parametrize("to", [MISSING_ID, 0], ids=["missing", "zero"])
def test_send_to_an_unknown_user_is_not_found(a, to):
    assert_errors(a.post(MESSAGES, {"to_user_id": to, "text": "anyone?"}), [("to_user_id", "not_found")])
    assert all_conversations(a) == []


def test_send_to_a_deleted_user_is_not_found(srv, a):
    gone = new_user(srv)
    send(a, gone, "before")
    send(gone, a, "reply")
    assert peers(a) == [gone.id]
    r = gone.req("DELETE", "/api/v1/users/me", {"password": PASSWORD})
    assert r.status == 204, r
    assert_errors(a.post(MESSAGES, {"to_user_id": gone.id, "text": "still there?"}), [("to_user_id", "not_found")])
    # the account and its messages are gone: no conversation left
    assert all_conversations(a) == []
    problem(conversation(a, gone), 404, "not_found")


def test_send_malformed_json_is_400(a):
    for raw in (b'{"to_user_id": ', b"nul", b'{"a": 1,}', b"\xff\xfe{}"):
        problem(a.post(MESSAGES, raw=raw, headers={"Content-Type": "application/json"}), 400, "malformed_json")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded"])
def test_send_non_json_is_415(a, b, ctype):
    raw = json.dumps({"to_user_id": b.id, "text": "x"}).encode()
    problem(a.post(MESSAGES, raw=raw, headers={"Content-Type": ctype}), 415, "unsupported_media_type")
    assert whole_conversation(a, b) == []


def test_send_json_with_charset_is_accepted(a, b):
    raw = json.dumps({"to_user_id": b.id, "text": "x"}).encode()
    ok(a.post(MESSAGES, raw=raw, headers={"Content-Type": "application/json; charset=utf-8"}), 201)


def test_cookie_authentication_needs_an_allowed_origin(a, b):
    cookie = {"Cookie": "access_token=" + a.token}
    body = {"to_user_id": b.id, "text": "by cookie"}
    problem(a.post(MESSAGES, body, token=None, headers=cookie), 403, "origin_not_allowed")
    problem(a.post(MESSAGES, body, token=None, headers=dict(cookie, Origin="http://evil.example")), 403,
            "origin_not_allowed")
    m = ok(a.post(MESSAGES, body, token=None, headers=dict(cookie, Origin=ORIGIN)), 201)
    assert ok(a.get("%s/%d" % (MESSAGES, b.id), token=None, headers=cookie))["items"] == [m]
    assert ok(a.get(CONVERSATIONS, token=None, headers=cookie))["items"][0]["last_message"] == m
    r = a.post("%s/%d/read" % (MESSAGES, b.id), token=None, headers=cookie)
    problem(r, 403, "origin_not_allowed")


def test_401_without_a_valid_token(srv, a, b):
    send(a, b, "secret")
    anon = Api(srv, None)
    calls = [("POST", MESSAGES, {"to_user_id": b.id, "text": "x"}), ("GET", "%s/%d" % (MESSAGES, b.id), None),
             ("GET", CONVERSATIONS, None), ("POST", "%s/%d/read" % (MESSAGES, a.id), None)]
    for token in (None, "not-a-token", a.token + "x"):
        for method, path, body in calls:
            kw = {} if body is None else {"body": body}
            r = anon.req(method, path, token=token, **kw)
            problem(r, 401)
            assert "bearer" in r.headers.get("www-authenticate", "").lower(), r.headers
    assert unread_from(b, a) == 1


def test_logged_out_token_is_refused(srv, a, b):
    assert a.post("/api/v1/auth/logout").status == 204
    problem(a.post(MESSAGES, {"to_user_id": b.id, "text": "x"}), 401)
    problem(a.get(CONVERSATIONS), 401)


# --------------------------------------------------------------------------- a conversation

def test_conversation_both_directions_newest_first(a, b, c):
    made = []
    for sender, recipient in [(a, b), (b, a), (a, b), (a, c), (b, a), (c, a), (a, b)]:
        m = send(sender, recipient)
        if {sender.id, recipient.id} == {a.id, b.id}:
            made.append(m)
    want = [m["id"] for m in reversed(made)]
    assert conversation_ids(a, b) == want
    assert conversation_ids(b, a) == want
    items = ok(conversation(a, b))["items"]
    assert items == list(reversed(made))
    assert len(conversation_ids(a, c)) == 2 and len(conversation_ids(c, a)) == 2


def test_conversation_paging_by_cursor_without_gap_or_duplicate(a, b):
    made = [send(a if i % 2 else b, b if i % 2 else a)["id"] for i in range(7)]
    newest = list(reversed(made))
    pages, cursor = [], None
    while True:
        page = ok(conversation(a, b, limit=3, cursor=cursor))
        pages.append([m["id"] for m in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert len(pages) < 10
    assert pages == [newest[0:3], newest[3:6], newest[6:7]], pages
    for limit in (1, 2, 7, 200):
        assert [m["id"] for m in whole_conversation(a, b, limit=limit)] == newest, limit
    # a cursor is reusable, and a message sent meanwhile does not shift the older pages
    first = ok(conversation(a, b, limit=3))
    send(a, b, "newer")
    again = ok(conversation(a, b, limit=3, cursor=first["next_cursor"]))
    assert [m["id"] for m in again["items"]] == newest[3:6]


def test_conversation_before_a_message_id(a, b):
    made = [send(a, b)["id"] for _ in range(5)]
    assert conversation_ids(a, b, before=made[3]) == [made[2], made[1], made[0]]
    page = ok(conversation(a, b, before=made[4], limit=2))
    assert [m["id"] for m in page["items"]] == [made[3], made[2]]
    assert page["next_cursor"] is not None
    assert conversation_ids(a, b, before=made[0]) == []
    assert conversation_ids(b, a, before=made[1]) == [made[0]]
    # before takes any id, not only one of this conversation's
    assert conversation_ids(a, b, before=MISSING_ID) == list(reversed(made))


def test_conversation_next_cursor_is_null_when_the_last_page_is_full(a, b):
    made = [send(b, a)["id"] for _ in range(4)]
    first = ok(conversation(a, b, limit=2))
    second = ok(conversation(a, b, limit=2, cursor=first["next_cursor"]))
    assert [m["id"] for m in second["items"]] == [made[1], made[0]]
    assert second["next_cursor"] is None, second
    whole = ok(conversation(a, b, limit=4))
    assert whole["next_cursor"] is None and len(whole["items"]) == 4


def test_conversation_default_limit_is_50_and_max_200(a, b):
    made = [send(a, b, "n%d" % i)["id"] for i in range(51)]
    page = ok(conversation(a, b))
    assert [m["id"] for m in page["items"]] == list(reversed(made))[:50]
    assert isinstance(page["next_cursor"], str)
    rest = ok(conversation(a, b, cursor=page["next_cursor"]))
    assert [m["id"] for m in rest["items"]] == [made[0]] and rest["next_cursor"] is None
    page = ok(conversation(a, b, limit=200))
    assert len(page["items"]) == 51 and page["next_cursor"] is None


def test_empty_conversation(a, b):
    assert ok(conversation(a, b)) == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("param,value", [("limit", "0"), ("limit", "201"), ("limit", "abc"), ("limit", "-1"),
                                         ("limit", "1.5"), ("limit", "99999999999999999999"),
                                         ("cursor", "garbage!"), ("cursor", "not a cursor"), ("cursor", "%%%"),
                                         ("before", "garbage"), ("before", "-5"), ("before", "1.5")])
def test_conversation_bad_query_is_422(a, b, param, value):
    send(a, b)
    r = a.get("%s/%d?%s" % (MESSAGES, b.id, urllib.parse.urlencode({param: value})))
    errs = field_errors(r)
    assert {f for f, _ in errs} == {param}, errs


@pytest.mark.parametrize("bad", BAD_PATH_IDS + [str(MISSING_ID)])
def test_conversation_with_a_bad_or_unknown_user_is_404(a, bad):
    problem(a.get("%s/%s" % (MESSAGES, bad)), 404, "not_found")
    problem(a.post("%s/%s/read" % (MESSAGES, bad)), 404, "not_found")


def test_another_users_conversation_is_never_visible(a, b, c):
    secret = send(a, b, "between a and b")
    send(b, a, "reply")
    mine = send(c, a, "c to a")
    # c asking for its conversation with a sees only c <-> a
    assert ok(conversation(c, a))["items"] == [mine]
    assert [m["id"] for m in ok(conversation(c, b))["items"]] == []
    assert peers(c) == [a.id]
    for item in all_conversations(c):
        assert item["last_message"]["id"] != secret["id"]
    # nor can c mark them read
    assert mark_read(c, a).status == 204
    assert mark_read(c, b).status == 204
    assert unread_from(b, a) == 1 and unread_from(a, b) == 1
    assert ok(conversation(b, a))["items"][-1]["read_at"] is None


# --------------------------------------------------------------------------- conversations

def test_conversations_item_shape(srv, a):
    peer = new_user(srv, username=uniq("peer"), name="Пётр", country="RU")
    m = send(peer, a, "hello there")
    page = conversations(a)
    assert page["next_cursor"] is None
    [item] = page["items"]
    assert set(item) == {"user", "last_message", "unread"}, item
    assert set(item["user"]) == PUBLIC_KEYS, item
    st, _, body = http("GET", srv.url + "/api/v1/users/%d" % peer.id)
    assert st == 200
    assert item["user"] == json.loads(body), item  # the public profile, never the e-mail
    assert item["last_message"] == m
    assert item["unread"] == 1
    [theirs] = conversations(peer)["items"]
    assert theirs["user"]["id"] == a.id and theirs["last_message"] == m and theirs["unread"] == 0


def test_conversations_newest_first_and_last_message_either_way(srv, a):
    others = [new_user(srv) for _ in range(4)]
    last = {}
    for o in others:
        last[o.id] = send(a, o)
    assert peers(a) == [o.id for o in reversed(others)]
    # a reply moves that conversation to the front, and is its last message
    last[others[0].id] = send(others[0], a, "reply")
    assert peers(a) == [others[0].id, others[3].id, others[2].id, others[1].id]
    for item in all_conversations(a):
        assert item["last_message"] == last[item["user"]["id"]], item
    assert peers(others[0]) == [a.id]


def test_conversations_paging_without_gap_or_duplicate(srv, a):
    others = [new_user(srv) for _ in range(5)]
    for o in others:
        send(o, a)
    newest = [o.id for o in reversed(others)]
    pages, cursor = [], None
    while True:
        page = conversations(a, limit=2, cursor=cursor)
        pages.append([item["user"]["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert len(pages) < 10
    assert pages == [newest[0:2], newest[2:4], newest[4:5]], pages
    for limit in (1, 3, 5, 200):
        assert peers(a, limit=limit) == newest, limit
    full = conversations(a, limit=5)
    assert full["next_cursor"] is None and len(full["items"]) == 5


def test_conversations_empty(a):
    assert conversations(a) == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("param,value", [("limit", "0"), ("limit", "201"), ("limit", "x"), ("cursor", "garbage!"),
                                         ("cursor", "%%%")])
def test_conversations_bad_query_is_422(a, param, value):
    errs = field_errors(a.get(CONVERSATIONS + "?" + urllib.parse.urlencode({param: value})))
    assert {f for f, _ in errs} == {param}, errs


# --------------------------------------------------------------------------- unread and read

def test_unread_counts_and_read_marks(a, b):
    to_a = [send(b, a, "b%d" % i) for i in range(3)]
    to_b = send(a, b, "a0")
    assert unread_from(a, b) == 3
    assert unread_from(b, a) == 1
    r = mark_read(a, b)
    assert r.status == 204 and r.body == b"", r
    assert unread_from(a, b) == 0
    assert unread_from(b, a) == 1  # only the messages *to* the caller are marked
    items = {m["id"]: m for m in whole_conversation(a, b)}
    for m in to_a:
        assert TIME_RE.match(items[m["id"]]["read_at"] or ""), items[m["id"]]
        assert items[m["id"]]["read_at"] >= m["created_at"]
    assert items[to_b["id"]]["read_at"] is None
    # the conversations list shows the read mark on the last message when it is the peer's
    send(b, a, "one more")
    assert unread_from(a, b) == 1
    assert mark_read(a, b).status == 204
    [item] = [i for i in all_conversations(a) if i["user"]["id"] == b.id]
    assert item["unread"] == 0 and item["last_message"]["read_at"] is not None
    # marking again, or with nothing to mark, is fine
    assert mark_read(a, b).status == 204
    assert mark_read(b, a).status == 204
    assert unread_from(b, a) == 0


def test_read_with_a_user_never_written_to_is_204(srv, a):
    stranger = new_user(srv)
    r = mark_read(a, stranger)
    assert r.status == 204, r
    assert all_conversations(a) == []


def test_read_of_oneself_is_204_and_changes_nothing(a, b):
    send(b, a)
    r = mark_read(a, a)
    assert r.status in (204, 422), r
    assert unread_from(a, b) == 1


# --------------------------------------------------------------------------- methods, OpenAPI

def test_405_with_allow(a, b):
    r = a.delete(MESSAGES)
    problem(r, 405)
    assert "POST" in r.headers.get("allow", ""), r.headers
    r = a.put(CONVERSATIONS, {})
    problem(r, 405)
    assert "GET" in r.headers.get("allow", ""), r.headers
    r = a.get("%s/%d/read" % (MESSAGES, b.id))
    problem(r, 405)
    assert "POST" in r.headers.get("allow", ""), r.headers


def _resolve(doc, obj):
    """Follows a local $ref (#/components/...)."""
    while isinstance(obj, dict) and "$ref" in obj:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def test_openapi_documents_the_messages_routes(srv):
    st, _, body = http("GET", srv.url + "/openapi.json")
    assert st == 200
    doc = json.loads(body)
    paths = doc["paths"]
    for path, method in [("/api/v1/messages", "post"), ("/api/v1/messages/{user_id}", "get"),
                         ("/api/v1/messages/{user_id}/read", "post"), ("/api/v1/conversations", "get"),
                         ("/api/v1/events", "get")]:
        assert path in paths and method in paths[path], (path, method, sorted(paths))
        op = paths[path][method]
        assert op.get("security"), (path, method, "no security requirement")
    assert "201" in paths["/api/v1/messages"]["post"]["responses"]
    assert "422" in paths["/api/v1/messages"]["post"]["responses"]
    assert "204" in paths["/api/v1/messages/{user_id}/read"]["post"]["responses"]
    conv = paths["/api/v1/messages/{user_id}"]
    params = conv.get("parameters", []) + conv["get"].get("parameters", [])
    names = {_resolve(doc, p).get("name") for p in params}
    assert {"before", "limit", "cursor"} <= names, names
    events = paths["/api/v1/events"]["get"]["responses"]
    assert "text/event-stream" in _resolve(doc, events["200"]).get("content", {}), events
    assert "429" in events, events

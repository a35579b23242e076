"""Engine-wide rules of API.md ("Conventions", "Errors", "Planning tools", "Details that clients
rely on"), checked on every planning resource: CRUD with PUT/PATCH semantics, every field code,
bodies, ids in paths, owner scope, references, unique values, pagination, 401/404/405.

The resources are written down as data in planning_helpers.py; each test here is parametrized
over them. One server for the module."""

import json
import re
import urllib.parse

import pytest

from planning_helpers import (ALL, BAD_PATH_IDS, FIELDS, MISSING_ID, NESTED, ORIGIN, REFS, RES, TOP, UNIQUE,
                              WRONG_TYPE, anon, assert_errors, check_timestamps, fid, field_errors, fresh,
                              is_not_found, make, new_api, ok, other, problem, same_but_updated, srv, uniq,
                              user)

__all__ = ["srv", "user", "other", "fresh", "anon"]  # fixtures used by the tests below

EVERY = pytest.mark.parametrize("res", ALL, ids=fid)


def _fields(pred):
    return [(r, f) for r, f in FIELDS if pred(r, f)]


def fields_param(pred):
    return pytest.mark.parametrize("res,f", _fields(pred), ids=lambda v: fid(v))


def _parent(api, res):
    return api.create(res.parent)["id"] if res.parent else None


def _list_ids(api, res, parent=None):
    return api.ids(res.coll(parent))


# --------------------------------------------------------------------------- create / read

@EVERY
def test_create_minimal_has_defaults_location_and_times(user, res):
    parent = _parent(user, res)
    body = res.minimal(user)
    r = user.post(res.coll(parent), body)
    obj = ok(r, 201)
    assert set(obj) == res.keys(), obj
    assert "user_id" not in obj
    assert type(obj["id"]) is int and obj["id"] > 0, obj
    check_timestamps(obj)
    assert {k: obj[k] for k in res.expected(body, parent)} == res.expected(body, parent), obj
    loc = r.headers.get("location")
    assert loc, r.headers
    assert urllib.parse.urlsplit(loc).path == res.item_path(obj["id"]), loc
    assert user.get(urllib.parse.urlsplit(loc).path).json() == obj
    assert user.fetch(res.key, obj["id"]) == obj


@EVERY
def test_create_full_keeps_every_field(user, res):
    parent = _parent(user, res)
    body = res.full(user)
    obj = ok(user.post(res.coll(parent), body), 201)
    assert set(obj) == res.keys(), obj
    assert {k: obj[k] for k in res.expected(body, parent)} == res.expected(body, parent), obj
    got = user.fetch(res.key, obj["id"])
    assert got == obj
    listed = [o for o in user.list_all(res.coll(parent)) if o["id"] == obj["id"]]
    assert listed == [obj]


# --------------------------------------------------------------------------- PATCH / PUT

@EVERY
def test_patch_changes_only_the_given_field(user, res):
    obj, _, parent = make(user, res, full=True)
    alt = res.full(user, alt=True)
    for f in res.fields:
        r = user.patch(res.item_path(obj["id"]), {f.name: alt[f.name]})
        new = ok(r)
        expected = dict(obj)
        expected[f.name] = alt[f.name]
        assert same_but_updated(new, expected), (f.name, obj, new)
        assert new["updated_at"] >= obj["updated_at"]
        assert user.fetch(res.key, obj["id"]) == new
        obj = new
    if res.parent_key:
        assert obj[res.parent_key] == parent


@EVERY
def test_patch_several_fields_at_once(user, res):
    obj, _, _ = make(user, res)
    alt = res.full(user, alt=True)
    new = ok(user.patch(res.item_path(obj["id"]), alt))
    expected = dict(obj)
    expected.update(alt)
    assert same_but_updated(new, expected), new
    assert new["created_at"] == obj["created_at"]


@EVERY
def test_put_replaces_and_absent_optional_fields_get_defaults(user, res):
    obj, _, parent = make(user, res, full=True)
    body = res.minimal(user)
    new = ok(user.put(res.item_path(obj["id"]), body))
    assert set(new) == res.keys()
    assert new["id"] == obj["id"] and new["created_at"] == obj["created_at"]
    assert {k: new[k] for k in res.expected(body, parent)} == res.expected(body, parent), new
    assert user.fetch(res.key, obj["id"]) == new
    alt = res.full(user, alt=True)
    new = ok(user.put(res.item_path(obj["id"]), alt))
    assert {k: new[k] for k in res.expected(alt, parent)} == res.expected(alt, parent), new


@EVERY
def test_put_needs_every_required_field(user, res):
    obj, _, _ = make(user, res, full=True)
    required = [f.name for f in res.fields if f.required]
    assert_errors(user.put(res.item_path(obj["id"]), {}), [(n, "required") for n in required])
    for name in required:
        body = res.minimal(user)
        del body[name]
        assert_errors(user.put(res.item_path(obj["id"]), body), [(name, "required")])
    assert user.fetch(res.key, obj["id"]) == obj


@EVERY
def test_empty_patch_answers_the_object_unchanged(user, res):
    obj, _, _ = make(user, res, full=True)
    path = res.item_path(obj["id"])
    assert ok(user.patch(path, {})) == obj
    assert ok(user.patch(path, raw=b"", headers={"Content-Type": "application/json"})) == obj
    assert ok(user.patch(path, raw=b"")) == obj
    assert user.fetch(res.key, obj["id"]) == obj


# --------------------------------------------------------------------------- DELETE

@EVERY
def test_delete_then_404(user, res):
    obj, body, parent = make(user, res)
    path = res.item_path(obj["id"])
    r = user.delete(path)
    assert r.status == 204 and r.body == b"", r
    is_not_found(user.get(path))
    is_not_found(user.delete(path))
    is_not_found(user.patch(path, {}))
    is_not_found(user.put(path, res.minimal(user)))
    assert obj["id"] not in _list_ids(user, res, parent)


# --------------------------------------------------------------------------- field codes

@EVERY
def test_required_fields_missing_on_create(fresh, res):
    parent = _parent(fresh, res)
    required = [f.name for f in res.fields if f.required]
    assert required
    assert_errors(fresh.post(res.coll(parent), {}), [(n, "required") for n in required])
    for name in required:
        body = res.minimal(fresh)
        del body[name]
        assert_errors(fresh.post(res.coll(parent), body), [(name, "required")])
    assert _list_ids(fresh, res, parent) == []


@fields_param(lambda r, f: f.required)
def test_required_field_null_is_required(user, res, f):
    obj, _, parent = make(user, res)
    body = res.minimal(user)
    body[f.name] = None
    assert_errors(user.post(res.coll(parent), body), [(f.name, "required")])
    assert_errors(user.put(res.item_path(obj["id"]), body), [(f.name, "required")])
    assert_errors(user.patch(res.item_path(obj["id"]), {f.name: None}), [(f.name, "required")])
    assert user.fetch(res.key, obj["id"]) == obj


@fields_param(lambda r, f: not f.required and f.default is not None)
def test_null_for_a_field_with_a_default_is_wrong_type(user, res, f):
    obj, _, parent = make(user, res)
    body = res.minimal(user)
    body[f.name] = None
    assert_errors(user.post(res.coll(parent), body), [(f.name, "wrong_type")])
    assert_errors(user.put(res.item_path(obj["id"]), body), [(f.name, "wrong_type")])
    assert_errors(user.patch(res.item_path(obj["id"]), {f.name: None}), [(f.name, "wrong_type")])
    assert user.fetch(res.key, obj["id"]) == obj


@fields_param(lambda r, f: f.nullable)
def test_null_sets_a_nullable_field_to_null(user, res, f):
    obj, _, parent = make(user, res, full=True)
    assert obj[f.name] is not None
    new = ok(user.patch(res.item_path(obj["id"]), {f.name: None}))
    expected = dict(obj)
    expected[f.name] = None
    assert same_but_updated(new, expected), new
    body = res.minimal(user)
    body[f.name] = None
    created = ok(user.post(res.coll(parent), body), 201)
    assert created[f.name] is None


@EVERY
def test_wrong_json_types_all_reported_at_once(fresh, res):
    parent = _parent(fresh, res)
    body = {f.name: WRONG_TYPE[f.kind] for f in res.fields}
    expected = [(f.name, "wrong_type") for f in res.fields]
    assert_errors(fresh.post(res.coll(parent), body), expected)
    assert _list_ids(fresh, res, parent) == []
    obj = fresh.create(res.key, parent=parent)
    assert_errors(fresh.patch(res.item_path(obj["id"]), body), expected)
    assert_errors(fresh.put(res.item_path(obj["id"]), body), expected)
    assert fresh.fetch(res.key, obj["id"]) == obj


@fields_param(lambda r, f: f.kind in ("int", "id"))
@pytest.mark.parametrize("value", [1.5, 2.0, True, [1], {"n": 1}], ids=["float", "float-integral", "bool", "array",
                                                                       "object"])
def test_integers_take_only_json_integers(user, res, f, value):
    obj, _, _ = make(user, res)
    assert_errors(user.patch(res.item_path(obj["id"]), {f.name: value}), [(f.name, "wrong_type")])


@fields_param(lambda r, f: f.kind in ("str", "date", "datetime", "enum", "color"))
@pytest.mark.parametrize("value", [True, ["a"], {"a": "b"}], ids=["bool", "array", "object"])
def test_strings_take_only_json_strings(user, res, f, value):
    obj, _, _ = make(user, res)
    assert_errors(user.patch(res.item_path(obj["id"]), {f.name: value}), [(f.name, "wrong_type")])


@fields_param(lambda r, f: f.kind == "bool")
@pytest.mark.parametrize("value", [1, 0, "false", "yes"])
def test_booleans_take_only_json_booleans(user, res, f, value):
    obj, _, _ = make(user, res)
    assert_errors(user.patch(res.item_path(obj["id"]), {f.name: value}), [(f.name, "wrong_type")])


@EVERY
def test_unknown_fields_are_rejected(fresh, res):
    parent = _parent(fresh, res)
    names = ["bogus", "id", "user_id", "created_at", "updated_at"]
    if res.parent_key:
        names.append(res.parent_key)  # the parent comes from the path only
    for name in names:
        body = res.minimal(fresh)
        body[name] = (parent or 1) if name in ("id", "user_id", res.parent_key) else "2026-01-01T00:00:00Z"
        assert_errors(fresh.post(res.coll(parent), body), [(name, "unknown_field")])
    assert _list_ids(fresh, res, parent) == []
    obj = fresh.create(res.key, parent=parent)
    for name in names:
        value = 1 if name in ("id", "user_id", res.parent_key) else "x"
        assert_errors(fresh.patch(res.item_path(obj["id"]), {name: value}), [(name, "unknown_field")])
        body = res.minimal(fresh)
        body[name] = value
        assert_errors(fresh.put(res.item_path(obj["id"]), body), [(name, "unknown_field")])
    assert fresh.fetch(res.key, obj["id"]) == obj


@EVERY
def test_every_error_of_a_body_in_one_answer(fresh, res):
    """Unknown field + every required field missing + every optional field of the wrong type."""
    parent = _parent(fresh, res)
    body = {"bogus": True}
    expected = [("bogus", "unknown_field")]
    for f in res.fields:
        if f.required:
            expected.append((f.name, "required"))
        else:
            body[f.name] = WRONG_TYPE[f.kind]
            expected.append((f.name, "wrong_type"))
    assert_errors(fresh.post(res.coll(parent), body), expected)
    assert _list_ids(fresh, res, parent) == []


@fields_param(lambda r, f: f.kind == "str" and f.min)
def test_string_below_minimum_is_too_short(fresh, res, f):
    user = fresh
    obj, _, parent = make(user, res)
    body = res.minimal(user)
    body[f.name] = ""
    assert_errors(user.post(res.coll(parent), body), [(f.name, "too_short")])
    assert_errors(user.patch(res.item_path(obj["id"]), {f.name: ""}), [(f.name, "too_short")])
    assert_errors(user.put(res.item_path(obj["id"]), body), [(f.name, "too_short")])
    new = ok(user.patch(res.item_path(obj["id"]), {f.name: "Ж"}))  # one character is enough
    assert new[f.name] == "Ж"


@fields_param(lambda r, f: f.kind == "str" and f.max)
@pytest.mark.parametrize("char,ascii_json", [("a", False), ("Я", False), ("😀", False), ("😀", True)],
                         ids=["ascii", "cyrillic", "emoji-utf8", "emoji-escaped"])
def test_string_length_counts_code_points(fresh, res, f, char, ascii_json):
    user = fresh
    obj, _, parent = make(user, res)
    path = res.item_path(obj["id"])
    at_max = char * f.max
    new = ok(user.patch(path, {f.name: at_max}, ascii_json=ascii_json))
    assert new[f.name] == at_max
    assert user.fetch(res.key, obj["id"])[f.name] == at_max
    over = char * (f.max + 1)
    assert_errors(user.patch(path, {f.name: over}, ascii_json=ascii_json), [(f.name, "too_long")])
    body = res.minimal(user)
    body[f.name] = over
    assert_errors(user.post(res.coll(parent), body, ascii_json=ascii_json), [(f.name, "too_long")])
    assert_errors(user.put(path, body, ascii_json=ascii_json), [(f.name, "too_long")])
    assert user.fetch(res.key, obj["id"])[f.name] == at_max


@fields_param(lambda r, f: f.kind == "int" and f.max is not None)
def test_integer_bounds(user, res, f):
    obj, _, parent = make(user, res)
    path = res.item_path(obj["id"])
    for v in (f.min, f.max):
        assert ok(user.patch(path, {f.name: v}))[f.name] == v
    assert_errors(user.patch(path, {f.name: f.min - 1}), [(f.name, "too_small")])
    assert_errors(user.patch(path, {f.name: f.max + 1}), [(f.name, "too_large")])
    assert_errors(user.patch(path, {f.name: -1000000}), [(f.name, "too_small")])
    assert_errors(user.patch(path, {f.name: 1000000}), [(f.name, "too_large")])
    body = res.minimal(user)
    body[f.name] = f.min - 1
    assert_errors(user.post(res.coll(parent), body), [(f.name, "too_small")])
    body[f.name] = f.max + 1
    assert_errors(user.post(res.coll(parent), body), [(f.name, "too_large")])
    assert_errors(user.put(path, body), [(f.name, "too_large")])
    assert user.fetch(res.key, obj["id"])[f.name] == f.max


@fields_param(lambda r, f: f.kind == "enum")
def test_enum_choices(user, res, f):
    obj, _, parent = make(user, res)
    path = res.item_path(obj["id"])
    for v in f.choices:
        assert ok(user.patch(path, {f.name: v}))[f.name] == v
        assert user.fetch(res.key, obj["id"])[f.name] == v
    for bad in ("nope", f.choices[1].upper(), "", " " + f.choices[0]):
        assert_errors(user.patch(path, {f.name: bad}), [(f.name, "invalid_choice")])
    body = res.minimal(user)
    body[f.name] = "nope"
    assert_errors(user.post(res.coll(parent), body), [(f.name, "invalid_choice")])
    assert_errors(user.put(path, body), [(f.name, "invalid_choice")])


BAD_DATES = ["2026-02-30", "2026-13-01", "2026-00-10", "2025-02-29", "26-03-01", "2026-3-1", "2026/03/01",
             "2026-03-01T00:00:00Z", "", "tomorrow", "2026-03-01 "]
BAD_DATETIMES = ["2026-03-01", "2026-03-01T25:00:00Z", "2026-03-01T10:60:00Z", "2026-02-30T10:00:00Z",
                 "2026-03-01T10:00:00", "2026-03-01T10:00Z", "2026-03-01T10:00:00+3", "", "now", "1772355600"]
BAD_COLORS = ["red", "#fff", "#12345g", "123456", "#1234567", "#12345", "", "rgb(1,2,3)", " #123456"]


@fields_param(lambda r, f: f.kind == "date")
def test_date_format(user, res, f):
    obj, _, parent = make(user, res)
    path = res.item_path(obj["id"])
    for bad in BAD_DATES:
        assert_errors(user.patch(path, {f.name: bad}), [(f.name, "invalid_format")])
    body = res.minimal(user)
    body[f.name] = "2026-02-30"
    assert_errors(user.post(res.coll(parent), body), [(f.name, "invalid_format")])
    assert_errors(user.put(path, body), [(f.name, "invalid_format")])
    assert user.fetch(res.key, obj["id"]) == obj


@fields_param(lambda r, f: f.kind == "datetime")
def test_datetime_format(user, res, f):
    obj, _, parent = make(user, res)
    path = res.item_path(obj["id"])
    for bad in BAD_DATETIMES:
        assert_errors(user.patch(path, {f.name: bad}), [(f.name, "invalid_format")])
    body = res.minimal(user)
    body[f.name] = "2026-03-01 10:00"
    assert_errors(user.post(res.coll(parent), body), [(f.name, "invalid_format")])
    assert_errors(user.put(path, body), [(f.name, "invalid_format")])
    assert user.fetch(res.key, obj["id"]) == obj


@fields_param(lambda r, f: f.kind == "color")
def test_color_format(user, res, f):
    obj, _, parent = make(user, res)
    path = res.item_path(obj["id"])
    for bad in BAD_COLORS:
        assert_errors(user.patch(path, {f.name: bad}), [(f.name, "invalid_format")])
    body = res.minimal(user)
    body[f.name] = "blue"
    assert_errors(user.post(res.coll(parent), body), [(f.name, "invalid_format")])
    assert_errors(user.put(path, body), [(f.name, "invalid_format")])
    assert ok(user.patch(path, {f.name: "#0f0e0d"}))[f.name] == "#0f0e0d"
    got = ok(user.patch(path, {f.name: "#A1B2C3"}))[f.name]
    assert got.lower() == "#a1b2c3", got


# --------------------------------------------------------------------------- bodies

@EVERY
@pytest.mark.parametrize("raw", [b'{"a": ', b"{'a': 1}", b"nul", b'{"a": 1,}', b"\xff\xfe{}"],
                         ids=["truncated", "single-quotes", "bad-literal", "trailing-comma", "not-utf8"])
def test_malformed_json_is_400(user, res, raw):
    obj, _, parent = make(user, res)
    h = {"Content-Type": "application/json"}
    problem(user.post(res.coll(parent), raw=raw, headers=h), 400, "malformed_json")
    problem(user.patch(res.item_path(obj["id"]), raw=raw, headers=h), 400, "malformed_json")
    problem(user.put(res.item_path(obj["id"]), raw=raw, headers=h), 400, "malformed_json")
    assert user.fetch(res.key, obj["id"]) == obj


@EVERY
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_non_json_content_type_is_415(fresh, res, ctype):
    obj, body, parent = make(fresh, res)
    raw = json.dumps(res.minimal(fresh)).encode()
    before = _list_ids(fresh, res, parent)
    problem(fresh.post(res.coll(parent), raw=raw, headers={"Content-Type": ctype}), 415, "unsupported_media_type")
    problem(fresh.patch(res.item_path(obj["id"]), raw=raw, headers={"Content-Type": ctype}), 415,
            "unsupported_media_type")
    problem(fresh.put(res.item_path(obj["id"]), raw=raw, headers={"Content-Type": ctype}), 415,
            "unsupported_media_type")
    assert _list_ids(fresh, res, parent) == before
    assert fresh.fetch(res.key, obj["id"]) == obj


@EVERY
def test_json_with_charset_is_accepted(user, res):
    parent = _parent(user, res)
    r = user.post(res.coll(parent), raw=json.dumps(res.minimal(user)).encode(),
                  headers={"Content-Type": "application/json; charset=utf-8"})
    ok(r, 201)


# --------------------------------------------------------------------------- auth, paths, methods

@EVERY
def test_401_without_a_valid_token(user, anon, res):
    obj, body, parent = make(user, res)
    coll, item = res.coll(parent), res.item_path(obj["id"])
    calls = [("GET", coll, None), ("POST", coll, res.minimal(user)), ("GET", item, None),
             ("PATCH", item, {}), ("PUT", item, res.minimal(user)), ("DELETE", item, None)]
    for token in (None, "not-a-token", user.token + "x"):
        for method, path, b in calls:
            kw = {} if b is None else {"body": b}
            r = anon.req(method, path, token=token, **kw)
            problem(r, 401)
            assert "bearer" in r.headers.get("www-authenticate", "").lower(), r.headers
    assert user.fetch(res.key, obj["id"]) == obj


@EVERY
@pytest.mark.parametrize("bad", BAD_PATH_IDS + [str(MISSING_ID)])
def test_bad_or_missing_item_id_is_404(user, res, bad):
    path = res.item.format(id=bad)
    is_not_found(user.get(path))
    is_not_found(user.patch(path, {}))
    is_not_found(user.put(path, res.minimal(user)))
    is_not_found(user.delete(path))


@pytest.mark.parametrize("res", NESTED, ids=fid)
@pytest.mark.parametrize("bad", BAD_PATH_IDS + [str(MISSING_ID)])
def test_nested_collection_with_bad_or_missing_parent_is_404(user, res, bad):
    path = res.collection.format(parent=bad)
    is_not_found(user.get(path))
    is_not_found(user.post(path, res.minimal(user)))


@pytest.mark.parametrize("res", NESTED, ids=fid)
def test_nested_collection_of_another_users_parent_is_404(user, other, res):
    parent = user.create(res.parent)["id"]
    mine = user.create(res.key, parent=parent)
    path = res.coll(parent)
    is_not_found(other.get(path))
    is_not_found(other.get(path + "?limit=1"))
    is_not_found(other.post(path, res.minimal(other)))
    assert user.ids(path) == [mine["id"]]


@pytest.mark.parametrize("res", NESTED, ids=fid)
def test_nested_collection_lists_only_its_parents_children(user, res):
    p1, p2 = user.create(res.parent)["id"], user.create(res.parent)["id"]
    a = [user.create(res.key, parent=p1)["id"] for _ in range(2)]
    b = [user.create(res.key, parent=p2)["id"] for _ in range(3)]
    assert user.ids(res.coll(p1)) == a
    assert user.ids(res.coll(p2)) == b
    for i in a:
        assert user.fetch(res.key, i)[res.parent_key] == p1


@EVERY
def test_another_users_item_is_404(user, other, res):
    obj, _, _ = make(user, res, full=True)
    path = res.item_path(obj["id"])
    is_not_found(other.get(path))
    is_not_found(other.patch(path, {}))
    is_not_found(other.patch(path, res.full(other, alt=True)))
    is_not_found(other.put(path, res.minimal(other)))
    is_not_found(other.delete(path))
    assert user.fetch(res.key, obj["id"]) == obj


@pytest.mark.parametrize("res", TOP, ids=fid)
def test_list_shows_only_own_rows(srv, res):
    a, b = new_api(srv), new_api(srv)
    mine = [a.create(res.key)["id"] for _ in range(2)]
    theirs = [b.create(res.key)["id"] for _ in range(2)]
    assert a.ids(res.coll()) == mine
    assert b.ids(res.coll()) == theirs


@EVERY
def test_405_with_allow(user, res):
    obj, _, parent = make(user, res)
    coll, item = res.coll(parent), res.item_path(obj["id"])
    for method in ("PUT", "PATCH", "DELETE"):
        r = user.req(method, coll, body={})
        problem(r, 405)
        allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",")}
        assert {"GET", "POST"} <= allow and method not in allow, r.headers
    r = user.post(item, res.minimal(user))
    problem(r, 405)
    allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",")}
    assert {"GET", "PATCH", "PUT", "DELETE"} <= allow and "POST" not in allow, r.headers


@EVERY
def test_cors_preflight(user, res):
    obj, _, parent = make(user, res)
    for path, method in ((res.coll(parent), "POST"), (res.item_path(obj["id"]), "PATCH"),
                         (res.item_path(obj["id"]), "DELETE")):
        r = user.req("OPTIONS", path, token=None,
                     headers={"Origin": ORIGIN, "Access-Control-Request-Method": method,
                              "Access-Control-Request-Headers": "authorization, content-type"})
        assert r.status == 204, r
        assert r.headers.get("access-control-allow-origin") == ORIGIN, r.headers
        assert r.headers.get("access-control-allow-credentials") == "true", r.headers
        methods = {m.strip().upper() for m in r.headers.get("access-control-allow-methods", "").split(",")}
        assert method in methods, r.headers


def test_cookie_authentication_needs_an_allowed_origin(user):
    cookie = {"Cookie": "access_token=" + user.token}
    r = user.get("/api/v1/tasks", token=None, headers=cookie)
    ok(r)
    body = {"title": uniq("cookie")}
    problem(user.post("/api/v1/tasks", body, token=None, headers=cookie), 403, "origin_not_allowed")
    problem(user.post("/api/v1/tasks", body, token=None, headers=dict(cookie, Origin="http://evil.example")), 403,
            "origin_not_allowed")
    created = ok(user.post("/api/v1/tasks", body, token=None, headers=dict(cookie, Origin=ORIGIN)), 201)
    assert created["title"] == body["title"]
    assert [t for t in user.list_all("/api/v1/tasks") if t["title"] == body["title"]] == [created]


# --------------------------------------------------------------------------- pagination

@EVERY
def test_pagination_across_pages(fresh, res):
    parent = _parent(fresh, res)
    made = [fresh.create(res.key, parent=parent)["id"] for _ in range(5)]
    assert made == sorted(made)
    coll = res.coll(parent)
    pages = []
    cursor = None
    while True:
        q = {"limit": 2}
        if cursor:
            q["cursor"] = cursor
        page = ok(fresh.get(coll + "?" + urllib.parse.urlencode(q)))
        assert set(page) == {"items", "next_cursor"}
        pages.append([o["id"] for o in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert len(pages) < 10
    assert pages == [made[0:2], made[2:4], made[4:5]], pages
    for limit in (1, 3, 5, 200):
        assert [o["id"] for o in fresh.list_all(coll, limit=limit)] == made, limit
    page = ok(fresh.get(coll))
    assert [o["id"] for o in page["items"]] == made and page["next_cursor"] is None
    # a cursor is reusable: the same page again
    first = ok(fresh.get(coll + "?limit=2"))
    again = ok(fresh.get(coll + "?" + urllib.parse.urlencode({"limit": 2, "cursor": first["next_cursor"]})))
    assert [o["id"] for o in again["items"]] == made[2:4]


def test_list_default_limit_is_50_and_max_200(fresh):
    made = [fresh.create("lists")["id"] for _ in range(51)]
    page = ok(fresh.get("/api/v1/lists"))
    assert [o["id"] for o in page["items"]] == made[:50]
    assert isinstance(page["next_cursor"], str)
    rest = ok(fresh.get("/api/v1/lists?" + urllib.parse.urlencode({"cursor": page["next_cursor"]})))
    assert [o["id"] for o in rest["items"]] == made[50:] and rest["next_cursor"] is None
    page = ok(fresh.get("/api/v1/lists?limit=200"))
    assert [o["id"] for o in page["items"]] == made and page["next_cursor"] is None


def test_next_cursor_is_null_when_the_last_page_is_full(fresh):
    made = [fresh.create("lists")["id"] for _ in range(4)]
    first = ok(fresh.get("/api/v1/lists?limit=2"))
    second = ok(fresh.get("/api/v1/lists?" + urllib.parse.urlencode({"limit": 2, "cursor": first["next_cursor"]})))
    assert [o["id"] for o in second["items"]] == made[2:]
    assert second["next_cursor"] is None, second
    whole = ok(fresh.get("/api/v1/lists?limit=4"))
    assert [o["id"] for o in whole["items"]] == made and whole["next_cursor"] is None


def test_empty_list(fresh):
    assert ok(fresh.get("/api/v1/tasks")) == {"items": [], "next_cursor": None}


@EVERY
@pytest.mark.parametrize("param,value", [("limit", "0"), ("limit", "201"), ("limit", "abc"), ("limit", "-1"),
                                         ("limit", "1.5"), ("limit", "99999999999999999999"),
                                         ("cursor", "garbage!"), ("cursor", "not a cursor"), ("cursor", "%%%")])
def test_bad_limit_or_cursor_is_422(user, res, param, value):
    parent = _parent(user, res)
    r = user.get(res.coll(parent) + "?" + urllib.parse.urlencode({param: value}))
    errs = field_errors(r)
    assert {f for f, _ in errs} == {param}, errs


@EVERY
def test_unknown_query_parameters_are_ignored(fresh, res):
    obj, _, parent = make(fresh, res)
    page = ok(fresh.get(res.coll(parent) + "?foo=bar&sort=desc&page=3&user_id=1"))
    assert page == {"items": [obj], "next_cursor": None}


def test_validation_messages_in_russian(user):
    r = user.post("/api/v1/tasks", {"title": "", "priority": 9, "bogus": 1}, headers={"Accept-Language": "ru"})
    doc = problem(r, 422, "validation_failed")
    assert sorted((e["field"], e["code"]) for e in doc["errors"]) == \
        sorted([("title", "too_short"), ("priority", "too_large"), ("bogus", "unknown_field")])
    cyr = re.compile("[\u0400-\u04ff]")
    assert cyr.search(doc["detail"]), doc
    assert all(cyr.search(e["message"]) for e in doc["errors"]), doc
    doc = problem(user.get("/api/v1/tasks/0", headers={"Accept-Language": "ru"}), 404, "not_found")
    assert cyr.search(doc["detail"]), doc


# --------------------------------------------------------------------------- unique per user

@pytest.mark.parametrize("res,f", UNIQUE, ids=fid)
def test_unique_per_user(srv, res, f):
    a, b = new_api(srv), new_api(srv)
    value = uniq("Taken ✓")
    body = res.minimal(a)
    body[f.name] = value
    first = a.create(res.key, body)
    r = a.post(res.coll(), body)
    doc = problem(r, 409, "conflict")
    assert [(e["field"], e["code"]) for e in doc.get("errors", [])] == [(f.name, "taken")], doc
    assert a.ids(res.coll()) == [first["id"]]
    # another user may use the same value
    theirs = b.create(res.key, dict(res.minimal(b), **{f.name: value}))
    assert theirs[f.name] == value
    # PATCH and PUT of another row onto the taken value
    second = a.create(res.key)
    doc = problem(a.patch(res.item_path(second["id"]), {f.name: value}), 409, "conflict")
    assert [(e["field"], e["code"]) for e in doc.get("errors", [])] == [(f.name, "taken")], doc
    doc = problem(a.put(res.item_path(second["id"]), dict(res.minimal(a), **{f.name: value})), 409, "conflict")
    assert [(e["field"], e["code"]) for e in doc.get("errors", [])] == [(f.name, "taken")], doc
    assert a.fetch(res.key, second["id"]) == second
    # a row does not clash with itself
    assert ok(a.patch(res.item_path(first["id"]), {f.name: value}))[f.name] == value
    assert ok(a.put(res.item_path(first["id"]), body))[f.name] == value
    # once freed, the value may be taken again
    assert a.delete(res.item_path(first["id"])).status == 204
    assert ok(a.patch(res.item_path(second["id"]), {f.name: value}))[f.name] == value


# --------------------------------------------------------------------------- references

@pytest.mark.parametrize("res,f", REFS, ids=fid)
def test_reference_to_own_row(user, res, f):
    target = user.create(f.ref)["id"]
    body = res.minimal(user)
    body[f.name] = target
    obj = user.create(res.key, body)
    assert obj[f.name] == target
    other_target = user.create(f.ref)["id"]
    assert ok(user.patch(res.item_path(obj["id"]), {f.name: other_target}))[f.name] == other_target
    assert user.fetch(res.key, obj["id"])[f.name] == other_target


@pytest.mark.parametrize("res,f", REFS, ids=fid)
@pytest.mark.parametrize("whose", ["other", "missing", "deleted", "zero"])
def test_reference_must_be_an_own_existing_row(user, other, res, f, whose):
    if whose == "other":
        bad = other.create(f.ref)["id"]
    elif whose == "missing":
        bad = MISSING_ID
    elif whose == "deleted":
        bad = user.create(f.ref)["id"]
        assert user.delete(RES[f.ref].item_path(bad)).status == 204
    else:
        bad = 0
    body = res.minimal(user)
    body[f.name] = bad
    assert_errors(user.post(res.coll(), body), [(f.name, "not_found")])
    obj = user.create(res.key)
    assert_errors(user.patch(res.item_path(obj["id"]), {f.name: bad}), [(f.name, "not_found")])
    assert_errors(user.put(res.item_path(obj["id"]), body), [(f.name, "not_found")])
    assert user.fetch(res.key, obj["id"]) == obj


@pytest.mark.parametrize("res", [r for r in ALL if sum(1 for f in r.fields if f.ref) >= 2], ids=fid)
def test_every_bad_reference_reported_at_once(user, other, res):
    body = res.minimal(user)
    refs = [f for f in res.fields if f.ref]
    body[refs[0].name] = other.create(refs[0].ref)["id"]
    for f in refs[1:]:
        body[f.name] = MISSING_ID
    assert_errors(user.post(res.coll(), body), [(f.name, "not_found") for f in refs])

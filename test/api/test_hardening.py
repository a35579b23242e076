"""Defects of the hardening issue, each pinned by a test: refresh tokens of any length that are
not live ones answer 401, HEAD /health is in the OpenAPI document, and a planning object is the
same bytes whether it comes alone or in a page."""

import json

import pytest

from conftest import http
from planning_helpers import RES, anon, fid, make, srv, user  # noqa: F401  (fixtures)


# --------------------------------------------------------------------------- refresh tokens

@pytest.mark.parametrize("length", [1, 43, 256, 257, 300, 5000])
def test_refresh_token_of_any_length_that_is_not_live_is_401(srv, length):
    token = ("x" * length)
    for headers, body in (
        ({"Content-Type": "application/json"}, json.dumps({"refresh_token": token})),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "refresh_token=" + token),
        ({"Authorization": "Bearer " + token}, None),
    ):
        st, hdrs, out = http("POST", srv.url + "/api/v1/auth/refresh", headers=headers, body=body)
        assert st == 401, (length, headers, st, out[:300])
        assert json.loads(out)["code"] in ("invalid_token", "not_authenticated", "token_expired"), out[:300]
        assert hdrs.get("www-authenticate") == "Bearer"


def test_refresh_token_empty_is_401(srv):
    st, _, out = http("POST", srv.url + "/api/v1/auth/refresh", headers={"Content-Type": "application/json"},
                      body=json.dumps({"refresh_token": ""}))
    assert st == 401, out


def test_refresh_token_of_the_wrong_type_is_still_422(srv):
    st, _, out = http("POST", srv.url + "/api/v1/auth/refresh", headers={"Content-Type": "application/json"},
                      body=json.dumps({"refresh_token": 12}))
    assert st == 422 and json.loads(out)["errors"][0]["code"] == "wrong_type", out


# --------------------------------------------------------------------------- HEAD /health

def test_head_health_is_served_and_documented(srv):
    st, hdrs, out = http("HEAD", srv.url + "/health")
    assert st == 200 and out == b""
    st, _, out = http("GET", srv.url + "/openapi.json")
    assert st == 200
    doc = json.loads(out)
    head = doc["paths"]["/health"].get("head")
    assert head, "HEAD /health is served but not in /openapi.json"
    assert head["operationId"] == "headHealth" and "200" in head["responses"]
    assert "content" not in head["responses"]["200"]


# --------------------------------------------------------------------------- one rendering

def _page_bytes(api, res, parent):
    r = api.get(res.coll(parent) + "?limit=200")
    assert r.status == 200, r
    return r.body


@pytest.mark.parametrize("res", list(RES.values()), ids=fid)
def test_single_item_is_the_same_bytes_as_in_a_page(user, res):
    obj, body, parent = make(user, res, full=True)
    one = user.get(res.item_path(obj["id"]))
    assert one.status == 200, one
    assert b'" : ' not in one.body and b', "' not in one.body, one.body[:300]
    page = _page_bytes(user, res, parent)
    assert one.body in page, (one.body[:300], page[:600])
    # the create and update answers render the same way
    created = user.post(res.coll(parent), res.full(user))
    assert created.status == 201 and b'" : ' not in created.body, created
    patched = user.patch(res.item_path(obj["id"]), {})
    assert patched.status == 200 and b'" : ' not in patched.body, patched
    assert list(json.loads(patched.body)) == list(json.loads(one.body))  # the same members, in the same order

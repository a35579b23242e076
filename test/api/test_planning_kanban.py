"""The kanban board (/api/v1/kanban/columns, /cards, /cards/{card_id}/items, /items/{id}): moving
cards, the column_id filter, a card's checklist under its card, and what deleting a column or a
card takes with it. The engine-wide rules are in test_planning_common.py."""

import urllib.parse

import pytest

from planning_helpers import (assert_errors, field_errors, fresh, is_not_found, ok, other, problem, srv, uniq,
                              user)

__all__ = ["srv", "user", "other", "fresh"]


def column(api, **fields):
    fields.setdefault("title", uniq("column"))
    return api.create("kanban_columns", fields)["id"]


def card(api, column_id, **fields):
    fields.setdefault("title", uniq("card"))
    fields["column_id"] = column_id
    return api.create("kanban_cards", fields)["id"]


def item(api, card_id, **fields):
    fields.setdefault("text", uniq("item"))
    r = api.post("/api/v1/kanban/cards/%d/items" % card_id, fields)
    return ok(r, 201)


def card_ids(api, **params):
    return api.ids("/api/v1/kanban/cards", params)


def item_ids(api, card_id):
    return api.ids("/api/v1/kanban/cards/%d/items" % card_id)


def test_card_needs_a_column(user):
    assert_errors(user.post("/api/v1/kanban/cards", {"title": uniq("card")}), [("column_id", "required")])
    assert_errors(user.post("/api/v1/kanban/cards", {"title": uniq("card"), "column_id": None}),
                  [("column_id", "required")])


def test_filter_column_id(fresh):
    a, b, empty = column(fresh), column(fresh), column(fresh)
    a1, b1, a2 = card(fresh, a), card(fresh, b), card(fresh, a)
    assert card_ids(fresh, column_id=a) == [a1, a2]
    assert card_ids(fresh, column_id=b) == [b1]
    assert card_ids(fresh, column_id=empty) == []
    assert card_ids(fresh) == [a1, b1, a2]
    got = [o["id"] for o in fresh.list_all("/api/v1/kanban/cards", {"column_id": a}, limit=1)]
    assert got == [a1, a2]


def test_filter_column_id_of_another_user_shows_nothing(fresh, other):
    theirs = column(other)
    card(other, theirs)
    card(fresh, column(fresh))
    assert card_ids(fresh, column_id=theirs) == []


@pytest.mark.parametrize("value", ["abc", "1.5", "x1"])
def test_bad_column_id_filter_is_422(user, value):
    r = user.get("/api/v1/kanban/cards?" + urllib.parse.urlencode({"column_id": value}))
    errs = field_errors(r)
    assert {f for f, _ in errs} == {"column_id"}, errs


def test_moving_a_card(fresh):
    a, b = column(fresh), column(fresh)
    c = fresh.create("kanban_cards", {"column_id": a, "title": "Move me", "position": 0, "color": "#112233"})
    it = item(fresh, c["id"], text="stays with the card")
    moved = ok(fresh.patch("/api/v1/kanban/cards/%d" % c["id"], {"column_id": b, "position": 2}))
    assert moved["column_id"] == b and moved["position"] == 2
    assert moved["title"] == "Move me" and moved["color"] == "#112233" and moved["created_at"] == c["created_at"]
    assert fresh.fetch("kanban_cards", c["id"]) == moved
    assert card_ids(fresh, column_id=b) == [c["id"]]
    assert card_ids(fresh, column_id=a) == []
    # position alone
    again = ok(fresh.patch("/api/v1/kanban/cards/%d" % c["id"], {"position": 5}))
    assert again["position"] == 5 and again["column_id"] == b
    # column alone
    back = ok(fresh.patch("/api/v1/kanban/cards/%d" % c["id"], {"column_id": a}))
    assert back["column_id"] == a and back["position"] == 5
    # the checklist goes with the card
    assert item_ids(fresh, c["id"]) == [it["id"]]
    assert fresh.fetch("kanban_items", it["id"])["card_id"] == c["id"]
    # and deleting the column it left does not touch it
    assert fresh.delete("/api/v1/kanban/columns/%d" % b).status == 204
    assert fresh.fetch("kanban_cards", c["id"])["column_id"] == a


def test_moving_a_card_to_another_users_column_is_422(user, other):
    mine = column(user)
    c = card(user, mine)
    theirs = column(other)
    assert_errors(user.patch("/api/v1/kanban/cards/%d" % c, {"column_id": theirs, "position": 1}),
                  [("column_id", "not_found")])
    got = user.fetch("kanban_cards", c)
    assert got["column_id"] == mine and got["position"] == 0
    assert card_ids(other, column_id=theirs) == []


def test_deleting_a_column_deletes_its_cards_and_their_items(fresh):
    a, b = column(fresh), column(fresh)
    ca = [card(fresh, a) for _ in range(2)]
    cb = card(fresh, b)
    items_a = [item(fresh, ca[0])["id"], item(fresh, ca[1])["id"]]
    item_b = item(fresh, cb)["id"]
    assert fresh.delete("/api/v1/kanban/columns/%d" % a).status == 204
    for c in ca:
        assert fresh.gone("kanban_cards", c)
        is_not_found(fresh.get("/api/v1/kanban/cards/%d/items" % c))
    for i in items_a:
        assert fresh.gone("kanban_items", i)
    assert card_ids(fresh) == [cb]
    assert item_ids(fresh, cb) == [item_b]
    assert fresh.ids("/api/v1/kanban/columns") == [b]


def test_deleting_a_card_deletes_its_items(fresh):
    col = column(fresh)
    c1, c2 = card(fresh, col), card(fresh, col)
    i1 = [item(fresh, c1)["id"] for _ in range(3)]
    i2 = item(fresh, c2)["id"]
    assert fresh.delete("/api/v1/kanban/cards/%d" % c1).status == 204
    for i in i1:
        assert fresh.gone("kanban_items", i)
        is_not_found(fresh.patch("/api/v1/kanban/items/%d" % i, {"done": True}))
    is_not_found(fresh.get("/api/v1/kanban/cards/%d/items" % c1))
    is_not_found(fresh.post("/api/v1/kanban/cards/%d/items" % c1, {"text": "too late"}))
    assert item_ids(fresh, c2) == [i2]
    assert card_ids(fresh) == [c2]


def test_item_carries_its_card_and_defaults(user):
    c = card(user, column(user))
    r = user.post("/api/v1/kanban/cards/%d/items" % c, {"text": "Купить молоко 🥛"})
    it = ok(r, 201)
    assert it["card_id"] == c and it["text"] == "Купить молоко 🥛"
    assert it["done"] is False and it["position"] == 0
    assert urllib.parse.urlsplit(r.headers["location"]).path == "/api/v1/kanban/items/%d" % it["id"]
    done = ok(user.patch("/api/v1/kanban/items/%d" % it["id"], {"done": True, "position": 3}))
    assert done["done"] is True and done["position"] == 3 and done["card_id"] == c
    put = ok(user.put("/api/v1/kanban/items/%d" % it["id"], {"text": "replaced"}))
    assert put == dict(put, text="replaced", done=False, position=0, card_id=c)


def test_item_body_does_not_take_card_id(user):
    c1, c2 = card(user, column(user)), card(user, column(user))
    assert_errors(user.post("/api/v1/kanban/cards/%d/items" % c1, {"text": "x", "card_id": c2}),
                  [("card_id", "unknown_field")])
    it = item(user, c1)
    assert_errors(user.patch("/api/v1/kanban/items/%d" % it["id"], {"card_id": c2}), [("card_id", "unknown_field")])
    assert item_ids(user, c1) == [it["id"]] and item_ids(user, c2) == []


def test_another_users_card_items_are_404(user, other):
    c = card(user, column(user))
    it = item(user, c)
    is_not_found(other.get("/api/v1/kanban/cards/%d/items" % c))
    is_not_found(other.post("/api/v1/kanban/cards/%d/items" % c, {"text": "sneaky"}))
    for method, body in (("GET", None), ("PATCH", {"done": True}), ("PUT", {"text": "x"}), ("DELETE", None)):
        kw = {} if body is None else {"body": body}
        is_not_found(other.req(method, "/api/v1/kanban/items/%d" % it["id"], **kw))
    assert item_ids(user, c) == [it["id"]]
    assert user.fetch("kanban_items", it["id"]) == it


def test_column_title_unique_per_user(srv, user, other):
    title = uniq("To do")
    column(user, title=title)
    doc = problem(user.post("/api/v1/kanban/columns", {"title": title}), 409, "conflict")
    assert [(e["field"], e["code"]) for e in doc["errors"]] == [("title", "taken")]
    column(other, title=title)


def test_column_defaults(user):
    col = user.create("kanban_columns", {"title": uniq("Done")})
    assert col["position"] == 0
    assert set(col) == {"id", "title", "position", "created_at", "updated_at"}

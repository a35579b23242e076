"""Shop orders (public POST, staff reads and status changes), contact forms and the bot's
telegram-users. Outbound effects of an order (mail, Telegram, payment) are in test_shop_outbound.py."""

import calendar
import json
import threading
import time

import pytest

from conftest import http, psql
from shop_helpers import (BOT_TOKEN, Api, MISSING_ID, NOBODY, ORDER_KEYS, SHOP, admin, anon, assert_errors,  # noqa: F401
                          effective_price, finish, first_status_id, from_ip, good, items_of, ok, order_body,
                          plain, problem, random_loopback, serve, shop_env, srv, staff, stock_of, uniq,
                          variation)


def post_order(api, body):
    return api.post(SHOP + "/orders", body)


# --------------------------------------------------------------------------- creating an order

def test_order_created(staff, anon):
    a = variation(staff, price=450000, amount=5)
    b = variation(staff, price=500000, discounted_price=300000, amount=3)
    body = order_body(staff, [(a, 2), (b, 1)], comment="Позвонить за час")
    r = post_order(anon, body)
    o = ok(r, 201)
    assert set(o) == ORDER_KEYS, o
    assert r.headers.get("location") == "%s/orders/%d" % (SHOP, o["id"]), r.headers
    assert o["status_id"] == first_status_id()
    assert o["total"] == 2 * 450000 + 300000
    assert sorted(o["items"], key=lambda i: i["variation_id"]) == sorted(
        [{"variation_id": a["id"], "amount": 2, "price": 450000},
         {"variation_id": b["id"], "amount": 1, "price": 300000}], key=lambda i: i["variation_id"])
    for k in ("customer_name", "phone_number", "email", "delivery_type_id", "address", "comment"):
        assert o[k] == body[k], k
    made = calendar.timegm(time.strptime(o["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(made - time.time()) < 600
    assert stock_of(staff, a["id"]) == 3 and stock_of(staff, b["id"]) == 2
    assert ok(staff.get("%s/orders/%d" % (SHOP, o["id"]))) == o
    # the first status is recorded
    changes = items_of(staff, "%s/orders/%d/status-changes" % (SHOP, o["id"]))
    assert len(changes) == 1 and changes[0]["status_id"] == o["status_id"] and changes[0]["from_status_id"] is None


def test_order_of_a_signed_in_customer_names_them(staff, plain):
    o = ok(post_order(plain, order_body(staff, [(variation(staff), 1)])), 201)
    changes = items_of(staff, "%s/orders/%d/status-changes" % (SHOP, o["id"]))
    assert changes[0]["author_id"] == plain.user["id"]
    # a token that is no longer good does not stop the order: it is placed anonymously
    expired = Api(plain.srv, "not-a-token")
    o = ok(post_order(expired, order_body(staff, [(variation(staff), 1)])), 201)
    assert items_of(staff, "%s/orders/%d/status-changes" % (SHOP, o["id"]))[0]["author_id"] is None


def test_order_optional_fields(staff, anon):
    v = variation(staff)
    body = order_body(staff, [(v, 1)])
    for k in ("email", "address", "comment"):
        body.pop(k)
    o = ok(post_order(anon, body), 201)
    assert o["email"] is None and o["address"] is None and o["comment"] is None


def test_order_validation(staff, anon):
    v = variation(staff)
    good_body = order_body(staff, [(v, 1)])
    assert_errors(post_order(anon, {}), [("customer_name", "required"), ("phone_number", "required"),
                                         ("delivery_type_id", "required"), ("items", "required")])
    assert_errors(post_order(anon, dict(good_body, items=[])), [("items", "too_short")])
    assert_errors(post_order(anon, dict(good_body, customer_name="")), [("customer_name", "too_short")])
    assert_errors(post_order(anon, dict(good_body, email="not-an-email")), [("email", "invalid_format")])
    assert_errors(post_order(anon, dict(good_body, status_id=1)), [("status_id", "unknown_field")])
    item = good_body["items"][0]
    assert_errors(post_order(anon, dict(good_body, items=[dict(item, amount=0)])), [("items[0].amount", "too_small")])
    assert_errors(post_order(anon, dict(good_body, items=[dict(item, amount="1")])),
                  [("items[0].amount", "wrong_type")])
    assert_errors(post_order(anon, dict(good_body, items=[dict(item, current_price=-1)])),
                  [("items[0].current_price", "too_small")])
    assert_errors(post_order(anon, dict(good_body, items=[{"variation_id": v["id"], "amount": 1}])),
                  [("items[0].current_price", "required")])
    assert_errors(post_order(anon, dict(good_body, items=[dict(item, note="x")])),
                  [("items[0].note", "unknown_field")])
    assert_errors(post_order(anon, dict(good_body, items=[item, item])), [("items[1].variation_id", "duplicate")])
    assert_errors(post_order(anon, dict(good_body, items="all")), [("items", "wrong_type")])
    # references: every bad one at once
    missing = dict(item, variation_id=MISSING_ID)
    assert_errors(post_order(anon, dict(good_body, delivery_type_id=MISSING_ID, items=[item, missing])),
                  [("delivery_type_id", "not_found"), ("items[1].variation_id", "not_found")])
    assert stock_of(staff, v["id"]) == 10  # nothing taken by any of these


def test_hidden_goods_cannot_be_ordered(staff, anon):
    g = good(staff, is_visible=False)
    v = variation(staff, g["id"])
    assert_errors(post_order(anon, order_body(staff, [(v, 1)])), [("items[0].variation_id", "not_found")])


def test_price_changed_lists_every_item(staff, anon):
    a = variation(staff, price=1000, amount=5)
    b = variation(staff, price=2000, amount=5)
    c = variation(staff, price=3000, amount=5)
    body = order_body(staff, [(a, 1), (b, 1), (c, 1)])
    body["items"][0]["current_price"] = 999
    body["items"][2]["current_price"] = 3001
    doc = problem(post_order(anon, body), 409, "price_changed")
    faults = {i["variation_id"]: i for i in doc["items"]}
    assert set(faults) == {a["id"], c["id"]}, doc
    assert faults[a["id"]]["price"] == 1000 and faults[a["id"]]["current_price"] == 999
    assert faults[c["id"]]["price"] == 3000 and faults[c["id"]]["code"] == "price_changed"
    assert [stock_of(staff, v["id"]) for v in (a, b, c)] == [5, 5, 5]


def test_price_changed_by_a_new_discount(staff, anon):
    v = variation(staff, price=1000, amount=5)
    body = order_body(staff, [(v, 1)])
    ok(staff.patch("%s/variations/%d" % (SHOP, v["id"]), {"discounted_price": 800}))
    doc = problem(post_order(anon, body), 409, "price_changed")
    assert doc["items"][0]["price"] == 800


def test_out_of_stock_lists_every_item(staff, anon):
    a = variation(staff, amount=2)
    b = variation(staff, amount=5)
    c = variation(staff, amount=0)
    doc = problem(post_order(anon, order_body(staff, [(a, 3), (b, 5), (c, 1)])), 409, "out_of_stock")
    faults = {i["variation_id"]: i for i in doc["items"]}
    assert set(faults) == {a["id"], c["id"]}, doc
    assert faults[a["id"]]["available"] == 2 and faults[a["id"]]["amount"] == 3
    assert faults[c["id"]]["available"] == 0 and faults[c["id"]]["code"] == "out_of_stock"
    assert [stock_of(staff, v["id"]) for v in (a, b, c)] == [2, 5, 0]


def test_mixed_faults_report_price_changed_with_all_items(staff, anon):
    a = variation(staff, price=1000, amount=1)
    b = variation(staff, price=1000, amount=5)
    body = order_body(staff, [(a, 2), (b, 1)])
    body["items"][1]["current_price"] = 1
    doc = problem(post_order(anon, body), 409, "price_changed")
    assert {(i["variation_id"], i["code"]) for i in doc["items"]} == {(a["id"], "out_of_stock"),
                                                                       (b["id"], "price_changed")}


def test_hundred_concurrent_orders_for_the_last_ten(staff, anon):
    last = variation(staff, price=1000, amount=10)
    other = variation(staff, price=500, amount=1000)
    dt = order_body(staff, [(last, 1)])["delivery_type_id"]
    results = [None] * 100
    start = threading.Barrier(100)

    def one(i):
        lines = [(last, 1), (other, 1)] if i % 2 else [(other, 1), (last, 1)]  # both orders of locking
        body = order_body(staff, lines, delivery_type_id=dt, customer_name="c%d" % i)
        start.wait()
        st, _, raw = http("POST", anon.srv.url + SHOP + "/orders", headers={"Content-Type": "application/json"},
                          body=json.dumps(body).encode(), timeout=60)
        results[i] = (st, raw)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    statuses = sorted(st for st, _ in results)
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 90, statuses
    assert all(b'"out_of_stock"' in raw for st, raw in results if st == 409)
    assert stock_of(staff, last["id"]) == 0
    assert stock_of(staff, other["id"]) == 990  # refused orders took nothing
    assert psql("SELECT count(*) FROM order_items WHERE variation_id = %d" % last["id"]) == "10"


# --------------------------------------------------------------------------- staff reads and status changes

def test_orders_are_staff_only(staff, plain, anon):
    o = ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)
    item = "%s/orders/%d" % (SHOP, o["id"])
    for path in (SHOP + "/orders", item, item + "/status-changes", SHOP + "/status-changes"):
        problem(anon.get(path), 401)
        problem(plain.get(path), 403)
        ok(staff.get(path))
    problem(anon.patch(item, {"status_id": o["status_id"]}), 401)
    problem(plain.patch(item, {"status_id": o["status_id"]}), 403)
    problem(staff.get("%s/orders/%d" % (SHOP, MISSING_ID)), 404, "not_found")
    problem(staff.get("%s/orders/%d/status-changes" % (SHOP, MISSING_ID)), 404, "not_found")
    assert o["id"] in [x["id"] for x in items_of(staff, SHOP + "/orders")]


def test_orders_list_filter_and_pages(staff, anon):
    made = [ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)["id"] for _ in range(3)]
    everything = [o["id"] for o in items_of(staff, SHOP + "/orders")]
    assert [o["id"] for o in items_of(staff, SHOP + "/orders", limit=2)] == everything
    assert set(made) <= set(everything) and everything == sorted(everything)
    first = first_status_id()
    assert set(made) <= {o["id"] for o in items_of(staff, SHOP + "/orders", status_id=first)}
    assert_errors(staff.get(SHOP + "/orders?status_id=x"), [("status_id", "invalid_format")])


def test_status_change_is_recorded_with_author(staff, admin, anon):
    o = ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)
    statuses = [s["id"] for s in items_of(anon, SHOP + "/order-statuses")]
    item = "%s/orders/%d" % (SHOP, o["id"])
    changed = ok(staff.patch(item, {"status_id": statuses[1]}))
    assert changed["status_id"] == statuses[1] and set(changed) == ORDER_KEYS
    ok(admin.patch(item, {"status_id": statuses[2]}))
    ok(admin.patch(item, {"status_id": statuses[2]}))      # the same status: not a change
    ok(staff.patch(item, {"comment": "Подъезд 2"}))          # not a status change either
    changes = items_of(staff, item + "/status-changes")
    assert [(c["from_status_id"], c["status_id"]) for c in changes] == [
        (None, o["status_id"]), (o["status_id"], statuses[1]), (statuses[1], statuses[2])]
    assert [c["author_id"] for c in changes] == [None, staff.user["id"], admin.user["id"]]
    for c in changes:
        assert set(c) == {"id", "order_id", "from_status_id", "status_id", "author_id", "created_at"}, c
        assert c["order_id"] == o["id"]
    everywhere = [c["id"] for c in items_of(staff, SHOP + "/status-changes")]
    assert all(c["id"] in everywhere for c in changes)


def test_status_change_validation(staff, anon):
    o = ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)
    item = "%s/orders/%d" % (SHOP, o["id"])
    assert_errors(staff.patch(item, {"status_id": MISSING_ID}), [("status_id", "not_found")])
    assert_errors(staff.patch(item, {"status_id": "new"}), [("status_id", "wrong_type")])
    assert_errors(staff.patch(item, {"total": 1}), [("total", "unknown_field")])
    assert_errors(staff.patch(item, {"items": []}), [("items", "unknown_field")])
    assert ok(staff.patch(item, {})) == o
    problem(staff.patch("%s/orders/%d" % (SHOP, MISSING_ID), {"status_id": o["status_id"]}), 404, "not_found")


def test_order_status_in_use_cannot_be_deleted(staff, anon):
    o = ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)
    problem(staff.delete("%s/order-statuses/%d" % (SHOP, o["status_id"])), 409, "in_use")


def test_delivery_type_in_use_cannot_be_deleted(staff, anon):
    """Orders name their delivery type and status without a foreign key (0014): a trigger keeps them."""
    o = ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)
    problem(staff.delete("%s/delivery-types/%d" % (SHOP, o["delivery_type_id"])), 409, "in_use")
    unused = order_body(staff, [])["delivery_type_id"]
    assert staff.delete("%s/delivery-types/%d" % (SHOP, unused)).status == 204
    # a status that only the history of an order names
    statuses = [x["id"] for x in items_of(anon, SHOP + "/order-statuses")]
    item = "%s/orders/%d" % (SHOP, o["id"])
    ok(staff.patch(item, {"status_id": statuses[-1]}))
    ok(staff.patch(item, {"status_id": statuses[0]}))
    problem(staff.delete("%s/order-statuses/%d" % (SHOP, statuses[-1])), 409, "in_use")
    assert ok(staff.get(item))["delivery_type_id"] == o["delivery_type_id"]


# Issue 19: the server took strlen() of the body column without looking; a function that answers
# neither an error nor a body (a broken migration, a hand edit) crashed it.
SILENT = {
    "shop_orders_create": "p_orders jsonb[], p_user_ids bigint[], p_notify_email text, p_telegram_chat_id text, "
                          "p_langs text[], OUT n int, OUT error text, OUT body json, OUT goods bigint[]",
    "shop_order_update": "p_id bigint, p_fields text[], p_status_id bigint, p_delivery_type_id bigint, "
                         "p_address text, p_comment text, p_author_id bigint, OUT error text, OUT body json",
    "shop_contact_form_create": "p_customer_name text, p_phone_number text, p_text text, p_email text, p_ip text, "
                                "p_limit int, p_window_ms bigint, OUT error text, OUT retry_after int, OUT body json",
}


def test_functions_that_answer_nothing_are_a_500_never_a_crash(srv, staff, anon):
    o = ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)
    item = "%s/orders/%d" % (SHOP, o["id"])
    kept = {name: psql("SELECT pg_get_functiondef('%s'::regproc)" % name) for name in SILENT}
    try:
        for name, args in SILENT.items():  # a row of NULLs (for each order of a batch)
            rows = "SETOF record" if name == "shop_orders_create" else None
            body = ("BEGIN FOR i IN 1 .. cardinality(p_orders) LOOP n := i; RETURN NEXT; END LOOP; END" if rows
                    else "BEGIN RETURN; END")
            psql("CREATE OR REPLACE FUNCTION %s(%s)%s LANGUAGE plpgsql AS $$%s$$"
                 % (name, args, " RETURNS " + rows if rows else "", body))
        problem(post_order(anon, order_body(staff, [(variation(staff), 1)])), 500, "internal_error")
        problem(staff.patch(item, {"comment": "x"}), 500, "internal_error")
        problem(from_ip(srv, random_loopback(), "POST", SHOP + "/contact-forms",
                        {"customer_name": "Анна", "phone_number": "+79000000000"}), 500, "internal_error")
        assert srv.running()
    finally:
        for definition in kept.values():
            psql(definition)
    ok(post_order(anon, order_body(staff, [(variation(staff), 1)])), 201)
    assert ok(staff.patch(item, {"comment": "y"}))["comment"] == "y"


# --------------------------------------------------------------------------- contact forms

def test_contact_form_and_its_limit(srv, staff, plain, anon):
    ip = random_loopback()
    body = {"customer_name": "Анна", "phone_number": "+79000000000", "text": "Есть ли размер S?",
            "email": "anna@example.com"}
    made = []
    for _ in range(5):
        r = from_ip(srv, ip, "POST", SHOP + "/contact-forms", body)
        made.append(ok(r, 201))
    assert set(made[0]) == {"id", "customer_name", "phone_number", "text", "email", "created_at"}, made[0]
    assert {k: made[0][k] for k in body} == body
    r = from_ip(srv, ip, "POST", SHOP + "/contact-forms", body)
    problem(r, 429, "rate_limited")
    assert r.headers.get("retry-after", "").isdigit() and 1 <= int(r.headers["retry-after"]) <= 600, r.headers
    ok(from_ip(srv, random_loopback(), "POST", SHOP + "/contact-forms", body), 201)  # another address is free
    listed = [f["id"] for f in items_of(staff, SHOP + "/contact-forms")]
    assert all(f["id"] in listed for f in made)
    problem(anon.get(SHOP + "/contact-forms"), 401)
    problem(plain.get(SHOP + "/contact-forms"), 403)


def test_contact_form_validation(srv):
    ip = random_loopback()
    r = from_ip(srv, ip, "POST", SHOP + "/contact-forms", {})
    assert_errors(r, [("customer_name", "required"), ("phone_number", "required")])
    r = from_ip(srv, ip, "POST", SHOP + "/contact-forms", {"customer_name": "a", "phone_number": "1",
                                                           "email": "nope"})
    assert_errors(r, [("email", "invalid_format")])
    r = from_ip(srv, ip, "POST", SHOP + "/contact-forms", {"customer_name": "a", "phone_number": "1", "x": 1})
    assert_errors(r, [("x", "unknown_field")])


# --------------------------------------------------------------------------- telegram-users

def bot(api, method, path, body=None, token=BOT_TOKEN):
    headers = {"X-Bot-Token": token} if token is not None else {}
    if body is None:
        return api.req(method, SHOP + path, headers=headers, token=None)
    return api.req(method, SHOP + path, body, headers=headers, token=None)


def bot_ids(anon):
    out, cursor = [], None
    while True:
        page = ok(bot(anon, "GET", "/telegram-users?limit=200" + ("&cursor=" + cursor if cursor else "")))
        out += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def test_telegram_users_crud(anon):
    chat = 5000000000 + int(time.time() * 1000) % 1000000000   # beyond 32 bits
    r = bot(anon, "POST", "/telegram-users", {"chat_id": chat})
    u = ok(r, 201)
    assert r.headers.get("location") == "%s/telegram-users/%d" % (SHOP, u["id"])
    assert u["chat_id"] == chat and isinstance(u["status_id"], int)
    item = "/telegram-users/%d" % u["id"]
    assert ok(bot(anon, "GET", item)) == u
    assert ok(bot(anon, "PATCH", item, {"status_id": 3}))["status_id"] == 3
    assert u["id"] in bot_ids(anon)
    group = ok(bot(anon, "POST", "/telegram-users", {"chat_id": -chat, "status_id": 1}), 201)
    assert group["chat_id"] == -chat
    problem(bot(anon, "POST", "/telegram-users", {"chat_id": chat}), 409)
    assert bot(anon, "DELETE", item).status == 204
    problem(bot(anon, "GET", item), 404, "not_found")


def test_telegram_users_validation(anon):
    assert_errors(bot(anon, "POST", "/telegram-users", {}), [("chat_id", "required")])
    assert_errors(bot(anon, "POST", "/telegram-users", {"chat_id": "12"}), [("chat_id", "wrong_type")])
    assert_errors(bot(anon, "POST", "/telegram-users", {"chat_id": 1, "status_id": -1}), [("status_id", "too_small")])
    assert_errors(bot(anon, "POST", "/telegram-users", {"chat_id": 1, "name": "x"}), [("name", "unknown_field")])


def test_telegram_users_keep_their_own_answers(anon):
    """The engine serves them as the hand-written routes answered: a null status_id is `required`
    (the engine's other defaulted fields say wrong_type), a taken chat_id the plain 409 without
    field errors, and there is no PUT."""
    chat = 6000000000 + int(time.time() * 1000) % 1000000000
    u = ok(bot(anon, "POST", "/telegram-users", {"chat_id": chat}), 201)
    item = "/telegram-users/%d" % u["id"]
    assert_errors(bot(anon, "POST", "/telegram-users", {"chat_id": chat + 1, "status_id": None}),
                  [("status_id", "required")])
    assert_errors(bot(anon, "PATCH", item, {"status_id": None}), [("status_id", "required")])
    doc = problem(bot(anon, "POST", "/telegram-users", {"chat_id": chat}), 409, "conflict")
    assert "errors" not in doc, doc
    other = ok(bot(anon, "POST", "/telegram-users", {"chat_id": -chat}), 201)
    doc = problem(bot(anon, "PATCH", item, {"chat_id": -chat}), 409, "conflict")
    assert "errors" not in doc, doc
    r = bot(anon, "PUT", item, {"chat_id": chat})
    problem(r, 405)
    assert "PUT" not in r.headers.get("allow", ""), r.headers
    for gone in (item, "/telegram-users/%d" % other["id"]):
        assert bot(anon, "DELETE", gone).status == 204


def test_telegram_users_need_the_bot_token(anon, staff):
    for method, path, body in (("GET", "/telegram-users", None), ("POST", "/telegram-users", {"chat_id": 1}),
                               ("GET", "/telegram-users/1", None), ("PATCH", "/telegram-users/1", {"status_id": 1}),
                               ("DELETE", "/telegram-users/1", None)):
        problem(bot(anon, method, path, body, token=None), 401)
        problem(bot(anon, method, path, body, token="wrong-" + BOT_TOKEN), 401)
        # a staff session is not the bot
        problem(staff.req(method, SHOP + path, body if body is not None else NOBODY), 401)


def test_telegram_users_unconfigured_answer_503():
    s = serve(shop_env(BOT_API_TOKEN=None))
    try:
        st, hdrs, body = http("GET", s.url + SHOP + "/telegram-users", headers={"X-Bot-Token": "anything"})
        assert st == 503 and b'"not_configured"' in body, (st, body)
        st, _, body = http("POST", s.url + SHOP + "/telegram-users", headers={"X-Bot-Token": "x",
                                                                             "Content-Type": "application/json"},
                           body=b'{"chat_id": 1}')
        assert st == 503, (st, body)
    finally:
        finish(s)

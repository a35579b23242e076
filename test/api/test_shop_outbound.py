"""The shop's outbound services against local fakes (test/fakes): the payment gateway
(PAYMENT_GATEWAY_URL, _USER, _PASSWORD), Telegram (TELEGRAM_API_URL, TELEGRAM_BOT_TOKEN,
TELEGRAM_CHAT_ID) and the staff's e-mail (SHOP_NOTIFY_EMAIL) through the SMTP sink.

OUTBOUND_TIMEOUT bounds each outbound call (2 s here). An unreachable service never blocks an order;
notifications are durable and delivered exactly once when the service comes back."""

import re
import threading
import time

import pytest

from conftest import http, psql
from mailbox import Mailbox, body_text, subject
from shop_helpers import (GATEWAY_USER, GATEWAY_PASSWORD, MISSING_ID, OUTBOUND_TIMEOUT_S, SHOP, TG_CHAT,  # noqa: F401
                          Api, finish, gateway, ok, order_body, problem, serve, shop_env, telegram, uniq,
                          user_with_role, variation)
from payment_gateway import REGISTER, STATUS

NOTIFY = uniq("shop-staff") + "@example.com"


@pytest.fixture(scope="module")
def srv(gateway, telegram, mail):
    smtp_port, _ = mail
    s = serve(shop_env(gw=gateway, tg=telegram, smtp_port=smtp_port, notify=NOTIFY))
    yield s
    finish(s)


@pytest.fixture(scope="module")
def staff(srv):
    return user_with_role(srv, "staff")


@pytest.fixture(scope="module")
def anon(srv):
    return Api(srv, None)


@pytest.fixture(autouse=True)
def fakes_behave(gateway, telegram):
    gateway.normal()
    telegram.normal()
    yield
    gateway.normal()
    telegram.normal()


def place(staff, anon, **over):
    v = variation(staff, price=250000, amount=100)
    return ok(anon.post(SHOP + "/orders", order_body(staff, [(v, 2)], **over)), 201)


def pay(anon, order_id, **over):
    body = {"return_url": "https://shop.example/paid", "fail_url": "https://shop.example/failed"}
    body.update(over)
    return anon.post("%s/orders/%d/payment" % (SHOP, order_id), body)


# --------------------------------------------------------------------------- payments

def test_payment_register_and_status(staff, anon, gateway):
    o = place(staff, anon)
    r = pay(anon, o["id"])
    doc = ok(r)
    assert set(doc) == {"payment_url", "gateway_order_id"}, doc
    assert doc["gateway_order_id"] in gateway.orders and doc["payment_url"].startswith(gateway.url)
    call = gateway.calls(REGISTER)[-1]
    p = call["params"]
    assert call["method"] == "POST" and call["content_type"] == "application/x-www-form-urlencoded", call
    assert p["userName"] == GATEWAY_USER and p["password"] == GATEWAY_PASSWORD
    assert p["amount"] == str(o["total"]) and p["orderNumber"].startswith("%d-" % o["id"])
    assert p["returnUrl"] == "https://shop.example/paid" and p["failUrl"] == "https://shop.example/failed"
    assert GATEWAY_PASSWORD.encode() not in r.body

    st = ok(anon.get("%s/orders/%d/payment" % (SHOP, o["id"])))
    assert st["gateway_order_id"] == doc["gateway_order_id"] and st["paid"] is False and st["status"] == "registered"
    assert gateway.calls(STATUS)[-1]["params"]["orderId"] == doc["gateway_order_id"]
    gateway.pay(doc["gateway_order_id"])
    st = ok(anon.get("%s/orders/%d/payment" % (SHOP, o["id"])))
    assert st["paid"] is True and st["status"] == "paid" and st["amount"] == o["total"], st


def test_payment_again_registers_a_new_attempt(staff, anon, gateway):
    o = place(staff, anon)
    first = ok(pay(anon, o["id"]))
    second = ok(pay(anon, o["id"]))   # the gateway refuses an orderNumber it has seen: a new one each time
    assert first["gateway_order_id"] != second["gateway_order_id"]
    numbers = [c["params"]["orderNumber"] for c in gateway.calls(REGISTER)[-2:]]
    assert numbers[0] != numbers[1] and all(n.startswith("%d-" % o["id"]) for n in numbers)
    st = ok(anon.get("%s/orders/%d/payment" % (SHOP, o["id"])))
    assert st["gateway_order_id"] == second["gateway_order_id"]


def test_payment_validation_and_missing_order(staff, anon):
    o = place(staff, anon)
    r = anon.post("%s/orders/%d/payment" % (SHOP, o["id"]), {"fail_url": "https://x.example/f"})
    assert sorted((e["field"], e["code"]) for e in problem(r, 422, "validation_failed")["errors"]) == [
        ("return_url", "required")]
    r = anon.post("%s/orders/%d/payment" % (SHOP, o["id"]), {"return_url": "x", "fail_url": "y", "z": 1})
    assert ("z", "unknown_field") in [(e["field"], e["code"]) for e in problem(r, 422)["errors"]]
    problem(pay(anon, MISSING_ID), 404, "not_found")
    problem(anon.get("%s/orders/%d/payment" % (SHOP, MISSING_ID)), 404, "not_found")
    problem(anon.get("%s/orders/%d/payment" % (SHOP, o["id"])), 409, "payment_not_registered")


def test_payment_not_configured_after_not_found(staff, anon):
    o = place(staff, anon)
    s = serve(shop_env())   # no gateway configured
    try:
        other = Api(s, None)
        problem(pay(other, MISSING_ID), 404, "not_found")              # 404 before 503
        r = pay(other, o["id"])
        problem(r, 503, "not_configured")
        problem(other.get("%s/orders/%d/payment" % (SHOP, MISSING_ID)), 404, "not_found")
        problem(other.get("%s/orders/%d/payment" % (SHOP, o["id"])), 503, "not_configured")
    finally:
        finish(s)


def test_gateway_refusal_is_502(staff, anon, gateway):
    o = place(staff, anon)
    s = serve(shop_env(gw=gateway, PAYMENT_GATEWAY_PASSWORD="wrong"))   # the gateway answers errorCode 5
    try:
        doc = problem(pay(Api(s, None), o["id"]), 502, "gateway_error")
        assert "wrong" not in doc["detail"]
    finally:
        finish(s)


def test_gateway_down_is_502(staff, anon, gateway):
    o = place(staff, anon)
    gateway.down()
    t0 = time.monotonic()
    problem(pay(anon, o["id"]), 502, "gateway_error")
    problem(anon.get("%s/orders/%d/payment" % (SHOP, o["id"])), 409, "payment_not_registered")
    assert time.monotonic() - t0 < OUTBOUND_TIMEOUT_S + 2
    gateway.up()
    ok(pay(anon, o["id"]))


def test_gateway_5xx_is_502(staff, anon, gateway):
    o = place(staff, anon)
    gateway.fail(1, 500)
    problem(pay(anon, o["id"]), 502, "gateway_error")
    ok(pay(anon, o["id"]))


def test_gateway_hanging_is_504_and_others_are_unaffected(srv, staff, anon, gateway):
    o = place(staff, anon)
    gateway.hang(OUTBOUND_TIMEOUT_S * 5)
    result = {}

    def slow():
        t0 = time.monotonic()
        result["r"] = pay(anon, o["id"])
        result["took"] = time.monotonic() - t0

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    # meanwhile the server answers everything else at once
    for _ in range(5):
        t0 = time.monotonic()
        st, _, _ = http("GET", srv.url + "/health", timeout=5)
        assert st == 200 and time.monotonic() - t0 < 0.5
        t0 = time.monotonic()
        st, _, _ = http("GET", srv.url + SHOP + "/goods?limit=1", timeout=5)
        assert st == 200 and time.monotonic() - t0 < 1.0
    v = variation(staff)
    ok(anon.post(SHOP + "/orders", order_body(staff, [(v, 1)])), 201)
    t.join(OUTBOUND_TIMEOUT_S * 4)
    assert not t.is_alive()
    problem(result["r"], 504, "gateway_timeout")
    assert OUTBOUND_TIMEOUT_S - 0.5 <= result["took"] < OUTBOUND_TIMEOUT_S + 2, result["took"]
    gateway.normal()
    ok(pay(anon, o["id"]))


def test_gateway_timeout_comes_before_the_request_timeout(staff, anon, gateway):
    """OUTBOUND_TIMEOUT longer than HTTP_REQUEST_TIMEOUT: the call is cut short so the answer is
    still the payment's own 504 gateway_timeout, not the request's 504 timeout."""
    o = place(staff, anon)
    s = serve(shop_env(gw=gateway, OUTBOUND_TIMEOUT="10s", HTTP_REQUEST_TIMEOUT="2s"))
    try:
        gateway.hang(6)
        t0 = time.monotonic()
        problem(pay(Api(s, None), o["id"]), 504, "gateway_timeout")
        assert time.monotonic() - t0 < 3.5
    finally:
        gateway.normal()
        finish(s)


# --------------------------------------------------------------------------- Telegram

def messages_about(telegram, order_id):
    """Messages delivered to the shop's chat about this order: the first line ends with its number."""
    pattern = re.compile(r"(?<!\d)%d$" % order_id)
    return [m for m in telegram.delivered(TG_CHAT) if pattern.search(m["text"].split("\n", 1)[0])]


def wait_delivered(telegram, order_ids, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(messages_about(telegram, i) for i in order_ids):
            return
        time.sleep(0.1)


def test_order_is_sent_to_telegram(staff, anon, telegram):
    o = place(staff, anon, customer_name="Мария Иванова")
    wait_delivered(telegram, [o["id"]])
    got = messages_about(telegram, o["id"])
    assert len(got) == 1, telegram.delivered()
    assert "Мария Иванова" in got[0]["text"]
    call = [c for c in telegram.calls(r"/sendMessage$") if c["status"] == 200][-1]
    assert call["path"] == "/bot%s/sendMessage" % telegram.token


def test_telegram_outbox_in_metrics(srv, staff, anon, telegram):
    o = place(staff, anon)
    wait_delivered(telegram, [o["id"]])
    deadline = time.monotonic() + 5
    while True:
        st, _, body = http("GET", srv.url + "/metrics")
        sent = re.search(rb'^telegram_outbox_messages\{state="sent"\} (\d+)$', body, re.M)
        if sent and int(sent.group(1)) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sent and int(sent.group(1)) >= 1, body.decode()[-600:]
    for state in ("pending", "failed", "dead"):
        assert re.search(rb'^telegram_outbox_messages\{state="%s"\} \d+$' % state.encode(), body, re.M), state


def test_telegram_down_then_every_message_exactly_once(staff, anon, telegram):
    telegram.down()
    t0 = time.monotonic()
    orders = [place(staff, anon) for _ in range(3)]
    assert time.monotonic() - t0 < 10          # the orders never wait for Telegram
    time.sleep(2)
    telegram.up()
    wait_delivered(telegram, [o["id"] for o in orders], timeout=20)
    time.sleep(1.5)                            # and nothing comes twice later
    for o in orders:
        assert len(messages_about(telegram, o["id"])) == 1, o


def test_telegram_failing_then_exactly_once(staff, anon, telegram):
    telegram.fail(3, 502)
    o = place(staff, anon)
    wait_delivered(telegram, [o["id"]], timeout=20)
    time.sleep(1.5)
    assert len(messages_about(telegram, o["id"])) == 1
    assert len([c for c in telegram.calls(r"/sendMessage$") if c["outcome"] == "failed"]) >= 3


def test_telegram_hanging_then_exactly_once(staff, anon, telegram):
    telegram.hang(OUTBOUND_TIMEOUT_S * 3)
    o = place(staff, anon)
    time.sleep(OUTBOUND_TIMEOUT_S + 0.5)
    telegram.normal()
    wait_delivered(telegram, [o["id"]], timeout=20)
    time.sleep(1.5)
    assert len(messages_about(telegram, o["id"])) == 1


def test_telegram_flood_control_is_respected(staff, anon, telegram):
    telegram.flood(1, retry_after=1)
    o = place(staff, anon)
    wait_delivered(telegram, [o["id"]], timeout=20)
    tries = [c for c in telegram.calls(r"/sendMessage$") if c["status"] in (200, 429)]
    assert len(messages_about(telegram, o["id"])) == 1
    flood = [c for c in tries if c["status"] == 429][-1]
    sent = [c for c in tries if c["status"] == 200][-1]
    assert sent["time"] - flood["time"] >= 0.9


def test_two_instances_never_send_twice(staff, anon, telegram, gateway, mail):
    smtp_port, _ = mail
    second = serve(shop_env(gw=gateway, tg=telegram, smtp_port=smtp_port))
    try:
        telegram.down()
        orders = [place(staff, anon) for _ in range(6)]
        time.sleep(1)
        telegram.up()
        wait_delivered(telegram, [o["id"] for o in orders], timeout=20)
        time.sleep(1.5)
        for o in orders:
            assert len(messages_about(telegram, o["id"])) == 1, o
    finally:
        finish(second)


def test_no_telegram_without_configuration(staff, telegram):
    s = serve(shop_env())
    try:
        other = Api(s, None)
        v = variation(staff)
        o = ok(other.post(SHOP + "/orders", order_body(staff, [(v, 1)])), 201)
        time.sleep(1)
        assert messages_about(telegram, o["id"]) == []
        assert psql("SELECT count(*) FROM telegram_outbox WHERE order_id = %d" % o["id"]) == "0"
    finally:
        finish(s)


# --------------------------------------------------------------------------- staff e-mail

def test_staff_mail_reaches_the_sink(staff, anon, mail):
    _, maildir = mail
    box = Mailbox(maildir)
    before = box.count_to(NOTIFY)
    o = place(staff, anon, customer_name="Пётр Сидоров", comment="Домофон 12")
    msg = box.wait_for(NOTIFY, count=before + 1, timeout=10)
    assert msg is not None, "no staff mail to %s" % NOTIFY
    mails = [m for m in box.all_to(NOTIFY) if subject(m).endswith(" %d" % o["id"])]
    assert len(mails) == 1, [subject(m) for m in box.all_to(NOTIFY)]
    text = body_text(mails[0])
    assert "Пётр Сидоров" in text and "Домофон 12" in text and o["phone_number"] in text


def test_no_staff_mail_without_address(staff, mail):
    _, maildir = mail
    s = serve(shop_env(smtp_port=mail[0]))   # SHOP_NOTIFY_EMAIL unset
    try:
        v = variation(staff)
        o = ok(Api(s, None).post(SHOP + "/orders", order_body(staff, [(v, 1)])), 201)
        assert psql("SELECT count(*) FROM mail_outbox WHERE subject LIKE '%% %d'" % o["id"]) == "0"
    finally:
        finish(s)


def test_orders_work_with_every_service_down(staff, anon, gateway, telegram):
    gateway.down()
    telegram.down()
    o = place(staff, anon)
    assert o["status_id"]
    telegram.up()
    wait_delivered(telegram, [o["id"]], timeout=20)

"""Self-tests of the fakes (no hourglass needed): python3 -m pytest test/fakes -q"""

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from payment_gateway import REGISTER, STATUS, PaymentGateway  # noqa: E402
from telegram_api import TelegramApi  # noqa: E402


def post_form(url, fields, timeout=5):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def post_json(url, doc, timeout=5):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture
def gw():
    with PaymentGateway(user="u", password="p") as g:
        yield g


@pytest.fixture
def tg():
    with TelegramApi(token="1:t") as t:
        yield t


def reg(gw, number="1-1", **over):
    fields = {"userName": "u", "password": "p", "orderNumber": number, "amount": "12345",
              "returnUrl": "http://shop/ok", "failUrl": "http://shop/fail"}
    fields.update(over)
    return post_form(gw.url + REGISTER, fields)


def test_gateway_register_and_status(gw):
    st, doc = reg(gw)
    assert st == 200 and set(doc) == {"orderId", "formUrl"}, doc
    assert doc["orderId"] in doc["formUrl"]
    st, s = post_form(gw.url + STATUS, {"userName": "u", "password": "p", "orderId": doc["orderId"]})
    assert s["errorCode"] == "0" and s["orderStatus"] == 0 and s["amount"] == 12345 and s["orderNumber"] == "1-1"
    gw.pay(doc["orderId"])
    st, s = post_form(gw.url + STATUS, {"userName": "u", "password": "p", "orderId": doc["orderId"]})
    assert s["orderStatus"] == 2
    call = gw.calls(REGISTER)[0]
    assert call["params"]["amount"] == "12345" and call["content_type"] == "application/x-www-form-urlencoded"


def test_gateway_errors(gw):
    assert reg(gw, password="wrong")[1]["errorCode"] == "5"
    assert reg(gw, returnUrl="")[1]["errorCode"] == "4"
    assert reg(gw, amount="-1")[1]["errorCode"] == "5"
    assert "orderId" in reg(gw, "7-1")[1]
    assert reg(gw, "7-1")[1]["errorCode"] == "1"  # a number it has seen
    st, s = post_form(gw.url + STATUS, {"userName": "u", "password": "p", "orderId": "nope"})
    assert s["errorCode"] == "6"


def test_down_fail_hang(gw):
    gw.down()
    with pytest.raises(urllib.error.URLError):
        reg(gw)
    gw.up()
    gw.fail(2, 502)
    assert reg(gw, "a")[0] == 502 and reg(gw, "b")[0] == 502
    assert "orderId" in reg(gw, "c")[1]
    gw.hang(3)
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, urllib.error.URLError)):
        post_form(gw.url + REGISTER, {"userName": "u"}, timeout=0.5)
    assert time.monotonic() - t0 < 2
    gw.normal()
    assert [c["outcome"] for c in gw.calls(REGISTER)][-1] == "hung"
    assert "orderId" in reg(gw, "e")[1]


def test_telegram_send(tg):
    st, doc = post_json(tg.url + "/bot1:t/sendMessage", {"chat_id": -100123, "text": "Новый заказ"})
    assert st == 200 and doc["ok"] and doc["result"]["chat"]["id"] == -100123
    st, doc = post_form(tg.url + "/bot1:t/sendMessage", {"chat_id": "5", "text": "x"})
    assert st == 200
    assert tg.delivered() == [{"chat_id": "-100123", "text": "Новый заказ"}, {"chat_id": "5", "text": "x"}]
    assert post_json(tg.url + "/bot1:wrong/sendMessage", {"chat_id": 1, "text": "x"})[0] == 401
    assert post_json(tg.url + "/bot1:t/sendMessage", {"text": "x"})[0] == 400
    tg.flood(1, 3)
    st, doc = post_json(tg.url + "/bot1:t/sendMessage", {"chat_id": 1, "text": "x"})
    assert st == 429 and doc["parameters"]["retry_after"] == 3
    tg.fail(1)
    assert post_json(tg.url + "/bot1:t/sendMessage", {"chat_id": 1, "text": "x"})[0] == 503
    assert len(tg.delivered()) == 2


def test_http_controls(tg):
    req = urllib.request.Request(tg.url + "/_control", data=json.dumps({"mode": "fail", "count": 1}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=5).read()
    assert post_json(tg.url + "/bot1:t/sendMessage", {"chat_id": 1, "text": "x"})[0] == 503
    with urllib.request.urlopen(tg.url + "/_calls", timeout=5) as r:
        calls = json.loads(r.read())
    assert [c["outcome"] for c in calls] == ["failed"]


def test_calls_file(tmp_path):
    path = str(tmp_path / "calls.jsonl")
    with TelegramApi(token="1:t", calls_file=path) as t:
        post_json(t.url + "/bot1:t/sendMessage", {"chat_id": 1, "text": "x"})
    lines = [json.loads(x) for x in open(path, encoding="utf-8")]
    assert lines[0]["path"] == "/bot1:t/sendMessage" and lines[0]["status"] == 200

"""Shared pieces of the shop tests (test_shop_*.py): a server with the shop's outbound services
pointed at local fakes (test/fakes), staff / plain users / anonymous clients, and builders for the
catalogue. Written from API.md and the decisions in docs/shop.md, not from server code.

Roles: a registered user is made `staff` (or `admin`) with psql, then logs in again, since the role
travels in the access token (as test_music.py does for admins)."""

import http.client as httpclient
import json
import os
import sys
import urllib.parse
import uuid

import pytest

from conftest import http, psql, start_server
from planning_helpers import NOBODY, PASSWORD, Api, Resp, ok, problem, uniq  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

from payment_gateway import PaymentGateway  # noqa: E402
from telegram_api import TelegramApi  # noqa: E402

SHOP = "/api/v1/shop"
ORIGIN = "http://app.example"
MISSING_ID = 9000000000000000000
BOT_TOKEN = "bot-secret-" + uuid.uuid4().hex[:8]
GATEWAY_USER, GATEWAY_PASSWORD = "shop-api", "gw-pass-" + uuid.uuid4().hex[:6]
TG_TOKEN = "123456:tg-" + uuid.uuid4().hex[:10]
TG_CHAT = "-1001234567890"
OUTBOUND_TIMEOUT_S = 2

# The eight reference lists: path -> the fields besides name.
DICTS = {
    "materials": {}, "categories": {}, "compositions": {}, "care": {}, "sizes": {},
    "colors": {"code": "#1a1a1a"}, "order-statuses": {}, "delivery-types": {},
}

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")
JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000") + b"\x00" * 64 + b"\xff\xd9"
GIF_1X1 = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
           b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
WEBP_HEAD = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"

BASE_ENV = {
    "CLIENT_ORIGIN": ORIGIN,
    "JWT_SECRET": "test-secret-0123456789abcdef-shop",
    "PASSWORD_HASH_COST": "min",
    "AUTH_REQUIRE_VERIFIED_EMAIL": "false",
    "LOGIN_IP_LIMIT": 1000000,
    "DB_QUEUE_SIZE": 4096,  # 100 orders at once must queue, not be refused
    "BOT_API_TOKEN": BOT_TOKEN,
    "OUTBOUND_TIMEOUT": "%ds" % OUTBOUND_TIMEOUT_S,
    "OUTBOUND_POLL_INTERVAL": "200ms",
    "OUTBOUND_RETRY_MAX": "500ms",
    "MAIL_POLL_INTERVAL": "200ms",
    "MAIL_RETRY_MAX": "500ms",
}


def shop_env(gw=None, tg=None, smtp_port=None, notify=None, **over):
    env = dict(BASE_ENV)
    if gw is not None:
        env.update({"PAYMENT_GATEWAY_URL": gw.url, "PAYMENT_GATEWAY_USER": GATEWAY_USER,
                    "PAYMENT_GATEWAY_PASSWORD": GATEWAY_PASSWORD})
    if tg is not None:
        env.update({"TELEGRAM_API_URL": tg.url, "TELEGRAM_BOT_TOKEN": TG_TOKEN, "TELEGRAM_CHAT_ID": TG_CHAT})
    if smtp_port:
        env.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_STARTTLS": "false"})
    if notify:
        env["SHOP_NOTIFY_EMAIL"] = notify
    env.update(over)
    return env


def serve(env):
    s = start_server(env)
    s.wait_db_ready()
    return s


def finish(s):
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


@pytest.fixture(scope="module")
def gateway():
    with PaymentGateway(user=GATEWAY_USER, password=GATEWAY_PASSWORD) as g:
        yield g


@pytest.fixture(scope="module")
def telegram():
    with TelegramApi(token=TG_TOKEN) as t:
        yield t


@pytest.fixture(scope="module")
def srv():
    """A shop server without outbound services (catalogue, imports, orders)."""
    s = serve(shop_env())
    yield s
    finish(s)


# --------------------------------------------------------------------------- clients

def register(srv):
    addr = uniq("shop") + "@example.com"
    st, _, body = http("POST", srv.url + "/api/v1/auth/register", headers={"Content-Type": "application/json"},
                       body=json.dumps({"email": addr, "password": PASSWORD}).encode())
    assert st == 200 or st == 201, (st, body)
    return json.loads(body)


def login(srv, email):
    st, _, body = http("POST", srv.url + "/api/v1/auth/login", headers={"Content-Type": "application/json"},
                       body=json.dumps({"email": email, "password": PASSWORD}).encode())
    assert st == 200, (st, body)
    return json.loads(body)["access_token"]


def user_with_role(srv, role):
    u = register(srv)
    if role != "user":
        psql("UPDATE users SET role = '%s' WHERE id = %d" % (role, u["id"]))
    return Api(srv, login(srv, u["email"]), u)


@pytest.fixture(scope="module")
def staff(srv):
    return user_with_role(srv, "staff")


@pytest.fixture(scope="module")
def admin(srv):
    return user_with_role(srv, "admin")


@pytest.fixture(scope="module")
def plain(srv):
    return user_with_role(srv, "user")


@pytest.fixture(scope="module")
def anon(srv):
    return Api(srv, None)


def qs(**params):
    params = {k: v for k, v in params.items() if v is not None}
    return ("?" + urllib.parse.urlencode(params)) if params else ""


def items_of(api, path, **params):
    """Every item of a shop list, following next_cursor."""
    out, cursor = [], None
    for _ in range(1000):
        q = dict(params)
        if cursor:
            q["cursor"] = cursor
        page = ok(api.get(path + qs(**q)))
        assert set(page) == {"items", "next_cursor"}, page
        out += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("the cursor never ends")


def errors_of(r, status=422, code="validation_failed"):
    doc = problem(r, status, code)
    return sorted((e["field"], e["code"]) for e in doc.get("errors", []))


def assert_errors(r, expected):
    assert errors_of(r) == sorted(set(expected)), r


def from_ip(srv, ip, method, path, body=None, headers=None, timeout=10):
    """A request from another loopback source address (127.0.0.0/8), for per-IP limits."""
    conn = httpclient.HTTPConnection("127.0.0.1", srv.port, timeout=timeout, source_address=(ip, 0))
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        return Resp(method, path, body, resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def random_loopback():
    b = uuid.uuid4().bytes
    return "127.%d.%d.%d" % (b[0] % 250 + 2, b[1] % 250 + 2, b[2] % 250 + 2)


def multipart(files=None, fields=None):
    """files: {name: (filename, bytes, content type)}; fields: {name: text}."""
    boundary = "----hgshop" + uuid.uuid4().hex
    parts = []
    for name, value in (fields or {}).items():
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                      % (boundary, name, value)).encode())
    for name, (filename, content, ctype) in (files or {}).items():
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                      "Content-Type: %s\r\n\r\n" % (boundary, name, filename, ctype)).encode() + content + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
    return body, {"Content-Type": "multipart/form-data; boundary=%s" % boundary}


# --------------------------------------------------------------------------- catalogue builders

def dict_row(staff, path, **over):
    body = {"name": uniq(path)}
    body.update(DICTS[path])
    body.update(over)
    return ok(staff.post(SHOP + "/" + path, body), 201)


def good(staff, **over):
    body = {"name": uniq("Платье"), "article": uniq("ART"), "category_id": dict_row(staff, "categories")["id"],
            "composition_id": dict_row(staff, "compositions")["id"], "description": "Хлопковое платье",
            "weight": 350}
    body.update(over)
    return ok(staff.post(SHOP + "/goods", body), 201)


def variation(staff, good_id=None, **over):
    if good_id is None:
        good_id = good(staff)["id"]
    body = {"good_id": good_id, "name": uniq("M"), "color_id": dict_row(staff, "colors")["id"],
            "size_id": dict_row(staff, "sizes")["id"], "price": 450000, "amount": 10}
    body.update(over)
    return ok(staff.post(SHOP + "/variations", body), 201)


def effective_price(v):
    return v["discounted_price"] if v["discounted_price"] is not None else v["price"]


def delivery_type(staff):
    return dict_row(staff, "delivery-types")["id"]


def order_body(staff, lines, **over):
    """lines: [(variation object, amount)] at their current prices."""
    body = {"customer_name": "Иван Петров", "phone_number": "+79001234567", "email": uniq("buyer") + "@example.com",
            "delivery_type_id": delivery_type(staff), "address": "Москва, ул. Тверская, 1", "comment": None,
            "items": [{"variation_id": v["id"], "amount": n, "current_price": effective_price(v)} for v, n in lines]}
    body.update(over)
    return body


ORDER_KEYS = {"id", "customer_name", "phone_number", "email", "delivery_type_id", "address", "comment", "total",
              "status_id", "created_at", "items"}


def first_status_id():
    return int(psql("SELECT min(id) FROM order_statuses"))


def stock_of(staff, variation_id):
    return ok(staff.get(SHOP + "/variations/%d" % variation_id))["amount"]

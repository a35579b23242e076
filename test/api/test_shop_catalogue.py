"""Shop catalogue: the eight reference lists, goods, variations, the public goods list and images.

Public reads; writes need `staff` or `admin` (401 without a token, 403 for a plain user)."""

import hashlib
import re

import pytest

from conftest import psql
from shop_helpers import (DICTS, GIF_1X1, JPEG_HEAD, MISSING_ID, PNG_1X1, SHOP, WEBP_HEAD,  # noqa: F401
                          admin, anon, assert_errors, dict_row, errors_of, good, items_of, multipart, ok,
                          plain, problem, qs, srv, staff, uniq, variation)

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
GOOD_KEYS = {"id", "name", "article", "external_id", "category_id", "barcode", "composition_id", "care_id",
             "description", "is_visible", "weight", "created_at", "updated_at"}
PUBLIC_GOOD_KEYS = GOOD_KEYS | {"variations", "images"}
VARIATION_KEYS = {"id", "good_id", "name", "color_id", "size_id", "price", "discounted_price", "external_id",
                  "amount", "barcode", "is_sale", "is_new", "is_default", "created_at", "updated_at"}

DICT_PATHS = sorted(DICTS)


# --------------------------------------------------------------------------- reference lists

@pytest.mark.parametrize("path", DICT_PATHS)
def test_dictionary_crud(path, staff, anon):
    coll = SHOP + "/" + path
    body = {"name": uniq("Имя")}
    body.update(DICTS[path])
    r = staff.post(coll, body)
    made = ok(r, 201)
    assert r.headers.get("location") == "%s/%d" % (coll, made["id"]), r.headers
    assert set(made) == {"id", "created_at", "updated_at"} | set(body), made
    assert {k: made[k] for k in body} == body
    assert TIME_RE.match(made["created_at"]) and TIME_RE.match(made["updated_at"])
    item = "%s/%d" % (coll, made["id"])
    assert ok(anon.get(item)) == made                       # public read
    assert made["id"] in [x["id"] for x in items_of(anon, coll)]
    patched = ok(staff.patch(item, {"name": body["name"] + "-2"}))
    assert patched["name"] == body["name"] + "-2"
    assert ok(staff.patch(item, {})) == patched             # empty PATCH changes nothing
    put = dict(body, name=uniq("put"))
    assert {k: v for k, v in ok(staff.put(item, put)).items() if k in put} == put
    r = staff.delete(item)
    assert r.status == 204, r
    problem(anon.get(item), 404, "not_found")
    problem(staff.delete(item), 404, "not_found")


@pytest.mark.parametrize("path", DICT_PATHS)
def test_dictionary_validation(path, staff):
    coll = SHOP + "/" + path
    extra = DICTS[path]
    assert_errors(staff.post(coll, dict(extra)), [("name", "required")])
    assert_errors(staff.post(coll, dict(extra, name=None)), [("name", "required")])
    assert_errors(staff.post(coll, dict(extra, name="")), [("name", "too_short")])
    longest = 2000 if path == "care" else 200  # care instructions are longer (notes, 0011_shop.sql)
    assert_errors(staff.post(coll, dict(extra, name="я" * (longest + 1))), [("name", "too_long")])
    assert_errors(staff.post(coll, dict(extra, name=5)), [("name", "wrong_type")])
    assert_errors(staff.post(coll, dict(extra, name=uniq("n"), bogus=1)), [("bogus", "unknown_field")])
    if path == "colors":
        assert_errors(staff.post(coll, {"name": uniq("c")}), [("code", "required")])
        assert_errors(staff.post(coll, {"name": uniq("c"), "code": ""}), [("code", "too_short")])
    problem(staff.post(coll, raw=b"{not json", headers={"Content-Type": "application/json"}), 400)


@pytest.mark.parametrize("path", DICT_PATHS)
def test_dictionary_name_is_unique(path, staff):
    made = dict_row(staff, path)
    body = dict(DICTS[path], name=made["name"])
    doc = problem(staff.post(SHOP + "/" + path, body), 409)
    assert [e["field"] for e in doc.get("errors", [])] == ["name"], doc
    other = dict_row(staff, path)
    problem(staff.patch("%s/%s/%d" % (SHOP, path, other["id"]), {"name": made["name"]}), 409)


@pytest.mark.parametrize("path", DICT_PATHS)
def test_dictionary_writes_need_staff(path, staff, admin, plain, anon):
    coll = SHOP + "/" + path
    made = dict_row(staff, path)
    item = "%s/%d" % (coll, made["id"])
    body = dict(DICTS[path], name=uniq("x"))
    for r in (anon.post(coll, body), anon.patch(item, {"name": "y"}), anon.put(item, body), anon.delete(item)):
        problem(r, 401)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers
    for r in (plain.post(coll, body), plain.patch(item, {"name": "y"}), plain.put(item, body),
              plain.delete(item)):
        problem(r, 403)
    assert ok(anon.get(item)) == made and ok(plain.get(item)) == made
    ok(admin.post(coll, dict(DICTS[path], name=uniq("adm"))), 201)  # admin is staff too


def test_dictionary_paths(staff, anon):
    for path in DICT_PATHS:
        for bad in ("0", "abc", "-1", "99999999999999999999"):
            problem(anon.get("%s/%s/%s" % (SHOP, path, bad)), 404)
        problem(anon.get("%s/%s/%d" % (SHOP, path, MISSING_ID)), 404, "not_found")
        r = anon.req("OPTIONS", SHOP + "/" + path, headers={"Origin": "http://app.example",
                                                            "Access-Control-Request-Method": "POST"})
        assert r.status in (200, 204), r


def test_lists_page_in_id_order(staff, anon):
    for _ in range(3):
        dict_row(staff, "sizes")
    everything = items_of(anon, SHOP + "/sizes")
    assert items_of(anon, SHOP + "/sizes", limit=2) == everything
    ids = [x["id"] for x in everything]
    assert ids == sorted(ids) and len(ids) >= 3
    assert_errors(anon.get(SHOP + "/sizes?limit=0"), [("limit", "too_small")])
    assert_errors(anon.get(SHOP + "/sizes?limit=201"), [("limit", "too_large")])
    assert_errors(anon.get(SHOP + "/sizes?cursor=zz"), [("cursor", "invalid_format")])


def test_order_statuses_are_seeded(anon):
    statuses = items_of(anon, SHOP + "/order-statuses")
    assert len(statuses) >= 2, statuses
    assert statuses[0]["id"] == int(psql("SELECT min(id) FROM order_statuses"))


def test_referenced_rows_cannot_be_deleted(staff):
    g = good(staff)
    problem(staff.delete("%s/categories/%d" % (SHOP, g["category_id"])), 409, "in_use")
    problem(staff.delete("%s/compositions/%d" % (SHOP, g["composition_id"])), 409, "in_use")
    v = variation(staff, g["id"])
    problem(staff.delete("%s/colors/%d" % (SHOP, v["color_id"])), 409, "in_use")
    problem(staff.delete("%s/sizes/%d" % (SHOP, v["size_id"])), 409, "in_use")
    # still there
    ok(staff.get("%s/categories/%d" % (SHOP, g["category_id"])))


# --------------------------------------------------------------------------- goods

def test_good_crud(staff, anon):
    care = dict_row(staff, "care")
    g = good(staff, care_id=care["id"], external_id=uniq("1C"), barcode="4600000000001")
    assert GOOD_KEYS <= set(g), g
    assert g["is_visible"] is True and g["weight"] == 350 and g["care_id"] == care["id"]
    item = "%s/goods/%d" % (SHOP, g["id"])
    got = ok(anon.get(item))
    assert {k: got[k] for k in GOOD_KEYS} == g
    assert got["variations"] == [] and got["images"] == []
    patched = ok(staff.patch(item, {"description": "Новое описание", "barcode": None}))
    assert patched["description"] == "Новое описание" and patched["barcode"] is None
    assert staff.delete(item).status == 204
    problem(anon.get(item), 404, "not_found")


def test_good_validation(staff):
    cat = dict_row(staff, "categories")["id"]
    comp = dict_row(staff, "compositions")["id"]
    assert_errors(staff.post(SHOP + "/goods", {}),
                  [("name", "required"), ("article", "required"), ("category_id", "required"),
                   ("composition_id", "required"), ("description", "required"), ("weight", "required")])
    base = {"name": "n", "article": "a", "category_id": cat, "composition_id": comp, "description": "d",
            "weight": 1}
    assert_errors(staff.post(SHOP + "/goods", dict(base, weight=-1)), [("weight", "too_small")])
    assert_errors(staff.post(SHOP + "/goods", dict(base, weight=1.5)), [("weight", "wrong_type")])
    assert_errors(staff.post(SHOP + "/goods", dict(base, is_visible="yes")), [("is_visible", "wrong_type")])
    assert_errors(staff.post(SHOP + "/goods", dict(base, name="")), [("name", "too_short")])
    assert_errors(staff.post(SHOP + "/goods", dict(base, color="red")), [("color", "unknown_field")])
    # every bad reference at once
    assert_errors(staff.post(SHOP + "/goods", dict(base, category_id=MISSING_ID, composition_id=MISSING_ID,
                                                   care_id=MISSING_ID)),
                  [("category_id", "not_found"), ("composition_id", "not_found"), ("care_id", "not_found")])


def test_good_external_id_is_unique(staff):
    ext = uniq("1C")
    good(staff, external_id=ext)
    doc = problem(staff.post(SHOP + "/goods", {"name": "n", "article": "a",
                                               "category_id": dict_row(staff, "categories")["id"],
                                               "composition_id": dict_row(staff, "compositions")["id"],
                                               "description": "d", "weight": 1, "external_id": ext}), 409)
    assert [e["field"] for e in doc.get("errors", [])] == ["external_id"], doc


def test_hidden_goods_are_staff_only(staff, anon, plain):
    hidden = good(staff, is_visible=False)
    v = variation(staff, hidden["id"])
    item = "%s/goods/%d" % (SHOP, hidden["id"])
    problem(anon.get(item), 404, "not_found")
    problem(plain.get(item), 404, "not_found")
    assert ok(staff.get(item))["id"] == hidden["id"]
    cat = hidden["category_id"]
    assert [g["id"] for g in items_of(anon, SHOP + "/goods", category_id=cat)] == []
    assert [g["id"] for g in items_of(staff, SHOP + "/goods", category_id=cat)] == [hidden["id"]]
    assert [x["id"] for x in items_of(anon, SHOP + "/variations", good_id=hidden["id"])] == []
    problem(anon.get("%s/variations/%d" % (SHOP, v["id"])), 404, "not_found")
    problem(anon.get("%s/goods/%d/variations" % (SHOP, hidden["id"])), 404, "not_found")
    assert ok(staff.get("%s/variations/%d" % (SHOP, v["id"])))["id"] == v["id"]


def test_goods_writes_need_staff(staff, plain, anon):
    g = good(staff)
    item = "%s/goods/%d" % (SHOP, g["id"])
    problem(anon.post(SHOP + "/goods", {"name": "x"}), 401)
    problem(plain.post(SHOP + "/goods", {"name": "x"}), 403)
    problem(anon.patch(item, {"name": "x"}), 401)
    problem(plain.patch(item, {"name": "x"}), 403)
    problem(plain.delete(item), 403)
    problem(anon.post(SHOP + "/variations", {"good_id": g["id"]}), 401)
    problem(plain.post(SHOP + "/variations", {"good_id": g["id"]}), 403)


# --------------------------------------------------------------------------- variations

def test_variation_crud(staff, anon):
    g = good(staff)
    v = variation(staff, g["id"], discounted_price=399000, is_sale=True, external_id=uniq("V"))
    assert set(v) == VARIATION_KEYS, v
    assert v["price"] == 450000 and v["discounted_price"] == 399000 and v["is_sale"] is True
    assert v["is_new"] is False and v["is_default"] is False and v["barcode"] is None
    item = "%s/variations/%d" % (SHOP, v["id"])
    assert ok(anon.get(item)) == v
    nested = items_of(anon, "%s/goods/%d/variations" % (SHOP, g["id"]))
    assert [x["id"] for x in nested] == [v["id"]]
    assert [x["id"] for x in items_of(anon, SHOP + "/variations", good_id=g["id"])] == [v["id"]]
    assert ok(staff.patch(item, {"amount": 0}))["amount"] == 0
    assert staff.delete(item).status == 204
    problem(anon.get(item), 404, "not_found")
    problem(anon.get("%s/goods/%d/variations" % (SHOP, MISSING_ID)), 404, "not_found")


def test_variation_validation(staff):
    g = good(staff)
    assert_errors(staff.post(SHOP + "/variations", {}),
                  [("good_id", "required"), ("name", "required"), ("color_id", "required"),
                   ("size_id", "required"), ("price", "required"), ("amount", "required")])
    base = {"good_id": g["id"], "name": "M", "color_id": dict_row(staff, "colors")["id"],
            "size_id": dict_row(staff, "sizes")["id"], "price": 1000, "amount": 1}
    assert_errors(staff.post(SHOP + "/variations", dict(base, amount=-1)), [("amount", "too_small")])
    assert_errors(staff.post(SHOP + "/variations", dict(base, price=-1)), [("price", "too_small")])
    assert_errors(staff.post(SHOP + "/variations", dict(base, price=10.5)), [("price", "wrong_type")])
    assert_errors(staff.post(SHOP + "/variations", dict(base, discounted_price=1001)),
                  [("discounted_price", "invalid_range")])
    assert_errors(staff.post(SHOP + "/variations", dict(base, good_id=MISSING_ID, color_id=MISSING_ID)),
                  [("good_id", "not_found"), ("color_id", "not_found")])
    v = ok(staff.post(SHOP + "/variations", base), 201)
    # a PATCH of the price alone is checked against the stored discount
    ok(staff.patch("%s/variations/%d" % (SHOP, v["id"]), {"discounted_price": 900}))
    assert_errors(staff.patch("%s/variations/%d" % (SHOP, v["id"]), {"price": 800}),
                  [("discounted_price", "invalid_range")])  # the CHECK guards the pair
    ext = uniq("V")
    ok(staff.post(SHOP + "/variations", dict(base, external_id=ext)), 201)
    problem(staff.post(SHOP + "/variations", dict(base, external_id=ext)), 409)


def test_deleting_a_good_deletes_its_variations(staff, anon):
    g = good(staff)
    v = variation(staff, g["id"])
    assert staff.delete("%s/goods/%d" % (SHOP, g["id"])).status == 204
    problem(staff.get("%s/variations/%d" % (SHOP, v["id"])), 404, "not_found")


# --------------------------------------------------------------------------- the public list

@pytest.fixture(scope="module")
def shelf(staff):
    """A category of its own with three goods: a sale dress, a new coat, a plain shirt (and a hidden one)."""
    cat = dict_row(staff, "categories")["id"]
    word = uniq("Шелк")
    dress = good(staff, category_id=cat, name=word + " платье")
    variation(staff, dress["id"], price=500000, discounted_price=300000, is_sale=True)
    variation(staff, dress["id"], price=500000)
    coat = good(staff, category_id=cat, name="Пальто", article=word + "-coat")
    variation(staff, coat["id"], price=900000, is_new=True)
    shirt = good(staff, category_id=cat, name="Рубашка")
    variation(staff, shirt["id"], price=200000, amount=0)
    hidden = good(staff, category_id=cat, name=word + " hidden", is_visible=False)
    variation(staff, hidden["id"], price=100, is_sale=True)
    return {"cat": cat, "word": word, "dress": dress["id"], "coat": coat["id"], "shirt": shirt["id"],
            "hidden": hidden["id"]}


def ids(anon, **params):
    return [g["id"] for g in items_of(anon, SHOP + "/goods", **params)]


def test_public_list_shape(shelf, anon):
    items = items_of(anon, SHOP + "/goods", category_id=shelf["cat"])
    assert [g["id"] for g in items] == [shelf["dress"], shelf["coat"], shelf["shirt"]]
    for g in items:
        assert set(g) == PUBLIC_GOOD_KEYS, g
        assert g["is_visible"] is True
        for v in g["variations"]:
            assert set(v) == VARIATION_KEYS and v["good_id"] == g["id"], v
    dress = items[0]
    assert [v["discounted_price"] for v in dress["variations"]] == [300000, None]
    assert items[2]["variations"][0]["amount"] == 0  # sold out is still shown


def test_public_list_filters(shelf, anon):
    c = shelf["cat"]
    assert ids(anon, category_id=c, is_sale="true") == [shelf["dress"]]
    assert ids(anon, category_id=c, is_new="true") == [shelf["coat"]]
    # the effective price: the dress sells at 3000.00, not 5000.00
    assert ids(anon, category_id=c, price_max=300000) == [shelf["dress"], shelf["shirt"]]
    assert ids(anon, category_id=c, price_min=600000) == [shelf["coat"]]
    assert ids(anon, category_id=c, price_min=250000, price_max=350000) == [shelf["dress"]]
    assert ids(anon, q=shelf["word"].upper()) == [shelf["dress"], shelf["coat"]]  # name or article, any case
    assert ids(anon, category_id=c, q="%") == []  # matched literally, not as a pattern
    assert ids(anon, category_id=MISSING_ID) == []


def test_public_list_filter_validation(anon):
    assert_errors(anon.get(SHOP + "/goods?category_id=abc"), [("category_id", "invalid_format")])
    assert_errors(anon.get(SHOP + "/goods?is_sale=maybe"), [("is_sale", "invalid_format")])
    assert_errors(anon.get(SHOP + "/goods?price_min=-1"), [("price_min", "too_small")])
    assert_errors(anon.get(SHOP + "/goods?price_max=x"), [("price_max", "invalid_format")])
    assert_errors(anon.get(SHOP + "/goods?price_min=5&price_max=4"), [("price_max", "invalid_range")])
    assert_errors(anon.get(SHOP + "/goods?limit=0"), [("limit", "too_small")])


def test_public_list_pages(shelf, anon):
    c = shelf["cat"]
    first = ok(anon.get(SHOP + "/goods" + qs(category_id=c, limit=2)))
    assert [g["id"] for g in first["items"]] == [shelf["dress"], shelf["coat"]]
    assert isinstance(first["next_cursor"], str)
    second = ok(anon.get(SHOP + "/goods" + qs(category_id=c, limit=2, cursor=first["next_cursor"])))
    assert [g["id"] for g in second["items"]] == [shelf["shirt"]] and second["next_cursor"] is None


# --------------------------------------------------------------------------- images

def upload(api, good_id, content, ctype="image/png", field="image", **fields):
    form = {"good_id": good_id} if good_id is not None else {}
    form.update(fields)
    body, headers = multipart({field: ("photo.bin", content, ctype)} if field else None, form)
    return api.post(SHOP + "/images", raw=body, headers=headers)


def test_image_upload_and_public_get(staff, anon):
    g = good(staff)
    img = ok(upload(staff, g["id"], PNG_1X1, ctype="image/jpeg"), 201)  # declared jpeg, bytes say png
    assert img["content_type"] == "image/png" and img["good_id"] == g["id"] and img["size"] == len(PNG_1X1)
    assert img["url"] == "%s/images/%d" % (SHOP, img["id"])
    r = anon.get(img["url"])
    assert r.status == 200 and r.body == PNG_1X1, r
    assert r.headers["content-type"] == "image/png"
    etag = r.headers.get("etag")
    assert etag == '"%s"' % hashlib.sha256(PNG_1X1).hexdigest(), r.headers
    assert "cache-control" in r.headers
    r304 = anon.get(img["url"], headers={"If-None-Match": etag})
    assert r304.status == 304 and r304.body == b"", r304
    assert r304.headers.get("etag") == etag
    assert anon.get(img["url"], headers={"If-None-Match": '"other"'}).status == 200
    # the good shows it
    shown = ok(anon.get("%s/goods/%d" % (SHOP, g["id"])))["images"]
    assert shown == [{"id": img["id"], "url": img["url"]}]


@pytest.mark.parametrize("content,ctype", [(JPEG_HEAD, "image/jpeg"), (GIF_1X1, "image/gif"),
                                           (WEBP_HEAD, "image/webp")])
def test_image_types(staff, anon, content, ctype):
    g = good(staff)
    img = ok(upload(staff, g["id"], content, ctype="application/octet-stream"), 201)
    assert img["content_type"] == ctype
    assert anon.get(img["url"]).headers["content-type"] == ctype


def test_image_refusals(staff, plain, anon):
    g = good(staff)
    problem(upload(staff, g["id"], b"GIF8 not really an image"), 415, "unsupported_media_type")
    problem(upload(staff, g["id"], b"%PDF-1.4 ..."), 415, "unsupported_media_type")
    big = PNG_1X1 + b"\x00" * (5 * 1024 * 1024 + 1 - len(PNG_1X1))
    problem(upload(staff, g["id"], big), 413, "payload_too_large")
    just = PNG_1X1 + b"\x00" * (5 * 1024 * 1024 - len(PNG_1X1))
    ok(upload(staff, g["id"], just), 201)   # 5 MiB exactly is allowed: the limit is on the file
    assert_errors(upload(staff, None, PNG_1X1), [("good_id", "required")])
    assert_errors(upload(staff, MISSING_ID, PNG_1X1), [("good_id", "not_found")])
    assert_errors(upload(staff, g["id"], None, field=None), [("image", "required")])
    problem(upload(anon, g["id"], PNG_1X1), 401)
    problem(upload(plain, g["id"], PNG_1X1), 403)


def test_image_delete(staff, plain, anon):
    g = good(staff)
    img = ok(upload(staff, g["id"], PNG_1X1), 201)
    problem(anon.delete(img["url"]), 401)
    problem(plain.delete(img["url"]), 403)
    assert staff.delete(img["url"]).status == 204
    problem(anon.get(img["url"]), 404, "not_found")
    problem(staff.delete(img["url"]), 404, "not_found")
    assert ok(anon.get("%s/goods/%d" % (SHOP, g["id"])))["images"] == []


def test_images_go_with_their_good(staff, anon):
    g = good(staff)
    img = ok(upload(staff, g["id"], PNG_1X1), 201)
    assert staff.delete("%s/goods/%d" % (SHOP, g["id"])).status == 204
    problem(anon.get(img["url"]), 404, "not_found")


def test_errors_never_leak(staff):
    r = staff.post(SHOP + "/variations", {"good_id": MISSING_ID, "name": "x", "color_id": MISSING_ID,
                                          "size_id": MISSING_ID, "price": 1, "amount": 1})
    text = r.body.decode("utf-8", "replace").lower()
    for leak in ("violates", "constraint", "insert into", "select ", "sqlstate"):
        assert leak not in text, r
    assert errors_of(r)


def test_image_position_orders_the_pictures(staff, anon):
    g = good(staff)
    second = ok(upload(staff, g["id"], PNG_1X1, position="2"), 201)
    first = ok(upload(staff, g["id"], GIF_1X1, position="1"), 201)
    assert first["position"] == 1 and second["position"] == 2
    shown = ok(anon.get("%s/goods/%d" % (SHOP, g["id"])))["images"]
    assert [i["id"] for i in shown] == [first["id"], second["id"]]
    assert_errors(upload(staff, g["id"], PNG_1X1, position="-1"), [("position", "too_small")])
    assert_errors(upload(staff, "abc", PNG_1X1), [("good_id", "invalid_format")])

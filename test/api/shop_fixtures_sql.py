"""The catalogue rows the order tests need, made with psql while the catalogue routes are being
built on another branch (shop-cat). Same names and shapes as shop_helpers' builders, so a test
switches back by importing them from there again; `staff` is taken and ignored.

Values go into SQL as literals: they come from the tests themselves, never from the server."""

import json

from conftest import psql
from shop_helpers import SHOP, ok, uniq


def lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def insert(table, row):
    cols = ", ".join(row)
    vals = ", ".join(lit(v) for v in row.values())
    out = psql("WITH r AS (INSERT INTO %s (%s) VALUES (%s) RETURNING *) SELECT row_to_json(r) FROM r"
               % (table, cols, vals))
    return json.loads(out)


TABLES = {"categories": "shop_categories", "compositions": "compositions", "colors": "colors", "sizes": "sizes",
          "delivery-types": "delivery_types", "order-statuses": "order_statuses", "materials": "materials",
          "care": "care"}


def dict_row(staff, path, **over):
    row = {"name": uniq(path)}
    if path == "colors":
        row["code"] = "#1a1a1a"
    row.update(over)
    return insert(TABLES[path], row)


def good(staff, **over):
    row = {"name": uniq("Платье"), "article": uniq("ART"), "category_id": dict_row(staff, "categories")["id"],
           "composition_id": dict_row(staff, "compositions")["id"], "description": "Хлопковое платье",
           "weight": 350}
    row.update(over)
    return insert("goods", row)


def variation(staff, good_id=None, **over):
    if good_id is None:
        good_id = good(staff)["id"]
    row = {"good_id": good_id, "name": uniq("M"), "color_id": dict_row(staff, "colors")["id"],
           "size_id": dict_row(staff, "sizes")["id"], "price": 450000, "amount": 10}
    row.update(over)
    return insert("variations", row)


def set_discount(variation_id, discounted_price):
    psql("UPDATE variations SET discounted_price = %d WHERE id = %d" % (discounted_price, variation_id))


def effective_price(v):
    return v["discounted_price"] if v.get("discounted_price") is not None else v["price"]


def delivery_type(staff):
    return dict_row(staff, "delivery-types")["id"]


def order_body(staff, lines, **over):
    """lines: [(variation object, amount)] at their current prices."""
    body = {"customer_name": "Иван Петров", "phone_number": "+79001234567", "email": uniq("buyer") + "@example.com",
            "delivery_type_id": delivery_type(staff), "address": "Москва, ул. Тверская, 1", "comment": None,
            "items": [{"variation_id": v["id"], "amount": n, "current_price": effective_price(v)} for v, n in lines]}
    body.update(over)
    return body


def stock_of(staff, variation_id):
    return int(psql("SELECT amount FROM variations WHERE id = %d" % variation_id))


def order_status_ids():
    return [int(x) for x in psql("SELECT id FROM order_statuses ORDER BY id").split()]


def catalogue_served(api):
    """Whether this branch serves the catalogue routes yet."""
    return api.get(SHOP + "/order-statuses").status == 200


__all__ = ["dict_row", "good", "variation", "set_discount", "effective_price", "delivery_type", "order_body",
           "stock_of", "order_status_ids", "catalogue_served", "ok"]

"""Stock and weight imports: POST /api/v1/shop/variations/stock (a JSON list or the 1C CSV report
`external_id;amount`) and POST /api/v1/shop/goods/weights (CSV `external_id;weight`, grams).

A file is taken whole or not at all: every broken line is reported with its line number (the header
is line 1) and nothing changes. Unknown external ids are reported, the rest applied, in one
transaction. The CSV may come as a multipart field `file` or as a raw `text/csv` body, in UTF-8
(with or without a BOM) or Windows-1251, with LF or CRLF line ends."""

import time

from conftest import psql
from shop_helpers import (SHOP, anon, good, multipart, ok, plain, problem, srv, staff, stock_of,  # noqa: F401
                          uniq, variation)

STOCK = SHOP + "/variations/stock"
WEIGHTS = SHOP + "/goods/weights"


def csv_upload(api, path, text, encoding="utf-8", bom=False, crlf=True, raw=False):
    data = text.replace("\n", "\r\n") if crlf else text
    data = data.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    if raw:
        return api.post(path, raw=data, headers={"Content-Type": "text/csv"})
    body, headers = multipart({"file": ("remains.csv", data, "text/csv")})
    return api.post(path, raw=body, headers=headers)


def stocked(staff, n, **over):
    return [variation(staff, external_id=uniq("1C-В"), amount=1, **over) for _ in range(n)]


def line_errors(r):
    doc = problem(r, 422, "validation_failed")
    out = []
    for e in doc["errors"]:
        assert isinstance(e.get("line"), int) and e.get("code") and e.get("message"), doc
        out.append((e["line"], e["code"]))
    return sorted(out)


# --------------------------------------------------------------------------- JSON

def test_json_stock_list(staff):
    a, b = stocked(staff, 2)
    unknown = uniq("nope")
    doc = ok(staff.post(STOCK, [{"external_id": a["external_id"], "amount": 7},
                                {"external_id": unknown, "amount": 3},
                                {"external_id": b["external_id"], "amount": 0}]))
    assert doc == {"updated": 2, "unknown": [{"external_id": unknown}]}, doc
    assert stock_of(staff, a["id"]) == 7 and stock_of(staff, b["id"]) == 0


def test_json_stock_list_is_checked_whole(staff):
    a, = stocked(staff, 1)
    r = staff.post(STOCK, [{"external_id": a["external_id"], "amount": 9},
                           {"external_id": "x", "amount": -1},
                           {"external_id": "", "amount": 1},
                           {"amount": 1},
                           {"external_id": "y", "amount": "5"},
                           {"external_id": "z", "amount": 1, "price": 1}])
    doc = problem(r, 422, "validation_failed")
    assert sorted((e["field"], e["code"]) for e in doc["errors"]) == sorted([
        ("[1].amount", "too_small"), ("[2].external_id", "too_short"), ("[3].external_id", "required"),
        ("[4].amount", "wrong_type"), ("[5].price", "unknown_field")]), doc
    assert stock_of(staff, a["id"]) == 1
    problem(staff.post(STOCK, {"external_id": "x", "amount": 1}), 422)  # not a list
    assert ok(staff.post(STOCK, [])) == {"updated": 0, "unknown": []}


def test_imports_need_staff(staff, plain, anon):
    for path in (STOCK, WEIGHTS):
        problem(anon.post(path, []), 401)
        problem(plain.post(path, []), 403)
        problem(csv_upload(plain, path, "external_id;amount\nx;1\n"), 403)


# --------------------------------------------------------------------------- CSV

def test_csv_utf8_bom_crlf(staff):
    a, b = stocked(staff, 2)
    unknown = uniq("нет-такого")
    text = "external_id;amount\n%s;12\n%s;1\n%s;0\n" % (a["external_id"], unknown, b["external_id"])
    doc = ok(csv_upload(staff, STOCK, text, bom=True, crlf=True))
    assert doc == {"updated": 2, "unknown": [{"external_id": unknown, "line": 3}]}, doc
    assert stock_of(staff, a["id"]) == 12 and stock_of(staff, b["id"]) == 0


def test_csv_windows_1251(staff):
    a, b = stocked(staff, 2)   # the ids have Cyrillic letters
    unknown = uniq("Неизвестный")
    text = "Код;Остаток\n%s;5\n%s;6\n%s;7\n" % (a["external_id"], b["external_id"], unknown)
    doc = ok(csv_upload(staff, STOCK, text, encoding="cp1251", crlf=True))
    assert doc["updated"] == 2 and doc["unknown"] == [{"external_id": unknown, "line": 4}], doc
    assert stock_of(staff, a["id"]) == 5 and stock_of(staff, b["id"]) == 6


def test_csv_raw_body_lf_and_quotes(staff):
    a, b = stocked(staff, 2)
    text = 'external_id;amount\n"%s";"3"\n%s ; 4 \n\n' % (a["external_id"], b["external_id"])
    doc = ok(csv_upload(staff, STOCK, text, crlf=False, raw=True))
    assert doc == {"updated": 2, "unknown": []}, doc
    assert stock_of(staff, a["id"]) == 3 and stock_of(staff, b["id"]) == 4


def test_csv_1c_number_forms(staff):
    a, b, c = stocked(staff, 3)
    text = "external_id;amount\n%s;5,000\n%s;1 234\n%s;7.0\n" % (a["external_id"], b["external_id"],
                                                                 c["external_id"])
    ok(csv_upload(staff, STOCK, text))
    assert [stock_of(staff, v["id"]) for v in (a, b, c)] == [5, 1234, 7]


def test_csv_without_header(staff):
    a, = stocked(staff, 1)
    ok(csv_upload(staff, STOCK, "%s;8\n" % a["external_id"]))
    assert stock_of(staff, a["id"]) == 8


def test_csv_same_id_twice_last_wins(staff):
    a, = stocked(staff, 1)
    doc = ok(csv_upload(staff, STOCK, "external_id;amount\n%s;1\n%s;9\n" % (a["external_id"], a["external_id"])))
    assert doc["updated"] == 1 and stock_of(staff, a["id"]) == 9


def test_csv_broken_lines_change_nothing(staff):
    a, b = stocked(staff, 2)
    text = ("external_id;amount\n"
            "%s;50\n"        # 2 fine
            "%s\n"           # 3 no amount
            ";4\n"           # 4 no id
            "x;-2\n"         # 5 negative
            "y;2,5\n"        # 6 fractional
            "z;many\n"       # 7 not a number
            "%s;60\n"        # 8 fine
            "w;1;extra\n"    # 9 a field too many
            % (a["external_id"], b["external_id"], b["external_id"]))
    r = csv_upload(staff, STOCK, text)
    assert line_errors(r) == [(3, "invalid_format"), (4, "required"), (5, "too_small"), (6, "invalid_format"),
                              (7, "invalid_format"), (9, "invalid_format")], r
    assert stock_of(staff, a["id"]) == 1 and stock_of(staff, b["id"]) == 1


def test_csv_not_text(staff):
    r = csv_upload(staff, STOCK, "\x00\x01\x02;\x03", encoding="latin-1")
    problem(r, 422, "validation_failed")
    body, headers = multipart({"other": ("a.csv", b"x;1\n", "text/csv")})
    r = staff.post(STOCK, raw=body, headers=headers)
    assert sorted((e["field"], e["code"]) for e in problem(r, 422, "validation_failed")["errors"]) == [
        ("file", "required")]
    problem(staff.post(STOCK, raw=b"x;1", headers={"Content-Type": "application/pdf"}), 415)


def test_csv_50000_lines_in_one_transaction(staff):
    g = good(staff)
    tag = uniq("bulk")
    psql("INSERT INTO variations (good_id, name, price, amount, external_id) "
         "SELECT %d, 'bulk ' || i, 100, 1, '%s-' || i FROM generate_series(1, 50000) i" % (g["id"], tag))
    lines = ["external_id;amount"] + ["%s-%d;%d" % (tag, i, i % 97) for i in range(1, 50001)]
    lines.append("%s-missing;1" % tag)
    t0 = time.monotonic()
    doc = ok(csv_upload(staff, STOCK, "\n".join(lines) + "\n", encoding="cp1251"))
    took = time.monotonic() - t0
    assert doc["updated"] == 50000 and doc["unknown"] == [{"external_id": "%s-missing" % tag, "line": 50002}], doc
    assert took < 30, took
    assert psql("SELECT sum(amount) FROM variations WHERE external_id LIKE '%s-%%'" % tag) == str(
        sum(i % 97 for i in range(1, 50001)))
    # a broken last line: none of the 50 000 change
    lines[-1] = "%s-1;oops" % tag
    lines[1] = "%s-1;96" % tag
    r = csv_upload(staff, STOCK, "\n".join(lines) + "\n")
    assert line_errors(r) == [(50002, "invalid_format")]
    assert psql("SELECT amount FROM variations WHERE external_id = '%s-1'" % tag) == "1"


# --------------------------------------------------------------------------- weights

def test_weights_csv(staff):
    g1 = good(staff, external_id=uniq("Г"), weight=100)
    g2 = good(staff, external_id=uniq("Г"), weight=100)
    unknown = uniq("нет")
    text = "Код;Вес\n%s;350\n%s;1200\n%s;5\n" % (g1["external_id"], g2["external_id"], unknown)
    doc = ok(csv_upload(staff, WEIGHTS, text, encoding="cp1251"))
    assert doc == {"updated": 2, "unknown": [{"external_id": unknown, "line": 4}]}, doc
    assert ok(staff.get("%s/goods/%d" % (SHOP, g1["id"])))["weight"] == 350
    assert ok(staff.get("%s/goods/%d" % (SHOP, g2["id"])))["weight"] == 1200


def test_weights_broken_file_changes_nothing(staff):
    g = good(staff, external_id=uniq("Г"), weight=100)
    r = csv_upload(staff, WEIGHTS, "external_id;weight\n%s;300\nx;-1\n" % g["external_id"], bom=True)
    assert line_errors(r) == [(3, "too_small")]
    assert ok(staff.get("%s/goods/%d" % (SHOP, g["id"])))["weight"] == 100


def test_weights_json_list_and_error_cap(staff):
    g = good(staff, external_id=uniq("Г"), weight=100)
    unknown = uniq("нет")
    doc = ok(staff.post(WEIGHTS, [{"external_id": g["external_id"], "weight": 250}, {"external_id": unknown,
                                                                                      "weight": 1}]))
    assert doc == {"updated": 1, "unknown": [{"external_id": unknown}]}, doc
    assert ok(staff.get("%s/goods/%d" % (SHOP, g["id"])))["weight"] == 250
    problem(staff.post(WEIGHTS, [{"external_id": "x", "amount": 1}]), 422)  # weights take `weight`
    # a file broken on every line lists the first 1000 lines only, and changes nothing
    r = csv_upload(staff, WEIGHTS, "external_id;weight\n" + "x;bad\n" * 1500 + "%s;1\n" % g["external_id"])
    errors = line_errors(r)
    assert len(errors) == 1000 and errors[0] == (2, "invalid_format") and errors[-1] == (1001, "invalid_format")
    assert ok(staff.get("%s/goods/%d" % (SHOP, g["id"])))["weight"] == 250

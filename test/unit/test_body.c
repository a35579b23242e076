#include "hourglass/body.h"
#include "hourglass/problem.h"
#include "unit.h"

TEST(body_formats)
{
    CHECK(body_valid_email("a@b.co") && body_valid_email("first.last+tag@sub.example.org"));
    CHECK(!body_valid_email("plain") && !body_valid_email("@b.co") && !body_valid_email("a@b") &&
          !body_valid_email("a b@c.de") && !body_valid_email("a@@b.co") && !body_valid_email("a@.b.co"));
    CHECK(body_valid_date("2024-02-29") && !body_valid_date("2023-02-29") && !body_valid_date("2020-02-30") &&
          !body_valid_date("2020-13-01") && !body_valid_date("20-01-01") && !body_valid_date("2020-01-01T"));
    CHECK(body_valid_datetime("2026-11-22T17:04:05Z") && body_valid_datetime("2026-11-22T17:04:05.123+03:00") &&
          body_valid_datetime("2026-11-22t17:04:05z"));
    CHECK(!body_valid_datetime("2026-11-22T17:04:05") && !body_valid_datetime("2026-11-22T25:04:05Z") &&
          !body_valid_datetime("2026-11-22") && !body_valid_datetime("2026-11-22T17:04:05+3:00"));
    CHECK(body_utf8_length("Привет", strlen("Привет")) == 6);
    CHECK(body_utf8_length("\xff", 1) == SIZE_MAX);
}

static const char *const statuses[] = {"todo", "done", NULL};
static const body_field_t fields[] = {
    {"title", FIELD_STRING, FIELD_REQUIRED, 1, 5, NULL},
    {"priority", FIELD_INT, 0, 0, 3, NULL},
    {"status", FIELD_ENUM, 0, 0, 0, statuses},
    {"done", FIELD_BOOL, 0, 0, 0, NULL},
    {"color", FIELD_COLOR, 0, 0, 0, NULL},
    {"list_id", FIELD_ID, 0, 0, 0, NULL},
};

/* Runs the checks on a JSON text; returns the errors as JSON text. */
static const char *check(http_request_t *req, const char *json, body_mode_t mode, body_value_t *v)
{
    json_error_t e;
    json_t *obj = json_loads(json, 0, &e);
    field_errors_t errs;
    field_errors_init(&errs, req);
    body_check_object(req, obj, fields, 6, mode, v, &errs);
    json_decref(obj);
    abuf_puts(&errs.json, "]");
    return errs.json.data;
}

TEST(body_checks_fields)
{
    http_request_t req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena, NULL, 0);
    body_value_t v[6];
    CHECK_STR(check(&req, "{\"title\":\"Тест\",\"priority\":3,\"status\":\"done\",\"done\":true,\"color\":\"#a0B1c2\",\"list_id\":9}",
                    BODY_CREATE, v), "[]");
    CHECK_STR(v[0].text, "Тест");
    CHECK_STR(v[1].text, "3");
    CHECK_STR(v[3].text, "true");
    CHECK(v[5].present && !strcmp(v[5].text, "9"));
    const char *errs = check(&req, "{\"priority\":4,\"status\":\"nope\",\"done\":1,\"color\":\"red\",\"list_id\":0,\"x\":1}",
                             BODY_CREATE, v);
    CHECK(strstr(errs, "\"field\":\"priority\",\"code\":\"too_large\""));
    CHECK(strstr(errs, "\"field\":\"status\",\"code\":\"invalid_choice\""));
    CHECK(strstr(errs, "\"field\":\"done\",\"code\":\"wrong_type\""));
    CHECK(strstr(errs, "\"field\":\"color\",\"code\":\"invalid_format\""));
    CHECK(strstr(errs, "\"field\":\"list_id\",\"code\":\"not_found\""));
    CHECK(strstr(errs, "\"field\":\"x\",\"code\":\"unknown_field\""));
    CHECK(strstr(errs, "\"field\":\"title\",\"code\":\"required\""));
    CHECK(strstr(check(&req, "{\"title\":\"\"}", BODY_CREATE, v), "too_short"));
    CHECK(strstr(check(&req, "{\"title\":\"toolong\"}", BODY_CREATE, v), "too_long"));
    CHECK(strstr(check(&req, "{\"title\":null}", BODY_PATCH, v), "\"required\""));
    CHECK_STR(check(&req, "{}", BODY_PATCH, v), "[]");
    CHECK(!v[0].present);
    CHECK_STR(check(&req, "{\"color\":null}", BODY_PATCH, v), "[]");
    CHECK(v[4].present && v[4].is_null && !v[4].text);
    arena_reset(&req.arena);
}

TEST(body_times_compare_across_offsets)
{
    CHECK(body_time_cmp("2026-03-01", "2026-03-02") < 0 && body_time_cmp("2026-03-02", "2026-03-02") == 0);
    CHECK(body_time_cmp("2026-03-01T10:00:00+03:00", "2026-03-01T07:00:00Z") == 0);
    CHECK(body_time_cmp("2026-03-01T10:00:00+03:00", "2026-03-01T07:00:01Z") < 0);
    CHECK(body_time_cmp("2026-03-01T00:30:00-01:00", "2026-03-01T01:00:00Z") > 0);
    CHECK(body_time_cmp("2026-02-28T23:00:00-02:00", "2026-03-01T00:59:59Z") > 0); /* across a month */
    CHECK(body_time_cmp("2024-02-29T12:00:00Z", "2024-03-01T12:00:00Z") < 0);     /* a leap day */
    CHECK(body_time_cmp("2026-03-01T07:00:00.5Z", "2026-03-01T07:00:00.50Z") == 0);
    CHECK(body_time_cmp("2026-03-01T07:00:00Z", "2026-03-01T07:00:00.001Z") < 0);
    CHECK(body_time_cmp("1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z") < 0);
}

/* fuzz_json_body: with no error gathered, the detail text was whatever bytes the
 * arena held (read past the buffer, or into the answer, when rendered). */
TEST(body_field_errors_start_as_empty_texts)
{
    char first[4096];
    memset(first, 'M', sizeof(first));
    http_request_t req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena, first, sizeof(first));
    field_errors_t e;
    field_errors_init(&e, &req);
    CHECK(e.count == 0);
    CHECK_STR(e.detail.data, "");
    abuf_puts(&e.json, "]");
    CHECK_STR(e.json.data, "[]");
    size_t len;
    char *text = problem_render(&req.arena, 422, "validation_failed", e.detail.data, e.json.data, &len);
    CHECK(strstr(text, "\"detail\":\"\",\"errors\":[]}") != NULL);
    arena_reset(&req.arena);
}

/* Query values of ids, integers and booleans: a value that is none is
 * invalid_format; bounds as in a body; absent or empty is no filter. */
TEST(body_query_params_are_checked)
{
    http_request_t req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena, NULL, 0);
    static const body_field_t id = {"id", FIELD_ID, 0, 0, 0, NULL};
    static const body_field_t money = {"price", FIELD_BIGINT, 0, 0, INT64_MAX, NULL};
    static const body_field_t flag = {"flag", FIELD_BOOL, 0, 0, 0, NULL};
    req.query = "id=abc&price=-1&flag=maybe&empty=";
    field_errors_t e;
    field_errors_init(&e, &req);
    CHECK(!body_query_param(&req, &id, &e) && !body_query_param(&req, &money, &e) &&
          !body_query_param(&req, &flag, &e));
    abuf_puts(&e.json, "]");
    CHECK(e.count == 3);
    CHECK(strstr(e.json.data, "\"field\":\"id\",\"code\":\"invalid_format\""));
    CHECK(strstr(e.json.data, "\"field\":\"price\",\"code\":\"too_small\""));
    CHECK(strstr(e.json.data, "\"field\":\"flag\",\"code\":\"invalid_format\""));
    req.query = "id=42&price=9223372036854775807&flag=false";
    field_errors_init(&e, &req);
    CHECK_STR(body_query_param(&req, &id, &e), "42");
    CHECK_STR(body_query_param(&req, &money, &e), "9223372036854775807");
    CHECK_STR(body_query_param(&req, &flag, &e), "false");
    req.query = "price=9223372036854775808&flag=";
    CHECK(!body_query_param(&req, &money, &e) && !body_query_param(&req, &flag, &e) && e.count == 1);
    abuf_puts(&e.json, "]");
    CHECK(strstr(e.json.data, "\"field\":\"price\",\"code\":\"too_large\""));
    /* a line of an uploaded file */
    field_errors_init(&e, &req);
    field_errors_add_line(&e, "file", 7, "required");
    abuf_puts(&e.json, "]");
    CHECK(strstr(e.json.data, "{\"field\":\"file\",\"line\":7,\"code\":\"required\",\"message\":"));
    arena_reset(&req.arena);
}

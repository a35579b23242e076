#include <jansson.h>

#include "hourglass/embed.h"
#include "hourglass/problem.h"
#include "unit.h"

TEST(problem_renders_json)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    size_t len;
    char *body = problem_render(&a, 404, "not_found", NULL, NULL, &len);
    json_error_t e;
    json_t *doc = json_loadb(body, len, 0, &e);
    CHECK(doc);
    CHECK_STR(json_string_value(json_object_get(doc, "type")), "about:blank");
    CHECK_STR(json_string_value(json_object_get(doc, "title")), "Not Found");
    CHECK(json_integer_value(json_object_get(doc, "status")) == 404);
    CHECK_STR(json_string_value(json_object_get(doc, "code")), "not_found");
    CHECK_STR(json_string_value(json_object_get(doc, "detail")), problem_detail("not_found", LANG_EN));
    CHECK(!json_object_get(doc, "errors"));
    json_decref(doc);
    body = problem_render(&a, 422, "validation_failed", "password: must contain a digit",
                         "[{\"field\":\"password\",\"code\":\"no_digit\",\"message\":\"must contain a digit\"}]", &len);
    doc = json_loadb(body, len, 0, &e);
    CHECK(doc && json_array_size(json_object_get(doc, "errors")) == 1);
    CHECK_STR(json_string_value(json_object_get(doc, "title")), "Unprocessable Content");
    json_decref(doc);
    arena_reset(&a);
}

TEST(problem_escapes_detail)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    size_t len;
    char *body = problem_render(&a, 400, "x", "quote \" backslash \\ newline \n tab \t ctl \x01", NULL, &len);
    json_error_t e;
    json_t *doc = json_loadb(body, len, 0, &e);
    CHECK(doc);
    CHECK_STR(json_string_value(json_object_get(doc, "detail")), "quote \" backslash \\ newline \n tab \t ctl \x01");
    json_decref(doc);
    arena_reset(&a);
}

static http_lang_t lang(const char *v) { return http_lang_from_accept(v, strlen(v)); }

TEST(problem_language_from_accept_language)
{
    CHECK(lang("ru") == LANG_RU);
    CHECK(lang("ru-RU,ru;q=0.9,en;q=0.8") == LANG_RU);
    CHECK(lang("en;q=0.5, ru") == LANG_RU);
    CHECK(lang("en-US,en;q=0.9,ru;q=0.8") == LANG_EN);
    CHECK(lang("de, ru;q=0.9") == LANG_EN);
    CHECK(lang("ru;q=0, en") == LANG_EN);
    CHECK(lang("") == LANG_EN);
    CHECK(lang("rus") == LANG_EN);
    CHECK(lang("*") == LANG_EN);
    CHECK(lang("RU") == LANG_RU);
}

TEST(problem_catalogue_has_both_languages)
{
    static const char *const codes[] = {"malformed_request", "not_found", "method_not_allowed", "request_timeout",
                                        "payload_too_large", "uri_too_long", "headers_too_large", "internal_error",
                                        "database_unavailable", "overloaded", "timeout"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *en = problem_detail(codes[i], LANG_EN);
        const char *ru = problem_detail(codes[i], LANG_RU);
        CHECK(en && ru && strcmp(en, ru));
        CHECK((unsigned char)ru[0] >= 0xd0); /* Cyrillic in UTF-8 */
    }
    CHECK(problem_detail("no_such_code", LANG_EN) == NULL);
    CHECK_STR(http_status_reason(431), "Request Header Fields Too Large");
}

/* docs/problems.json: every code and field code has both texts, every reason is a
 * status, and a status it does not name still gets its class's words. */
TEST(problem_texts_are_complete)
{
    json_t *texts = json_loadb(problem_texts[0].data, problem_texts[0].len, JSON_REJECT_DUPLICATES, NULL);
    CHECK(json_is_object(texts) && json_object_size(texts) == 3);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(texts, "details"), key, v) {
        CHECK(json_object_size(v) == 2 && json_string_length(json_object_get(v, "en")) > 0);
        CHECK(json_string_length(json_object_get(v, "ru")) > 0);
        CHECK_STR(problem_detail(key, LANG_RU), json_string_value(json_object_get(v, "ru")));
    }
    json_object_foreach(json_object_get(texts, "fields"), key, v) {
        CHECK(json_object_size(v) == 2 && json_string_length(json_object_get(v, "ru")) > 0);
        CHECK_STR(problem_field_message(key, LANG_EN), json_string_value(json_object_get(v, "en")));
    }
    CHECK(json_object_size(json_object_get(texts, "fields")) >= 19);
    CHECK_STR(problem_field_message("no_such_code", LANG_RU), "no_such_code");
    json_object_foreach(json_object_get(texts, "reasons"), key, v) {
        CHECK(strlen(key) == 3 && atoi(key) >= 100 && atoi(key) <= 599);
        CHECK_STR(http_status_reason(atoi(key)), json_string_value(v));
    }
    CHECK(json_object_size(json_object_get(texts, "details")) >= 40);
    CHECK_STR(http_status_reason(418), "Client Error");
    CHECK_STR(http_status_reason(599), "Server Error");
    json_decref(texts);
}

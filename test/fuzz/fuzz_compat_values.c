/* Seed 000's value translation (api_compat_values.c) in both directions:
 * ids, integers, the to-do list's boolean, times, Gantt days, colours, and
 * whole objects through a shape of every kind. The input is a JSON value as
 * the seed's body would hold it (any JSON; or, when it is none, the bytes as
 * one string), and it is also read as a path segment and as a problem
 * document. Each translation gives a value, and what it promises holds: an
 * id read is the digits' number and is written back as them, a time given
 * a zone is a valid RFC 3339 one, a day is a valid date or the input as it
 * was, a colour class comes back as itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/body.h"
#include "hourglass/compat.h"

#define DIGITS_MAX 18

static const compat_name_t every_kind[] = {
    {"t", "text", COMPAT_TEXT, COMPAT_BOTH},   {"n", "int", COMPAT_INT, COMPAT_BOTH},
    {"i", "id", COMPAT_ID, COMPAT_BOTH},       {"c", "status", COMPAT_CHECKED, COMPAT_BOTH},
    {"s", "start", COMPAT_TIME, COMPAT_BOTH},  {"d", "day", COMPAT_DAY, COMPAT_BOTH},
    {"k", "color", COMPAT_COLOR, COMPAT_BOTH}, {"o", "out_only", COMPAT_ID, COMPAT_OUT},
};
static const compat_shape_t shape = {every_kind, sizeof(every_kind) / sizeof(every_kind[0])};

static int is_digits(const char *s)
{
    size_t n = strlen(s);
    return n && n <= DIGITS_MAX && strspn(s, "0123456789") == n;
}

static void check_in(compat_kind_t kind, json_t *v)
{
    json_t *in = compat_value_in(kind, v);
    if (!in)
        abort();
    const char *s = json_string_value(v), *t = json_string_value(in);
    switch (kind) {
    case COMPAT_INT:
    case COMPAT_ID:
        if (json_is_integer(in) && json_is_string(v)) {
            if (!is_digits(s) || strtoll(s, NULL, 10) != json_integer_value(in))
                abort();
            json_t *back = compat_value_out(COMPAT_ID, in);
            if (strtoll(json_string_value(back), NULL, 10) != json_integer_value(in))
                abort();
            json_decref(back);
        } else if (!json_equal(in, v)) {
            abort();
        }
        break;
    case COMPAT_CHECKED:
        if (json_is_boolean(v)) {
            json_t *back = compat_value_out(COMPAT_CHECKED, in);
            if (!json_equal(back, v))
                abort();
            json_decref(back);
        } else if (!json_equal(in, v)) {
            abort();
        }
        break;
    case COMPAT_TIME:
        if (s && strcmp(s, t)) { /* mended: the same time, given the zone UTC */
            if (strlen(t) != strlen(s) + 1 || strncmp(s, t, strlen(s)) || !body_valid_datetime(t))
                abort();
            json_t *back = compat_value_out(COMPAT_TIME, in);
            if (strcmp(json_string_value(back), s))
                abort();
            json_decref(back);
        }
        break;
    case COMPAT_DAY:
        if (s && strcmp(s, t) && !body_valid_date(t))
            abort();
        break;
    case COMPAT_COLOR:
        if (s && strcmp(s, t)) {
            json_t *back = compat_value_out(COMPAT_COLOR, in);
            if (strcmp(json_string_value(back), s))
                abort();
            json_decref(back);
        }
        break;
    case COMPAT_TEXT:
        if (in != v)
            abort();
        break;
    }
    json_decref(in);
}

static void check_out(compat_kind_t kind, json_t *v)
{
    json_t *out = compat_value_out(kind, v);
    if (!out)
        abort();
    if ((kind == COMPAT_TEXT || kind == COMPAT_COLOR) && (!v || json_is_null(v)) && strcmp(json_string_value(out), ""))
        abort();
    if (kind == COMPAT_CHECKED && !json_is_boolean(out))
        abort();
    if (kind == COMPAT_ID && json_is_integer(v) && !json_is_string(out))
        abort();
    json_decref(out);
}

static void check_objects(json_t *v)
{
    json_t *v1 = compat_shape_in(&shape, v), *seed = compat_shape_out(&shape, v);
    if (!json_is_object(v1) || json_object_get(v1, "out_only") || json_object_size(seed) != shape.count)
        abort();
    json_t *again = compat_shape_out(&shape, v1);
    if (json_object_size(again) != shape.count)
        abort();
    json_decref(again);
    json_decref(v1);
    json_decref(seed);
    arena_t a;
    arena_init(&a, NULL, 0);
    if (!compat_validation_text(&a, &shape, v) || !compat_problem_code(v))
        abort();
    compat_has_error(v, "title", NULL);
    arena_reset(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_stringn((const char *)data, size); /* NULL when not UTF-8: a body could not hold it */
    if (v) {
        for (compat_kind_t k = COMPAT_TEXT; k <= COMPAT_COLOR; k++) {
            check_in(k, v);
            check_out(k, v);
        }
        json_t *obj = json_is_object(v) ? json_incref(v) : json_pack("{s:O, s:O, s:O, s:O}", "t", v, "i", v, "s", v, "d", v);
        check_objects(obj);
        json_decref(obj);
        json_decref(v);
    }
    check_out(COMPAT_TEXT, NULL);

    arena_t a;
    arena_init(&a, NULL, 0);
    const char *segment = arena_strndup(&a, (const char *)data, size); /* stops at a NUL, as the path would */
    const char *decoded = compat_path_segment(&a, segment);
    if (decoded && strlen(decoded) > strlen(segment))
        abort();
    arena_reset(&a);
    return 0;
}

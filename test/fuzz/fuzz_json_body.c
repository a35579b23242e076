/* Request bodies through body_read(): the first byte picks the Content-Type,
 * the mode and the language, the rest is the body. Against a field list like
 * the planning resources' (strings, ints, enums, ids, dates, date-times), a
 * body is either refused or every value handed back obeys its field, and the
 * 422 problem made of the errors is valid JSON naming each of them. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hourglass/body.h"
#include "hourglass/problem.h"

static const char *const statuses[] = {"todo", "in_progress", "done", NULL};
static const body_field_t fields[] = {
    {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"description", FIELD_STRING, 0, 0, 10000, NULL},
    {"status", FIELD_ENUM, 0, 0, 0, statuses},
    {"priority", FIELD_INT, 0, 0, 3, NULL},
    {"position", FIELD_INT, 0, -1000000000LL, 1000000000LL, NULL},
    {"due_date", FIELD_DATE, 0, 0, 0, NULL},
    {"start", FIELD_DATETIME, 0, 0, 0, NULL},
    {"end", FIELD_DATETIME, 0, 0, 0, NULL},
    {"list_id", FIELD_ID, 0, 0, 0, NULL},
    {"done", FIELD_BOOL, 0, 0, 0, NULL},
    {"color", FIELD_COLOR, 0, 0, 0, NULL},
    {"email", FIELD_EMAIL, 0, 0, 0, NULL},
    {"password", FIELD_PASSWORD, 0, 0, 128, NULL},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const types[] = {
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    NULL,
};

static void check_value(const body_field_t *f, const body_value_t *v)
{
    if (!v->present) {
        if (v->is_null || v->text)
            abort();
        return;
    }
    if (v->is_null) {
        if (v->text || (f->flags & FIELD_REQUIRED))
            abort();
        return;
    }
    const char *s = v->text;
    if (!s)
        abort();
    size_t len = strlen(s);
    switch (f->type) {
    case FIELD_INT:
    case FIELD_ID: {
        char *end;
        long long n = strtoll(s, &end, 10);
        if (*end || (f->type == FIELD_ID && n < 1) || ((f->min || f->max) && (n < f->min || n > f->max)))
            abort();
        break;
    }
    case FIELD_BOOL:
        if (strcmp(s, "true") && strcmp(s, "false"))
            abort();
        break;
    case FIELD_DATE:
        if (!body_valid_date(s))
            abort();
        break;
    case FIELD_DATETIME:
        if (!body_valid_datetime(s) || body_time_cmp(s, s) != 0)
            abort();
        break;
    case FIELD_EMAIL:
        if (!body_valid_email(s))
            abort();
        break;
    case FIELD_ENUM: {
        int found = 0;
        for (int i = 0; f->choices[i]; i++)
            found |= !strcmp(f->choices[i], s);
        if (!found)
            abort();
        break;
    }
    default: {
        size_t chars = body_utf8_length(s, len);
        if (chars == SIZE_MAX || (f->min && chars < (size_t)f->min) || (f->max && chars > (size_t)f->max))
            abort();
        break;
    }
    }
}

static int sign(int c) { return (c > 0) - (c < 0); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    http_request_t req;
    memset(&req, 0, sizeof(req)); /* state REQ_PARSING: the 400s and 415s are not written */
    arena_init(&req.arena, NULL, 0);
    req.lang = (sel & 8) ? LANG_RU : LANG_EN;
    const char *ct = types[(sel >> 1) & 3];
    http_header_t h = {"content-type", 12, ct, ct ? strlen(ct) : 0};
    if (ct) {
        req.headers = &h;
        req.header_count = 1;
    }
    abuf_init(&req.body, &req.arena, size);
    abuf_append(&req.body, data + 1, size - 1);
    req.body.len = size - 1;

    body_value_t v[NFIELDS];
    field_errors_t e;
    body_mode_t mode = (sel & 1) ? BODY_PATCH : BODY_CREATE;
    if (body_read(&req, fields, NFIELDS, mode, 1, v, &e) == 0) {
        if (e.count == 0) {
            for (size_t i = 0; i < NFIELDS; i++)
                check_value(&fields[i], &v[i]);
            if (mode == BODY_CREATE && !v[0].present)
                abort();
            /* two valid times order the same way either way round */
            if (v[6].text && v[7].text && sign(body_time_cmp(v[6].text, v[7].text)) != -sign(body_time_cmp(v[7].text, v[6].text)))
                abort();
        }
        abuf_puts(&e.json, "]");
        size_t len;
        char *text = problem_render(&req.arena, 422, "validation_failed", e.detail.data, e.json.data, &len);
        json_t *doc = json_loadb(text, len, 0, NULL);
        json_t *errs = json_object_get(doc, "errors");
        if (!doc || !json_is_array(errs) || json_array_size(errs) != (size_t)e.count)
            abort();
        json_decref(doc);
    }
    arena_reset(&req.arena);
    return 0;
}

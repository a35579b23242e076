/* Checking request bodies against declared fields (API.md's field codes). */
#include "hourglass/body.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hourglass/forms.h"
#include "hourglass/json_text.h"
#include "hourglass/problem.h"

void field_errors_init(field_errors_t *e, http_request_t *req)
{
    *e = (field_errors_t){.lang = req->lang};
    abuf_init(&e->json, &req->arena, 256);
    abuf_init(&e->detail, &req->arena, 128); /* "" with no error in it: abuf_init ends it with a NUL */
    abuf_puts(&e->json, "[");
}

void field_errors_add(field_errors_t *e, const char *field, const char *code) { field_errors_add_line(e, field, 0, code); }

void field_errors_add_line(field_errors_t *e, const char *field, long line, const char *code)
{
    const char *message = problem_field_message(code, e->lang);
    if (e->count++) {
        abuf_puts(&e->json, ",");
        abuf_puts(&e->detail, "; ");
    }
    if (e->prefix)
        field = arena_printf(e->json.arena, "%s%s", e->prefix, field);
    abuf_puts(&e->json, "{\"field\":");
    abuf_json_string(&e->json, field, strlen(field));
    if (line)
        abuf_printf(&e->json, ",\"line\":%ld", line);
    abuf_puts(&e->json, ",\"code\":");
    abuf_json_string(&e->json, code, strlen(code));
    abuf_puts(&e->json, ",\"message\":");
    abuf_json_string(&e->json, message, strlen(message));
    abuf_puts(&e->json, "}");
    if (line)
        abuf_printf(&e->detail, "%s, line %ld: %s", field, line, message);
    else
        abuf_printf(&e->detail, "%s: %s", field, message);
}

#define PAGE_DEFAULT_LIMIT 50
#define PAGE_MAX_LIMIT 200

void body_page_params(http_request_t *req, field_errors_t *e, long long *limit, long long *after)
{
    *limit = PAGE_DEFAULT_LIMIT;
    *after = 0;
    const char *text = http_query_get(req, "limit");
    if (text) {
        char *end;
        errno = 0;
        *limit = strtoll(text, &end, 10);
        if (!*text || *end || errno)
            field_errors_add(e, "limit", "wrong_type");
        else if (*limit < 1)
            field_errors_add(e, "limit", "too_small");
        else if (*limit > (req->reprocess_count ? PAGE_INTERNAL_MAX_LIMIT : PAGE_MAX_LIMIT))
            field_errors_add(e, "limit", "too_large");
    }
    /* The cursor is the last id of the page before, which clients treat as opaque. */
    const char *cursor = http_query_get(req, "cursor");
    if (cursor && *cursor && !(*after = http_parse_id(cursor)))
        field_errors_add(e, "cursor", "invalid_format");
}

size_t body_utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > bytes)
            return SIZE_MAX;
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)s[i + k] >> 6) != 2)
                return SIZE_MAX;
        i += len;
        n++;
    }
    return n;
}

int body_valid_email(const char *s)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len < 3 || len > BODY_EMAIL_MAX_CHARS || !at || at == s || strchr(at + 1, '@'))
        return 0;
    const char *domain = at + 1;
    const char *dot = strrchr(domain, '.');
    if (!*domain || !dot || dot == domain || !dot[1] || domain[0] == '.' || strstr(domain, ".."))
        return 0;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || strchr("<>(),;\\\"", *c))
            return 0;
    return 1;
}

/* Are the first n characters of s digits? */
static int digits(const char *s, int n) { return strspn(s, "0123456789") >= (size_t)n; }

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int valid_ymd(const char *s)
{
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return 0;
    int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

int body_valid_date(const char *s) { return strlen(s) == 10 && valid_ymd(s); }

/* RFC 3339: 2026-11-22T17:04:05[.fraction](Z|+hh:mm|-hh:mm); 't' and 'z' too. */
int body_valid_datetime(const char *s)
{
    size_t len = strlen(s);
    if (len < 20 || !valid_ymd(s) || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        return 0;
    const char *t = s + 11;
    if (!digits(t, 2) || t[2] != ':' || !digits(t + 3, 2) || t[5] != ':' || !digits(t + 6, 2))
        return 0;
    if (num(t, 2) > 23 || num(t + 3, 2) > 59 || num(t + 6, 2) > 60)
        return 0;
    const char *z = t + 8;
    if (*z == '.') {
        z++;
        if (!isdigit((unsigned char)*z))
            return 0;
        while (isdigit((unsigned char)*z))
            z++;
    }
    if ((*z == 'Z' || *z == 'z') && !z[1])
        return 1;
    if ((*z == '+' || *z == '-') && digits(z + 1, 2) && z[3] == ':' && digits(z + 4, 2) && !z[6])
        return num(z + 1, 2) <= 23 && num(z + 4, 2) <= 59;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static long long days_from_civil(long long y, long long m, long long d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

long long body_date_days(const char *date) { return days_from_civil(num(date, 4), num(date + 5, 2), num(date + 8, 2)); }

/* UTC seconds of a valid RFC 3339 time; frac gets its fraction's digits. */
static long long datetime_seconds(const char *s, const char **frac, size_t *frac_len)
{
    long long secs = body_date_days(s) * 86400 + num(s + 11, 2) * 3600 +
                     num(s + 14, 2) * 60 + num(s + 17, 2);
    const char *z = s + 19;
    *frac = z;
    *frac_len = 0;
    if (*z == '.') {
        *frac = ++z;
        while (isdigit((unsigned char)*z))
            z++;
        *frac_len = (size_t)(z - *frac);
    }
    if (*z == '+' || *z == '-') {
        long long off = num(z + 1, 2) * 3600 + num(z + 4, 2) * 60;
        secs += *z == '+' ? -off : off;
    }
    return secs;
}

int body_time_cmp(const char *a, const char *b)
{
    if (strlen(a) == 10 && strlen(b) == 10) /* dates: their text sorts as they do */
        return strcmp(a, b);
    const char *fa, *fb;
    size_t la, lb;
    long long sa = datetime_seconds(a, &fa, &la), sb = datetime_seconds(b, &fb, &lb);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    for (size_t i = 0; i < la || i < lb; i++) { /* fractions: a missing digit is 0 */
        char ca = i < la ? fa[i] : '0', cb = i < lb ? fb[i] : '0';
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return 0;
}

static int valid_color(const char *s)
{
    return strlen(s) == 7 && s[0] == '#' && strspn(s + 1, "0123456789abcdefABCDEF") == 6;
}

/* The code of the rule a text value breaks for field f, or NULL. */
static const char *text_error(const body_field_t *f, const char *s, size_t bytes)
{
    size_t chars = body_utf8_length(s, bytes);
    if (memchr(s, '\0', bytes) || chars == SIZE_MAX)
        return "invalid_format";
    switch (f->type) {
    case FIELD_STRING:
    case FIELD_PASSWORD:
        if (f->min && chars < (size_t)f->min)
            return "too_short";
        if (f->max && chars > (size_t)f->max)
            return "too_long";
        return NULL;
    case FIELD_EMAIL:
        return body_valid_email(s) ? NULL : "invalid_format";
    case FIELD_DATE:
        return body_valid_date(s) ? NULL : "invalid_format";
    case FIELD_DATETIME:
        return body_valid_datetime(s) ? NULL : "invalid_format";
    case FIELD_COLOR:
        return valid_color(s) ? NULL : "invalid_format";
    case FIELD_ENUM:
        for (int i = 0; f->choices && f->choices[i]; i++)
            if (!strcmp(f->choices[i], s))
                return NULL;
        return "invalid_choice";
    default:
        return NULL;
    }
}

/* A query value for an integer field: an optional '-' and digits, within the
 * field's bounds (0, 0: those of a 64-bit integer). */
static const char *query_int_error(const body_field_t *f, const char *v)
{
    const char *d = v[0] == '-' ? v + 1 : v;
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return "invalid_format";
    errno = 0;
    long long n = strtoll(v, NULL, 10);
    if (errno == ERANGE)
        return v[0] == '-' ? "too_small" : "too_large";
    if ((f->min || f->max) && n < f->min)
        return "too_small";
    if (f->max && n > f->max)
        return "too_large";
    return NULL;
}

const char *body_text_param(const body_field_t *f, const char *v, field_errors_t *e)
{
    const char *err;
    if (f->type == FIELD_ID)
        err = http_parse_id(v) ? NULL : "invalid_format";
    else if (f->type == FIELD_INT || f->type == FIELD_BIGINT)
        err = query_int_error(f, v);
    else if (f->type == FIELD_BOOL)
        err = strcmp(v, "true") && strcmp(v, "false") ? "invalid_format" : NULL;
    else
        err = text_error(f, v, strlen(v));
    if (err) {
        field_errors_add(e, f->name, err);
        return NULL;
    }
    return v;
}

const char *body_query_param(http_request_t *req, const body_field_t *f, field_errors_t *e)
{
    const char *v = http_query_get(req, f->name);
    if (!v || !*v)
        return NULL;
    return body_text_param(f, v, e);
}

/* The code of the rule a non-null value breaks, or NULL after setting out->text. */
static const char *value_error(http_request_t *req, const body_field_t *f, json_t *v, body_value_t *out)
{
    switch (f->type) {
    case FIELD_INT:
    case FIELD_BIGINT:
    case FIELD_ID: {
        if (!json_is_integer(v))
            return "wrong_type";
        long long n = json_integer_value(v);
        long long min = f->type == FIELD_ID ? 1 : f->min, max = f->max;
        if ((min || max) && n < min)
            return f->type == FIELD_ID ? "not_found" : "too_small";
        if (max && n > max)
            return "too_large";
        out->text = arena_printf(&req->arena, "%lld", n);
        return NULL;
    }
    case FIELD_BOOL:
        if (!json_is_boolean(v))
            return "wrong_type";
        out->text = json_is_true(v) ? "true" : "false";
        return NULL;
    default:
        break;
    }
    if (!json_is_string(v))
        return "wrong_type";
    const char *err = text_error(f, json_string_value(v), json_string_length(v));
    if (!err)
        out->text = arena_strndup(&req->arena, json_string_value(v), json_string_length(v));
    return err;
}

/* One field: sets values->text or adds an error. */
static void check_value(http_request_t *req, const body_field_t *f, json_t *v, body_value_t *out, field_errors_t *e)
{
    out->present = 1;
    out->is_null = json_is_null(v);
    const char *err = out->is_null ? (f->flags & FIELD_REQUIRED ? "required" : NULL) : value_error(req, f, v, out);
    if (err)
        field_errors_add(e, f->name, err);
}

void body_check_object(http_request_t *req, json_t *obj, const body_field_t *fields, size_t count, body_mode_t mode,
                       body_value_t *values, field_errors_t *e)
{
    memset(values, 0, sizeof(*values) * count);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        size_t i = 0;
        while (i < count && strcmp(fields[i].name, key))
            i++;
        if (i == count)
            field_errors_add(e, key, "unknown_field");
        else
            check_value(req, &fields[i], v, &values[i], e);
    }
    if (mode == BODY_CREATE)
        for (size_t i = 0; i < count; i++)
            if ((fields[i].flags & FIELD_REQUIRED) && !values[i].present)
                field_errors_add(e, fields[i].name, "required");
}

/* Form fields become a JSON object of strings, checked like JSON. Files are
 * not fields here. */
static json_t *object_from_form(http_request_t *req, const char *ct, size_t ct_len, int multipart)
{
    form_field_t *ff = NULL;
    size_t n = 0;
    int rc = multipart ? multipart_parse(&req->arena, ct, ct_len, req->body.data, req->body.len, &ff, &n)
                       : form_urlencoded_parse(&req->arena, req->body.data ? req->body.data : "", req->body.len, &ff, &n);
    if (rc)
        return NULL;
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++) {
        if (ff[i].filename)
            continue;
        json_t *s = json_stringn(ff[i].value, ff[i].value_len);
        if (!s) { /* not UTF-8 */
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, ff[i].name, s);
    }
    return obj;
}

body_error_t body_json_object(http_request_t *req, json_t **out)
{
    *out = NULL;
    int json = http_content_type_is(req, "application/json");
    if (req->body.len == 0 && (json || !http_header_get(req, "content-type", NULL))) {
        *out = json_object(); /* an empty body is an empty object: PATCH with nothing to change */
        return BODY_OK;
    }
    if (!json)
        return BODY_UNSUPPORTED_TYPE;
    json_error_t jerr;
    json_t *obj = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(obj)) { /* not JSON (NULL), or not an object */
        json_decref(obj);
        return BODY_MALFORMED_JSON;
    }
    *out = obj;
    return BODY_OK;
}

body_error_t body_read(http_request_t *req, const body_field_t *fields, size_t count, body_mode_t mode,
                       int allow_forms, body_value_t *values, field_errors_t *e)
{
    field_errors_init(e, req);
    size_t ct_len = 0;
    const char *ct = http_header_get(req, "content-type", &ct_len);
    json_t *obj = NULL;
    int multipart = http_content_type_is(req, "multipart/form-data");
    if (!ct || http_content_type_is(req, "application/json")) {
        body_error_t rc = body_json_object(req, &obj);
        if (rc != BODY_OK)
            return rc;
    } else if (allow_forms && (multipart || http_content_type_is(req, "application/x-www-form-urlencoded"))) {
        obj = object_from_form(req, ct, ct_len, multipart);
        if (!obj)
            return BODY_MALFORMED_FORM;
    } else {
        return BODY_UNSUPPORTED_TYPE;
    }
    body_check_object(req, obj, fields, count, mode, values, e);
    json_decref(obj);
    return BODY_OK;
}

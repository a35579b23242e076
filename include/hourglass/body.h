#ifndef HOURGLASS_BODY_H
#define HOURGLASS_BODY_H
#include <jansson.h>
#include <stddef.h>

#include "hourglass/http.h"

/* Request bodies are checked in C against a declared field list and reach
 * SQL only as text parameters. */
typedef enum {
    FIELD_STRING,   /* min/max count code points */
    FIELD_EMAIL,
    FIELD_PASSWORD, /* a string; its policy is checked by the handler */
    FIELD_INT,      /* min/max bound the value */
    FIELD_BOOL,
    FIELD_DATE,     /* YYYY-MM-DD */
    FIELD_DATETIME, /* RFC 3339 with an offset */
    FIELD_ENUM,     /* one of choices */
    FIELD_COLOR,    /* #rrggbb */
    FIELD_ID,       /* positive 64-bit integer */
    FIELD_BIGINT,   /* as FIELD_INT, but stored as a signed 64-bit bigint (money, chat ids) */
} field_type_t;

#define FIELD_REQUIRED 1u /* must be present and not null on create / PUT */
/* The longest e-mail address (RFC 5321's path less its brackets): FIELD_EMAIL's bound. */
#define BODY_EMAIL_MAX_CHARS 254

typedef struct {
    const char *name;
    field_type_t type;
    unsigned flags;
    long long min, max; /* 0, 0: unbounded */
    const char *const *choices;
} body_field_t;

typedef struct {
    unsigned present : 1;
    unsigned is_null : 1;
    const char *text; /* the value as a SQL text parameter; NULL when null or absent */
} body_value_t;

typedef enum { BODY_CREATE, BODY_PATCH } body_mode_t;

/* Field errors, rendered as the `errors` array of a 422 problem. */
typedef struct {
    abuf_t json;
    abuf_t detail;
    int count;
    http_lang_t lang;
    const char *prefix; /* put before each field's name while set: "[3]." for an item of a list */
} field_errors_t;

void field_errors_init(field_errors_t *e, http_request_t *req);
void field_errors_add(field_errors_t *e, const char *field, const char *code);
/* The same with the line of an uploaded file it concerns (from 1): `"line": N`. */
void field_errors_add_line(field_errors_t *e, const char *field, long line, const char *code);

/* What stops a body before its fields are looked at. */
typedef enum {
    BODY_OK = 0,
    BODY_MALFORMED_JSON,   /* 400 malformed_json: not JSON, or not an object */
    BODY_MALFORMED_FORM,   /* 400 malformed_request */
    BODY_UNSUPPORTED_TYPE, /* 415 unsupported_media_type */
} body_error_t;

/* The JSON object of the body (an empty body is {}), for handlers whose
 * fields go beyond a flat list (arrays of objects); the caller frees it. */
body_error_t body_json_object(http_request_t *req, json_t **out);

/* Reads the body (JSON; or form fields when the content type is a form and
 * allow_forms is set) and checks it against fields: values are filled (one
 * per field, in order) and field errors gathered in e (initialised here), so
 * the handler can add its own checks and answer one 422 with all of them.
 * Answering is the caller's (bridge.h: api_body_parse, api_body_read). */
body_error_t body_read(http_request_t *req, const body_field_t *fields, size_t count, body_mode_t mode,
                       int allow_forms, body_value_t *values, field_errors_t *e);

/* ?limit= (1..200, default 50) and ?cursor= (the opaque keyset position) of a
 * list; a bad value adds an error on its parameter to e. A request handed on
 * by another route (http_request_reprocess: seed 000's whole lists) may ask
 * up to PAGE_INTERNAL_MAX_LIMIT: its query is ours, not a client's. */
#define PAGE_INTERNAL_MAX_LIMIT 10000
void body_page_params(http_request_t *req, field_errors_t *e, long long *limit, long long *after);

/* Query parameter f->name checked as field f would be in a body (FIELD_ID,
 * the integers, FIELD_BOOL as true|false, FIELD_DATE, FIELD_ENUM and the text
 * types; a value that is no id, number or bool is invalid_format): NULL when
 * absent or empty, or when broken, after adding the error to e. */
const char *body_query_param(http_request_t *req, const body_field_t *f, field_errors_t *e);
/* The same checks on a value already read (a text field of a form): v, or
 * NULL after adding the error to e. */
const char *body_text_param(const body_field_t *f, const char *v, field_errors_t *e);

/* The same checks on a JSON object already parsed; errors are added to e. */
void body_check_object(http_request_t *req, json_t *obj, const body_field_t *fields, size_t count, body_mode_t mode,
                       body_value_t *values, field_errors_t *e);

/* Format checks, exposed for unit tests. */
int body_valid_email(const char *s);
int body_valid_date(const char *s);
int body_valid_datetime(const char *s);
/* Days since 1970-01-01 of a valid date. */
long long body_date_days(const char *date);
/* Orders two valid dates, or two valid RFC 3339 times (any offsets): <0, 0, >0. */
int body_time_cmp(const char *a, const char *b);
size_t body_utf8_length(const char *s, size_t bytes); /* code points, or SIZE_MAX if not UTF-8 */

#endif

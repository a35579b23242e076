/* Seed 000's values and names beside /api/v1's: ids as strings, the to-do
 * list's boolean, naive UTC times, Gantt dates and the planner's colour
 * classes (docs/seed000.md §10), and the texts of /api/v1's field errors in
 * the seed's names. No request, no database: api_compat.c calls it on
 * bodies, test/fuzz/fuzz_compat_values.c on anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hourglass/api.h"
#include "hourglass/compat.h"

/* The longest digit string taken as a number: any 18 digits fit an int64. */
#define ID_MAX_DIGITS 18
/* Room for the longest RFC 3339 time worth mending (a fraction of nanoseconds and a zone). */
#define TIME_MAX_CHARS 40
#define COLOR_CLASS "color-"
#define COLOR_CLASS_LEN (sizeof(COLOR_CLASS) - 1)
#define SECONDS_PER_HOUR 3600L
#define SECONDS_PER_MINUTE 60L
#define TM_YEAR_BASE 1900 /* struct tm counts years from it */
#define TEXT_INITIAL 128
#define T_BAD_DATA "Ошибка в данных запроса"

/* calendar.js's itemColors of the seed, as #rrggbb: class color-N is the Nth. */
static const char *const agenda_colors[] = {"#d49df6", "#eaf36e", "#f58c7c", "#7dc9f8", "#f687c8", "#bdf687"};

static json_t *color_in(const char *s)
{
    size_t n = ARRAY_LEN(agenda_colors);
    if (!strncmp(s, COLOR_CLASS, COLOR_CLASS_LEN) && s[COLOR_CLASS_LEN] >= '1' &&
        s[COLOR_CLASS_LEN] <= (char)('0' + n) && !s[COLOR_CLASS_LEN + 1])
        return json_string(agenda_colors[s[COLOR_CLASS_LEN] - '1']);
    return json_string(s);
}

static json_t *color_out(const char *s)
{
    for (size_t i = 0; i < ARRAY_LEN(agenda_colors); i++)
        if (!strcasecmp(s, agenda_colors[i]))
            return json_sprintf(COLOR_CLASS "%zu", i + 1);
    return json_string(s);
}

/* An RFC 3339 time as /api/v1 takes it into out: as it is, or without a
 * zone, as UTC (the seed's own backend took naive times so). 0, or -1 when
 * it is no time even so. */
static int time_zoned(const char *s, char out[TIME_MAX_CHARS])
{
    size_t n = strlen(s);
    if (n + 2 > TIME_MAX_CHARS)
        return -1;
    memcpy(out, s, n + 1);
    if (body_valid_datetime(out))
        return 0;
    memcpy(out + n, "Z", 2);
    return body_valid_datetime(out) ? 0 : -1;
}

static json_t *time_in(const char *s)
{
    char zoned[TIME_MAX_CHARS];
    return json_string(time_zoned(s, zoned) ? s : zoned);
}

/* The UTC date of a time (the seed sends the UTC midnights of dates); what
 * is no time, or has no date of four-digit years in UTC, goes on as it is. */
static json_t *day_in(const char *s)
{
    char zoned[TIME_MAX_CHARS];
    int y, mo, d, h, mi, sec, n = 0;
    if (time_zoned(s, zoned) ||
        sscanf(zoned, "%4d-%2d-%2d%*c%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return json_string(s);
    const char *p = zoned + n;
    if (*p == '.')
        p += 1 + strspn(p + 1, "0123456789");
    long offset = 0;
    if (*p == '+' || *p == '-')
        offset = (*p == '+' ? 1 : -1) * (atoi(p + 1) * SECONDS_PER_HOUR + atoi(p + 4) * SECONDS_PER_MINUTE);
    struct tm tm = {.tm_year = y - TM_YEAR_BASE, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm) - offset;
    struct tm utc;
    char date[TIME_MAX_CHARS];
    if (!gmtime_r(&t, &utc) || !strftime(date, sizeof(date), "%Y-%m-%d", &utc) || !body_valid_date(date))
        return json_string(s);
    return json_string(date);
}

/* A string of digits as the number it writes; 0 when it is none. */
static int digits_value(const char *s, json_int_t *out)
{
    size_t n = strlen(s);
    if (!n || n > ID_MAX_DIGITS || strspn(s, "0123456789") != n)
        return 0;
    *out = (json_int_t)strtoll(s, NULL, 10);
    return 1;
}

json_t *compat_value_in(compat_kind_t kind, json_t *v)
{
    const char *s = json_string_value(v);
    json_int_t n;
    if ((kind == COMPAT_INT || kind == COMPAT_ID) && s && digits_value(s, &n))
        return json_integer(n);
    if (kind == COMPAT_CHECKED && json_is_boolean(v))
        return json_string(json_is_true(v) ? "done" : "todo");
    if (kind == COMPAT_TIME && s)
        return time_in(s);
    if (kind == COMPAT_DAY && s)
        return day_in(s);
    if (kind == COMPAT_COLOR && s)
        return color_in(s);
    return json_incref(v);
}

json_t *compat_value_out(compat_kind_t kind, json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = s ? strlen(s) : 0;
    if (kind == COMPAT_TEXT)
        return !v || json_is_null(v) ? json_string("") : json_incref(v);
    if (kind == COMPAT_ID && json_is_integer(v))
        return json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    if (kind == COMPAT_CHECKED)
        return json_boolean(s && !strcmp(s, "done"));
    if (kind == COMPAT_TIME && len > 1 && s[len - 1] == 'Z')
        return json_stringn(s, len - 1);
    if (kind == COMPAT_DAY && s && body_valid_date(s))
        return json_sprintf("%sT00:00:00", s);
    if (kind == COMPAT_COLOR)
        return s ? color_out(s) : json_string("");
    return v ? json_incref(v) : json_null();
}

json_t *compat_shape_in(const compat_shape_t *sh, json_t *seed)
{
    json_t *out = json_object();
    for (size_t i = 0; i < sh->count; i++) {
        const compat_name_t *n = &sh->names[i];
        json_t *v = json_object_get(seed, n->seed);
        if ((n->dir & COMPAT_IN) && v)
            json_object_set_new(out, n->v1, compat_value_in(n->kind, v));
    }
    return out;
}

json_t *compat_shape_out(const compat_shape_t *sh, json_t *v1)
{
    json_t *out = json_object();
    for (size_t i = 0; i < sh->count; i++) {
        const compat_name_t *n = &sh->names[i];
        if (n->dir & COMPAT_OUT)
            json_object_set_new(out, n->seed, compat_value_out(n->kind, json_object_get(v1, n->v1)));
    }
    return out;
}

/* The seed's name of an /api/v1 field (itself when sh has none). */
static const char *seed_name(const compat_shape_t *sh, const char *v1)
{
    for (size_t i = 0; sh && i < sh->count; i++)
        if (!strcmp(sh->names[i].v1, v1))
            return sh->names[i].seed;
    return v1;
}

const char *compat_problem_code(json_t *problem)
{
    const char *code = json_string_value(json_object_get(problem, "code"));
    return code ? code : "";
}

int compat_has_error(json_t *problem, const char *field, const char *code)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(problem, "errors"), i, e) {
        const char *f = json_string_value(json_object_get(e, "field"));
        const char *k = json_string_value(json_object_get(e, "code"));
        if ((!field || (f && !strcmp(f, field))) && (!code || (k && !strcmp(k, code))))
            return 1;
    }
    return 0;
}

const char *compat_validation_text(arena_t *a, const compat_shape_t *sh, json_t *problem)
{
    abuf_t b;
    abuf_init(&b, a, TEXT_INITIAL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(problem, "errors"), i, e) {
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (field && msg)
            abuf_printf(&b, "%s%s: %s", b.len ? "; " : "", seed_name(sh, field), msg);
    }
    if (b.len)
        return b.data;
    const char *d = json_string_value(json_object_get(problem, "detail"));
    return d ? d : T_BAD_DATA;
}

const char *compat_path_segment(arena_t *a, const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = arena_alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned hi, lo;
        if (s[i] != '%') {
            out[o++] = s[i];
        } else if (i + 2 < n && sscanf(s + i + 1, "%1x%1x", &hi, &lo) == 2) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            return NULL;
        }
    }
    out[o] = '\0';
    return memchr(out, '\0', o) ? NULL : out;
}

#include "hourglass/problem.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/embed.h"
#include "hourglass/json_text.h"

#define HTTP_STATUS_MAX 600

/* The reasons of the statuses we answer, and the texts people read by their
 * `code`, the stable word clients branch on: docs/problems.json, compiled in. */
static json_t *texts;
static const char *reasons[HTTP_STATUS_MAX]; /* "reasons" by status, taken once: every answer's status line */
static pthread_once_t texts_once = PTHREAD_ONCE_INIT;

static void load_texts(void)
{
    json_error_t e;
    texts = json_loadb(problem_texts[0].data, problem_texts[0].len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(texts)) {
        fprintf(stderr, "docs/problems.json:%d: %s\n", e.line, texts ? "not an object" : e.text);
        abort();
    }
    const char *key;
    json_t *reason;
    json_object_foreach(json_object_get(texts, "reasons"), key, reason) {
        int status = atoi(key);
        if (status <= 0 || status >= HTTP_STATUS_MAX || !json_is_string(reason)) {
            fprintf(stderr, "docs/problems.json: reasons: \"%s\" is not a status with its text\n", key);
            abort();
        }
        reasons[status] = json_string_value(reason);
    }
}

static json_t *texts_of(const char *kind)
{
    pthread_once(&texts_once, load_texts);
    return json_object_get(texts, kind);
}

const char *http_status_reason(int status)
{
    pthread_once(&texts_once, load_texts);
    const char *reason = status > 0 && status < HTTP_STATUS_MAX ? reasons[status] : NULL;
    return reason ? reason : status < 500 ? "Client Error" : "Server Error";
}

static const char *text_of(const char *kind, const char *code, http_lang_t lang)
{
    json_t *text = json_object_get(texts_of(kind), code), *ru = json_object_get(text, "ru");
    return json_string_value(lang == LANG_RU && ru ? ru : json_object_get(text, "en"));
}

const char *problem_detail(const char *code, http_lang_t lang) { return text_of("details", code, lang); }

const char *problem_field_message(const char *code, http_lang_t lang)
{
    const char *message = text_of("fields", code, lang);
    return message ? message : code;
}

/* Accept-Language: the tag with the highest q wins, the first one on a tie. */
http_lang_t http_lang_from_accept(const char *v, size_t len)
{
    http_lang_t best = LANG_EN;
    int best_q = -1;
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t tag = i;
        while (i < len && v[i] != ',' && v[i] != ';' && v[i] != ' ')
            i++;
        size_t tag_len = i - tag;
        int q = 1000;
        while (i < len && v[i] != ',') {
            if (v[i] == 'q' && i + 1 < len && v[i + 1] == '=') {
                i += 2;
                int whole = 0, frac = 0, digits = 0;
                if (i < len && isdigit((unsigned char)v[i]))
                    whole = v[i++] - '0';
                if (i < len && v[i] == '.') {
                    i++;
                    while (i < len && isdigit((unsigned char)v[i]) && digits < 3) {
                        frac = frac * 10 + (v[i++] - '0');
                        digits++;
                    }
                    while (digits++ < 3)
                        frac *= 10;
                }
                q = whole >= 1 ? 1000 : frac;
                continue;
            }
            i++;
        }
        if (tag_len && q > best_q && q > 0) {
            best_q = q;
            best = (tag_len >= 2 && tolower((unsigned char)v[tag]) == 'r' &&
                    tolower((unsigned char)v[tag + 1]) == 'u' && (tag_len == 2 || v[tag + 2] == '-'))
                       ? LANG_RU
                       : LANG_EN;
        }
    }
    return best;
}

char *problem_render(arena_t *a, int status, const char *code, const char *detail,
                     const char *errors_json, size_t *len)
{
    return problem_render_member(a, status, code, detail, "errors", errors_json, len);
}

char *problem_render_member(arena_t *a, int status, const char *code, const char *detail, const char *member,
                            const char *member_json, size_t *len)
{
    abuf_t b;
    abuf_init(&b, a, 256);
    const char *title = http_status_reason(status);
    abuf_puts(&b, "{\"type\":\"about:blank\",\"title\":");
    abuf_json_string(&b, title, strlen(title));
    abuf_printf(&b, ",\"status\":%d,\"code\":", status);
    abuf_json_string(&b, code, strlen(code));
    if (!detail)
        detail = problem_detail(code, LANG_EN);
    if (!detail)
        detail = title;
    abuf_puts(&b, ",\"detail\":");
    abuf_json_string(&b, detail, strlen(detail));
    if (member_json) {
        abuf_puts(&b, ",");
        abuf_json_string(&b, member, strlen(member));
        abuf_puts(&b, ":");
        abuf_puts(&b, member_json);
    }
    abuf_puts(&b, "}");
    *len = b.len;
    return b.data;
}

/* Form bodies: application/x-www-form-urlencoded and multipart/form-data. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "hourglass/forms.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *decode_component(arena_t *a, const char *s, size_t len, size_t *out_len)
{
    char *out = arena_alloc(a, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= len)
                return NULL;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

int form_urlencoded_parse(arena_t *a, const char *body, size_t len, form_field_t **out, size_t *count)
{
    form_field_t *fields = arena_calloc(a, sizeof(form_field_t) * FORM_MAX_FIELDS);
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && body[i] != '&')
            i++;
        size_t end = i++;
        if (end == start)
            continue;
        if (n == FORM_MAX_FIELDS)
            return -1;
        const char *eq = memchr(body + start, '=', end - start);
        size_t key_end = eq ? (size_t)(eq - body) : end;
        form_field_t *f = &fields[n];
        f->name = decode_component(a, body + start, key_end - start, &f->name_len);
        f->value = eq ? decode_component(a, eq + 1, end - key_end - 1, &f->value_len) : "";
        if (!f->name || !f->value)
            return -1;
        n++;
    }
    *out = fields;
    *count = n;
    return 0;
}

/* The value of parameter `name` in a header like `form-data; name="x"`. */
static const char *header_param(arena_t *a, const char *h, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < len) {
        while (i < len && h[i] != ';')
            i++;
        if (i >= len)
            return NULL;
        i++;
        while (i < len && h[i] == ' ')
            i++;
        if (i + nlen < len && !strncasecmp(h + i, name, nlen) && h[i + nlen] == '=') {
            i += nlen + 1;
            char *v = arena_alloc(a, len - i + 1);
            size_t n = 0;
            if (i < len && h[i] == '"') {
                i++;
                while (i < len && h[i] != '"') {
                    if (h[i] == '\\' && i + 1 < len)
                        i++;
                    v[n++] = h[i++];
                }
                if (i >= len)
                    return NULL; /* unterminated quote */
            } else {
                while (i < len && h[i] != ';' && h[i] != ' ')
                    v[n++] = h[i++];
            }
            v[n] = '\0';
            return v;
        }
    }
    return NULL;
}

static const char *find(const char *hay, size_t hay_len, const char *needle, size_t nlen)
{
    if (nlen > hay_len)
        return NULL;
    for (const char *p = hay; (p = memchr(p, needle[0], hay_len - (size_t)(p - hay) - nlen + 1));) {
        if (!memcmp(p, needle, nlen))
            return p;
        if ((size_t)(++p - hay) > hay_len - nlen)
            break;
    }
    return NULL;
}

int multipart_parse(arena_t *a, const char *content_type, size_t ct_len, const char *body, size_t len,
                    form_field_t **out, size_t *count)
{
    const char *boundary = header_param(a, content_type, ct_len, "boundary");
    if (!boundary || !*boundary || strlen(boundary) > 70)
        return -1;
    size_t blen = strlen(boundary);
    /* Each part is preceded by CRLF "--" boundary; the first CRLF is optional. */
    char *delim = arena_alloc(a, blen + 5);
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen + 1);
    size_t dlen = blen + 4;

    const char *p;
    if (len >= dlen - 2 && !memcmp(body, delim + 2, dlen - 2))
        p = body + dlen - 2;
    else if ((p = find(body, len, delim, dlen)))
        p += dlen;
    else
        return -1;
    const char *end = body + len;
    form_field_t *fields = arena_calloc(a, sizeof(form_field_t) * MULTIPART_MAX_PARTS);
    size_t n = 0;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* the closing boundary */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return -1;
        p += 2;
        const char *head_end = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!head_end || head_end - p > 8192)
            return -1;
        if (n == MULTIPART_MAX_PARTS)
            return -1;
        form_field_t *f = &fields[n];
        const char *line = p;
        while (line < head_end + 2) {
            const char *eol = find(line, (size_t)(head_end + 2 - line), "\r\n", 2);
            size_t llen = (size_t)(eol - line);
            if (llen > 20 && !strncasecmp(line, "Content-Disposition:", 20)) {
                const char *v = line + 20;
                size_t vlen = llen - 20;
                while (vlen && *v == ' ') {
                    v++;
                    vlen--;
                }
                if (vlen < 9 || strncasecmp(v, "form-data", 9))
                    return -1;
                f->name = header_param(a, v, vlen, "name");
                f->filename = header_param(a, v, vlen, "filename");
            } else if (llen > 13 && !strncasecmp(line, "Content-Type:", 13)) {
                const char *v = line + 13;
                size_t vlen = llen - 13;
                while (vlen && *v == ' ') {
                    v++;
                    vlen--;
                }
                f->content_type = arena_strndup(a, v, vlen);
            }
            line = eol + 2;
        }
        if (!f->name)
            return -1;
        f->name_len = strlen(f->name);
        const char *data = head_end + 4;
        const char *next = find(data, (size_t)(end - data), delim, dlen);
        if (!next)
            return -1;
        f->value = data;
        f->value_len = (size_t)(next - data);
        n++;
        p = next + dlen;
    }
    *out = fields;
    *count = n;
    return 0;
}

const form_field_t *form_field_get(const form_field_t *fields, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (!strcmp(fields[i].name, name))
            return &fields[i];
    return NULL;
}

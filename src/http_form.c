/* Form bodies: application/x-www-form-urlencoded and multipart/form-data (RFC 7578). */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <string.h>

#include "hourglass/forms.h"
#include "hourglass/http.h"

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int form_url_decode(arena_t *a, const char *s, size_t len, const char **out, size_t *out_len)
{
    char *d = arena_alloc(a, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            d[n++] = ' ';
        } else if (s[i] == '%') {
            if (len - i < 3)
                return -1;
            int hi = hex_value((unsigned char)s[i + 1]), lo = hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            d[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[n++] = s[i];
        }
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
    return 0;
}

/* Where the name=value pair that starts at i ends: its '&', or the end of the body. */
static size_t pair_end(const char *body, size_t i, size_t len)
{
    const char *amp = memchr(body + i, '&', len - i);
    return amp ? (size_t)(amp - body) : len;
}

int form_urlencoded_parse(arena_t *a, const char *body, size_t len, form_field_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    /* Count first so the array is sized once and an oversized form costs no decoding. */
    size_t pairs = 0, end;
    for (size_t i = 0; i < len; i = end + 1) {
        end = pair_end(body, i, len);
        pairs += end > i;
    }
    if (pairs > FORM_MAX_FIELDS)
        return -1;
    form_field_t *fields = arena_calloc(a, sizeof(*fields) * (pairs ? pairs : 1));
    size_t n = 0;
    for (size_t i = 0; i < len; i = end + 1) {
        end = pair_end(body, i, len);
        if (end > i) {
            const char *eq = memchr(body + i, '=', end - i);
            size_t name_end = eq ? (size_t)(eq - body) : end;
            form_field_t *f = &fields[n++];
            if (form_url_decode(a, body + i, name_end - i, &f->name, &f->name_len) ||
                memchr(f->name, '\0', f->name_len))
                return -1;
            if (eq) {
                if (form_url_decode(a, eq + 1, end - name_end - 1, &f->value, &f->value_len))
                    return -1;
            } else {
                f->value = "";
            }
        }
    }
    *out = fields;
    *count = n;
    return 0;
}

/* RFC 9110 tchar: what a header name, a media type or a parameter name is made of. */
static int is_tchar(unsigned char c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

/* RFC 2046 bchars, the alphabet of a boundary. */
static int is_bchar(unsigned char c) { return isalnum(c) || (c && strchr("'()+_,-./:=? ", c)); }

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *skip_token(const char *p, const char *end)
{
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    return p;
}

typedef struct {
    const char *name;
    size_t name_len;
    char *value; /* NUL-terminated arena copy, quoted-pairs resolved */
    size_t value_len;
} header_param_t;

/* The next `; name=value` of a header value such as `form-data; name="a\"b"`.
 * Returns 1 with *pr set, 0 at the end, -1 if malformed. */
static int next_param(arena_t *a, const char **pp, const char *end, header_param_t *pr)
{
    const char *p = skip_ows(*pp, end);
    if (p == end)
        return 0;
    if (*p != ';')
        return -1;
    p = skip_ows(p + 1, end);
    if (p == end) { /* a trailing ';' */
        *pp = p;
        return 0;
    }
    pr->name = p;
    p = skip_token(p, end);
    pr->name_len = (size_t)(p - pr->name);
    if (!pr->name_len)
        return -1;
    p = skip_ows(p, end);
    if (p == end || *p != '=')
        return -1;
    p = skip_ows(p + 1, end);
    if (p < end && *p == '"') {
        char *v = arena_alloc(a, (size_t)(end - p)); /* the content is shorter than what is left */
        size_t n = 0;
        for (p++;; p++) {
            if (p == end)
                return -1; /* unterminated */
            if (*p == '"')
                break;
            if (*p == '\\' && ++p == end)
                return -1;
            v[n++] = *p;
        }
        p++;
        v[n] = '\0';
        pr->value = v;
        pr->value_len = n;
    } else {
        const char *v = p;
        while (p < end && *p != ';' && *p != ' ' && *p != '\t' && *p != '"')
            p++;
        if (p == v)
            return -1;
        pr->value = arena_strndup(a, v, (size_t)(p - v));
        pr->value_len = (size_t)(p - v);
    }
    *pp = p;
    return 1;
}

/* The boundary parameter of a multipart/form-data Content-Type, or NULL. */
static const char *boundary_of(arena_t *a, const char *ct, size_t ct_len, size_t *blen)
{
    const char *end = ct + ct_len;
    const char *p = skip_ows(ct, end);
    const char *t = p;
    while (p < end && (is_tchar((unsigned char)*p) || *p == '/'))
        p++;
    if (!http_text_is(t, (size_t)(p - t), "multipart/form-data"))
        return NULL;
    const char *boundary = NULL;
    header_param_t pr;
    int r;
    while ((r = next_param(a, &p, end, &pr)) == 1) {
        if (!http_text_is(pr.name, pr.name_len, "boundary"))
            continue;
        if (boundary)
            return NULL; /* two boundaries: which one? */
        boundary = pr.value;
        *blen = pr.value_len;
    }
    if (r < 0 || !boundary || *blen < 1 || *blen > MULTIPART_MAX_BOUNDARY || boundary[*blen - 1] == ' ')
        return NULL;
    for (size_t i = 0; i < *blen; i++)
        if (!is_bchar((unsigned char)boundary[i]))
            return NULL;
    return boundary;
}

typedef struct {
    const char *next; /* first byte after the delimiter line */
    int last;         /* the close delimiter "--boundary--" */
} delimiter_t;

/* What follows "--boundary": 1 for a delimiter line (d set), -1 for a
 * malformed one, 0 when these bytes are only data that happens to contain the
 * boundary as a prefix (as Go's mime/multipart judges it). */
static int delimiter_tail(const char *p, const char *end, delimiter_t *d)
{
    if (p == end)
        return 0;
    if (*p == '-') {
        if (end - p < 2 || p[1] != '-')
            return 0;
        d->next = p + 2;
        d->last = 1;
        return 1;
    }
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
        return 0;
    p = skip_ows(p, end);
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
        return -1;
    d->next = p + 2;
    d->last = 0;
    return 1;
}

/* The next CRLF "--boundary" delimiter at or after p. Returns 1 with *at (its
 * CR) and d set, 0 if there is none, -1 for a malformed delimiter line. */
static int find_delimiter(const char *p, const char *end, const char *delim, size_t dlen, const char **at,
                          delimiter_t *d)
{
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), delim, dlen);
        if (!q)
            return 0;
        int r = delimiter_tail(q + dlen, end, d);
        if (r) {
            *at = q;
            return r;
        }
        p = q + 1;
    }
    return 0;
}

static int parse_disposition(arena_t *a, const char *v, const char *end, form_field_t *f)
{
    const char *p = skip_token(v, end);
    if (!http_text_is(v, (size_t)(p - v), "form-data"))
        return -1;
    header_param_t pr;
    int r;
    while ((r = next_param(a, &p, end, &pr)) == 1) {
        if (http_text_is(pr.name, pr.name_len, "name")) {
            if (f->name)
                return -1;
            f->name = pr.value;
            f->name_len = pr.value_len;
        } else if (http_text_is(pr.name, pr.name_len, "filename")) {
            if (f->filename)
                return -1;
            f->filename = pr.value;
        }
        /* filename* and the rest: RFC 7578 4.2 says not to use them; ignored */
    }
    return r;
}

/* Reads a part's header block starting at p into f. Returns the first byte of
 * the part's content, or NULL if the block is malformed or too large. */
static const char *parse_part_headers(arena_t *a, const char *p, const char *end, form_field_t *f)
{
    const char *limit = (size_t)(end - p) > MULTIPART_MAX_HEADER_BYTES ? p + MULTIPART_MAX_HEADER_BYTES : end;
    int have_disposition = 0;
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(limit - p));
        if (!lf || lf == p || lf[-1] != '\r')
            return NULL; /* too large, or a bare LF */
        const char *eol = lf - 1;
        if (eol == p)
            return lf + 1; /* the empty line */
        for (const char *q = p; q < eol; q++) {
            unsigned char c = (unsigned char)*q;
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return NULL; /* a stray CR, a NUL, ... */
        }
        const char *colon = skip_token(p, eol);
        if (colon == p || colon == eol || *colon != ':')
            return NULL; /* also folded (obsolete) continuation lines */
        size_t name_len = (size_t)(colon - p);
        const char *v = skip_ows(colon + 1, eol), *v_end = eol;
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
        if (http_text_is(p, name_len, "Content-Disposition")) {
            if (have_disposition || parse_disposition(a, v, v_end, f))
                return NULL;
            have_disposition = 1;
        } else if (http_text_is(p, name_len, "Content-Type")) {
            if (f->content_type || v == v_end)
                return NULL;
            f->content_type = arena_strndup(a, v, (size_t)(v_end - v));
        }
        p = lf + 1;
    }
}

int multipart_parse(arena_t *a, const char *content_type, size_t ct_len, const char *body, size_t len,
                    form_field_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!content_type || !body || !len)
        return -1; /* not even a closing delimiter */
    size_t blen = 0;
    const char *boundary = boundary_of(a, content_type, ct_len, &blen);
    if (!boundary)
        return -1;
    /* Every delimiter is CRLF "--" boundary; only the first may lack the CRLF,
     * at the very start of the body. */
    size_t dlen = blen + 4;
    char *delim = arena_alloc(a, dlen);
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    const char *end = body + len;
    delimiter_t d;
    const char *at;
    int r = 0;
    if (len >= dlen - 2 && !memcmp(body, delim + 2, dlen - 2))
        r = delimiter_tail(body + dlen - 2, end, &d);
    if (r == 0)
        r = find_delimiter(body, end, delim, dlen, &at, &d);
    if (r <= 0)
        return -1;

    form_field_t *fields = arena_calloc(a, sizeof(*fields) * MULTIPART_MAX_PARTS);
    size_t n = 0;
    while (!d.last) {
        if (n == MULTIPART_MAX_PARTS)
            return -1;
        form_field_t *f = &fields[n++];
        const char *content = parse_part_headers(a, d.next, end, f);
        if (!content || !f->name || !f->name_len || memchr(f->name, '\0', f->name_len))
            return -1;
        if (find_delimiter(content, end, delim, dlen, &at, &d) <= 0)
            return -1; /* no closing boundary, or a malformed one */
        f->value_len = (size_t)(at - content);
        /* Files stay in the body (they may be megabytes); text fields become C strings. */
        f->value = f->filename ? content : arena_strndup(a, content, f->value_len);
    }
    *out = fields;
    *count = n;
    return 0;
}

const form_field_t *form_field_get(const form_field_t *fields, size_t count, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < count; i++)
        if (fields[i].name_len == n && !memcmp(fields[i].name, name, n))
            return &fields[i];
    return NULL;
}

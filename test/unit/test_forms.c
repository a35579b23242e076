#include <stdio.h>

#include "hourglass/forms.h"
#include "unit.h"

static int urlencoded(arena_t *a, const char *body, form_field_t **f, size_t *n)
{
    return form_urlencoded_parse(a, body, strlen(body), f, n);
}

static int multipart(arena_t *a, const char *ct, const char *body, size_t len, form_field_t **f, size_t *n)
{
    return multipart_parse(a, ct, strlen(ct), body, len, f, n);
}

TEST(forms_urlencoded)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    const char *body = "username=a%40b.c&password=x+y%21&empty=&flag&&grant_type=password";
    CHECK(urlencoded(&a, body, &f, &n) == 0 && n == 5);
    CHECK_STR(form_field_get(f, n, "username")->value, "a@b.c");
    CHECK_STR(form_field_get(f, n, "password")->value, "x y!");
    CHECK(form_field_get(f, n, "empty")->value_len == 0);
    CHECK(form_field_get(f, n, "flag") && !form_field_get(f, n, "nothing"));
    CHECK(urlencoded(&a, "a=%4", &f, &n) == -1);
    CHECK(urlencoded(&a, "a=%zz", &f, &n) == -1);
    arena_reset(&a);
}

TEST(forms_urlencoded_decoding)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    CHECK(urlencoded(&a, "a=1&b=x+y&c=%41&d=%2f%2F&e+f=%e2%82%ac", &f, &n) == 0 && n == 5);
    CHECK_STR(f[0].name, "a");
    CHECK_STR(f[0].value, "1");
    CHECK_STR(f[1].value, "x y");
    CHECK_STR(f[2].value, "A");
    CHECK_STR(f[3].value, "//");
    CHECK_STR(f[4].name, "e f");
    CHECK_STR(f[4].value, "\xe2\x82\xac");
    CHECK(!f[0].filename && !f[0].content_type);
    /* no '=', '=' with nothing after it, an empty name, '=' inside a value */
    CHECK(urlencoded(&a, "flag&x=&=v&k=a=b", &f, &n) == 0 && n == 4);
    CHECK_STR(f[0].name, "flag");
    CHECK(f[0].value && f[0].value_len == 0 && f[0].value[0] == '\0');
    CHECK(f[1].value_len == 0);
    CHECK(f[2].name_len == 0 && !strcmp(f[2].value, "v"));
    CHECK_STR(f[3].value, "a=b");
    /* a NUL byte is a fine value (use value_len), never a name */
    CHECK(urlencoded(&a, "v=a%00b", &f, &n) == 0 && n == 1 && f[0].value_len == 3 && f[0].value[1] == '\0');
    CHECK(urlencoded(&a, "a%00b=1", &f, &n) == -1);
    /* nothing at all */
    CHECK(urlencoded(&a, "", &f, &n) == 0 && n == 0);
    CHECK(form_urlencoded_parse(&a, NULL, 0, &f, &n) == 0 && n == 0);
    CHECK(urlencoded(&a, "&&&", &f, &n) == 0 && n == 0);
    /* the body need not be terminated: only len bytes are read */
    CHECK(form_urlencoded_parse(&a, "a=1&b=2", 3, &f, &n) == 0 && n == 1 && !strcmp(f[0].value, "1"));
    arena_reset(&a);
}

TEST(forms_urlencoded_rejects_bad_escapes_and_too_many_fields)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static const char *const bad[] = {"a=%", "a=%4", "a=%4g", "a=%g4", "%=1", "a=1&b=%%41", "a=%+1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        CHECK(urlencoded(&a, bad[i], &f, &n) == -1);
        CHECK(n == 0 && f == NULL);
    }
    char many[1024];
    size_t len = 0;
    for (int i = 0; i < FORM_MAX_FIELDS; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len, "f%d=%d&&", i, i);
    CHECK(form_urlencoded_parse(&a, many, len, &f, &n) == 0 && n == FORM_MAX_FIELDS);
    CHECK_STR(form_field_get(f, n, "f63")->value, "63");
    len += (size_t)snprintf(many + len, sizeof(many) - len, "one=more");
    CHECK(form_urlencoded_parse(&a, many, len, &f, &n) == -1);
    arena_reset(&a);
}

static const char mp_ct[] = "multipart/form-data; boundary=XyZ";

TEST(forms_multipart)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nann@example.com\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".png\"\r\n"
                               "Content-Type: image/png\r\n\r\n\x89PNG\r\n--Xy\0Z\r\n--XyZ--\r\n";
    CHECK(multipart(&a, mp_ct, body, sizeof(body) - 1, &f, &n) == 0 && n == 2);
    CHECK_STR(f[0].name, "username");
    CHECK(f[0].value_len == 15 && !memcmp(f[0].value, "ann@example.com", 15));
    CHECK_STR(f[1].filename, "a \"b\".png");
    CHECK_STR(f[1].content_type, "image/png");
    CHECK(f[1].value_len == 12 && !memcmp(f[1].value, "\x89PNG\r\n--Xy\0Z", 12));
    static const char quoted_ct[] = "multipart/form-data; boundary=\"a b\"";
    static const char body2[] = "--a b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--a b--";
    CHECK(multipart(&a, quoted_ct, body2, sizeof(body2) - 1, &f, &n) == 0 && n == 1);
    arena_reset(&a);
}

/* Two text fields and a binary file whose bytes hold CRLFs, NULs and the
 * boundary in every way that is still data. */
TEST(forms_multipart_binary_file)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static const char file[] = "GIF89a\r\n\0\r\n--Xy\r\n--XyZa--XyZ\r\n--XyZ-x\r\n\r\n--\xff";
    static const char body[] = "preamble, ignored\r\n"
                               "--XyZ\r\ncontent-disposition: form-data; name=\"email\"\r\n\r\nann@example.com\r\n"
                               "--XyZ  \r\nContent-Disposition: form-data; name=password\r\n\r\np\xc3\xa4ss word\r\n"
                               "--XyZ\r\nContent-Type:  image/gif \r\nContent-Disposition: form-data; name=\"photo\";"
                               " filename=\"x.gif\"\r\nX-Other: ignored\r\n\r\n"
                               "GIF89a\r\n\0\r\n--Xy\r\n--XyZa--XyZ\r\n--XyZ-x\r\n\r\n--\xff"
                               "\r\n--XyZ--\r\nepilogue, ignored too\r\n--XyZ\r\n";
    CHECK(multipart(&a, mp_ct, body, sizeof(body) - 1, &f, &n) == 0 && n == 3);
    CHECK_STR(f[0].name, "email");
    CHECK_STR(f[0].value, "ann@example.com"); /* text fields are terminated copies */
    CHECK(!f[0].filename && !f[0].content_type);
    CHECK(f[1].name_len == 8 && !strcmp(f[1].name, "password"));
    CHECK_STR(f[1].value, "p\xc3\xa4ss word");
    const form_field_t *photo = form_field_get(f, n, "photo");
    CHECK(photo == &f[2]);
    CHECK_STR(photo->filename, "x.gif");
    CHECK_STR(photo->content_type, "image/gif");
    CHECK(photo->value_len == sizeof(file) - 1 && !memcmp(photo->value, file, sizeof(file) - 1));
    CHECK(photo->value > body && photo->value < body + sizeof(body)); /* files are not copied */
    CHECK_STR(media_sniff_image(photo->value, photo->value_len), "image/gif");
    arena_reset(&a);
}

TEST(forms_multipart_boundaries)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static const char one[] = "--%s\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--%s--\r\n";
    char body[512];
    static const struct {
        const char *ct;
        const char *boundary; /* NULL: refused */
    } cases[] = {
        {"multipart/form-data; boundary=XyZ", "XyZ"},
        {"Multipart/Form-Data;BOUNDARY=XyZ", "XyZ"},
        {"multipart/form-data ; charset=utf-8; boundary=\"----Web'()+_,-./:=? Kit\"", "----Web'()+_,-./:=? Kit"},
        {"multipart/form-data; boundary=\"XyZ\"; charset=utf-8", "XyZ"},
        {"multipart/form-data; boundary=\"X\\yZ\"", "XyZ"},
        {"multipart/form-data; boundary=1234567890123456789012345678901234567890123456789012345678901234567890",
         "1234567890123456789012345678901234567890123456789012345678901234567890"},
        {"multipart/form-data; boundary=12345678901234567890123456789012345678901234567890123456789012345678901", NULL},
        {"multipart/form-data; boundary=", NULL},
        {"multipart/form-data; boundary=\"\"", NULL},
        {"multipart/form-data; boundary=\"XyZ ", NULL},
        {"multipart/form-data; boundary=\"XyZ \"", NULL},
        {"multipart/form-data; boundary=\"Xy\\\"Z\"", NULL},
        {"multipart/form-data; boundary=X@Z", NULL},
        {"multipart/form-data; boundary=XyZ; boundary=XyZ", NULL},
        {"multipart/form-data", NULL},
        {"multipart/form-data; charset=utf-8", NULL},
        {"multipart/mixed; boundary=XyZ", NULL},
        {"application/x-www-form-urlencoded; boundary=XyZ", NULL},
        {"multipart/form-data boundary=XyZ", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *b = cases[i].boundary ? cases[i].boundary : "XyZ";
        int len = snprintf(body, sizeof(body), one, b, b);
        int rc = multipart(&a, cases[i].ct, body, (size_t)len, &f, &n);
        if (cases[i].boundary ? rc != 0 || n != 1 || strcmp(f[0].value, "1") : rc != -1) {
            fprintf(stderr, "  boundary case %zu: %s\n", i, cases[i].ct);
            CHECK(0);
        }
    }
    arena_reset(&a);
}

TEST(forms_multipart_filenames_and_names)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\\\"b\"; filename=\"say \\\"hi\\\".png\"\r\n\r\nx\r\n"
        "--XyZ\r\nContent-Disposition: form-data; filename=\"C:\\\\dir\\\\f.jpg\"; name=\"f2\"\r\n\r\n\r\n"
        "--XyZ\r\nContent-Disposition: FORM-DATA ; NAME = \"f3\" ; filename=\"\"; filename*=UTF-8''x.png\r\n\r\n\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"\xd0\xb8\xd0\xbc\xd1\x8f\"; filename=\"\xd1\x84.png\";\r\n\r\n"
        "y\r\n--XyZ--";
    CHECK(multipart(&a, mp_ct, body, sizeof(body) - 1, &f, &n) == 0 && n == 4);
    CHECK(f[0].name_len == 3 && !strcmp(f[0].name, "a\"b"));
    CHECK_STR(f[0].filename, "say \"hi\".png");
    CHECK_STR(f[1].name, "f2");
    CHECK_STR(f[1].filename, "C:\\dir\\f.jpg");
    CHECK(f[1].value_len == 0);
    CHECK_STR(f[2].name, "f3");
    CHECK(f[2].filename && f[2].filename[0] == '\0' && f[2].value_len == 0);
    CHECK_STR(f[3].name, "\xd0\xb8\xd0\xbc\xd1\x8f");
    CHECK_STR(f[3].filename, "\xd1\x84.png");
    CHECK(form_field_get(f, n, "a\"b") == &f[0]);
    arena_reset(&a);
}

TEST(forms_multipart_empty_form)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n = 99;
    CHECK(multipart(&a, mp_ct, "--XyZ--\r\n", 9, &f, &n) == 0 && n == 0);
    CHECK(multipart(&a, mp_ct, "--XyZ--", 7, &f, &n) == 0 && n == 0);
    CHECK(multipart(&a, mp_ct, "", 0, &f, &n) == -1);
    CHECK(multipart_parse(&a, mp_ct, strlen(mp_ct), NULL, 0, &f, &n) == -1);
    arena_reset(&a);
}

TEST(forms_multipart_rejects_malformed)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static const char lf_only[] = "--XyZ\nContent-Disposition: form-data; name=\"x\"\n\n1\n--XyZ--\n";
    static const char unclosed[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n";
    static const char no_name[] = "--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--";
    CHECK(multipart(&a, mp_ct, lf_only, sizeof(lf_only) - 1, &f, &n) == -1);
    CHECK(multipart(&a, mp_ct, unclosed, sizeof(unclosed) - 1, &f, &n) == -1);
    CHECK(multipart(&a, mp_ct, no_name, sizeof(no_name) - 1, &f, &n) == -1);
    CHECK(multipart(&a, "multipart/form-data", no_name, sizeof(no_name) - 1, &f, &n) == -1);
    char many[4000];
    size_t len = 0;
    for (int i = 0; i < MULTIPART_MAX_PARTS + 1; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len,
                                "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    len += (size_t)snprintf(many + len, sizeof(many) - len, "--XyZ--");
    CHECK(multipart(&a, mp_ct, many, len, &f, &n) == -1);
    arena_reset(&a);
}

TEST(forms_multipart_rejects_more_malformed)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
#define PART(headers, content) "--XyZ\r\n" headers "\r\n\r\n" content "\r\n--XyZ--\r\n"
#define CD "Content-Disposition: form-data; name=\"x\""
    static const char *const bad[] = {
        "no boundary at all",
        "--XyZ", /* a boundary and nothing after it */
        "--XyZ\r\n",
        "--XyZ\r\n" CD "\r\n\r\n1\r\n--XyZ",     /* no "--" after the last boundary */
        PART("", "1"),                                /* no headers, so no name */
        PART("Content-Type: text/plain", "1"),
        PART("Content-Disposition: attachment; name=\"x\"", "1"),
        PART("Content-Disposition: form-data; name=\"\"", "1"),
        PART("Content-Disposition: form-data; name=\"x", "1"),
        PART("Content-Disposition: form-data; name=\"x\\", "1"),
        PART("Content-Disposition: form-data; name=", "1"),
        PART("Content-Disposition: form-data; name", "1"),
        PART("Content-Disposition: form-data name=\"x\"", "1"),
        PART("Content-Disposition: form-data; name=\"x\"; name=\"y\"", "1"),
        PART("Content-Disposition: form-data; name=\"x\"; filename=\"a\"; filename=\"b\"", "1"),
        PART(CD "\r\n" CD, "1"),
        PART(CD "\r\nContent-Type: a/b\r\nContent-Type: a/b", "1"),
        PART(CD "\r\nContent-Type:", "1"),
        PART(CD "\r\nno colon here", "1"),
        PART(CD "\r\nBad Name: x", "1"),
        PART(CD "\r\n folded: continuation", "1"),
        PART(CD "\r\nX: a\rb", "1"),
        PART(CD "\nX: y", "1"),
        "--XyZ\r\n" CD "\r\n\r\n1\r\n--XyZ x\r\n" CD "\r\n\r\n2\r\n--XyZ--",  /* junk after a delimiter */
        "--XyZ\r\n" CD "\r\n\r\n1\r\n--XyZ\n" CD "\r\n\r\n2\r\n--XyZ--",    /* LF after a delimiter */
        "--XyZ\r\n" CD "\r\n\r\n1\n--XyZ--",                                  /* LF before the last one */
        "--XyZ\r\n" CD "\r\n\r\n1\r\n--XyZ-",
    };
#undef PART
#undef CD
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        if (multipart(&a, mp_ct, bad[i], strlen(bad[i]), &f, &n) != -1 || n != 0 || f != NULL) {
            fprintf(stderr, "  malformed case %zu accepted\n", i);
            CHECK(0);
        }
    }
    /* a NUL in a header line */
    static const char nul[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\n1\r\n--XyZ--";
    CHECK(multipart(&a, mp_ct, nul, sizeof(nul) - 1, &f, &n) == -1);
    arena_reset(&a);
}

TEST(forms_multipart_limits)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static char body[MULTIPART_MAX_HEADER_BYTES * 2 + 4096];
    /* exactly MULTIPART_MAX_PARTS parts pass */
    size_t len = 0;
    for (int i = 0; i < MULTIPART_MAX_PARTS; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv%d\r\n", i, i);
    len += (size_t)snprintf(body + len, sizeof(body) - len, "--XyZ--");
    CHECK(multipart(&a, mp_ct, body, len, &f, &n) == 0 && n == MULTIPART_MAX_PARTS);
    CHECK_STR(form_field_get(f, n, "f31")->value, "v31");
    /* a header block of exactly the limit passes, one byte more does not */
    static const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Pad: ";
    for (int extra = 0; extra < 2; extra++) {
        size_t pad = MULTIPART_MAX_HEADER_BYTES - (strlen(head) - 7) - 4 + (size_t)extra;
        len = (size_t)snprintf(body, sizeof(body), "%s", head);
        memset(body + len, 'p', pad);
        len += pad;
        len += (size_t)snprintf(body + len, sizeof(body) - len, "\r\n\r\n1\r\n--XyZ--");
        CHECK(multipart(&a, mp_ct, body, len, &f, &n) == (extra ? -1 : 0));
    }
    arena_reset(&a);
}

TEST(forms_field_lookup)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    CHECK(urlencoded(&a, "username=a&user=b&username=c&pass=", &f, &n) == 0 && n == 4);
    CHECK(form_field_get(f, n, "username") == &f[0]); /* the first of duplicates */
    CHECK(form_field_get(f, n, "user") == &f[1]);      /* no prefix matches */
    CHECK(form_field_get(f, n, "usernam") == NULL);
    CHECK(form_field_get(f, n, "pass") == &f[3]);
    CHECK(form_field_get(f, n, "Pass") == NULL); /* names are case-sensitive */
    CHECK(form_field_get(f, n, "") == NULL);
    CHECK(form_field_get(f, 0, "username") == NULL);
    CHECK(form_field_get(NULL, 0, "username") == NULL);
    arena_reset(&a);
}

TEST(forms_sniff_images)
{
    CHECK_STR(media_sniff_image("\x89PNG\r\n\x1a\n....", 12), "image/png");
    CHECK_STR(media_sniff_image("\xff\xd8\xff\xe0", 4), "image/jpeg");
    CHECK_STR(media_sniff_image("GIF89a..", 8), "image/gif");
    CHECK_STR(media_sniff_image("RIFF\x10\0\0\0WEBPVP8 ", 16), "image/webp");
    CHECK(media_sniff_image("this is text, not a png", 23) == NULL);
    CHECK(media_sniff_image("\x89PNG", 4) == NULL);
    CHECK(media_sniff_image("", 0) == NULL);
}

TEST(forms_sniff_images_exact_and_short)
{
    CHECK_STR(media_sniff_image("\x89PNG\r\n\x1a\n", 8), "image/png");
    CHECK_STR(media_sniff_image("\xff\xd8\xff", 3), "image/jpeg");
    CHECK_STR(media_sniff_image("GIF87a", 6), "image/gif");
    CHECK_STR(media_sniff_image("GIF89a", 6), "image/gif");
    CHECK_STR(media_sniff_image("RIFF\0\0\0\0WEBP", 12), "image/webp");
    /* one byte short of each magic number */
    CHECK(media_sniff_image("\x89PNG\r\n\x1a", 7) == NULL);
    CHECK(media_sniff_image("\xff\xd8", 2) == NULL);
    CHECK(media_sniff_image("GIF89", 5) == NULL);
    CHECK(media_sniff_image("RIFF\0\0\0\0WEB", 11) == NULL);
    CHECK(media_sniff_image(NULL, 0) == NULL);
    /* near misses */
    CHECK(media_sniff_image("\x89PNG\n\n\x1a\n", 8) == NULL); /* a PNG mangled by a newline conversion */
    CHECK(media_sniff_image("GIF88a", 6) == NULL);
    CHECK(media_sniff_image("RIFF\0\0\0\0WAVEfmt ", 16) == NULL);
    CHECK(media_sniff_image("\xff\xd8\x00", 3) == NULL);
    CHECK(media_sniff_image("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 41) == NULL);
}

/* A text file named .png and declared image/png is still text. */
TEST(forms_sniff_ignores_declared_type)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cat.png\"\r\n"
                               "Content-Type: image/png\r\n\r\n<?php echo 'not a cat'; ?>\r\n--XyZ--\r\n";
    CHECK(multipart(&a, mp_ct, body, sizeof(body) - 1, &f, &n) == 0 && n == 1);
    CHECK_STR(f[0].content_type, "image/png");
    CHECK(media_sniff_image(f[0].value, f[0].value_len) == NULL);
    arena_reset(&a);
}

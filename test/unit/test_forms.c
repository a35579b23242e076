#include "hourglass/forms.h"
#include "unit.h"

TEST(forms_urlencoded)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f;
    size_t n;
    const char *body = "username=a%40b.c&password=x+y%21&empty=&flag&&grant_type=password";
    CHECK(form_urlencoded_parse(&a, body, strlen(body), &f, &n) == 0 && n == 5);
    CHECK_STR(form_field_get(f, n, "username")->value, "a@b.c");
    CHECK_STR(form_field_get(f, n, "password")->value, "x y!");
    CHECK(form_field_get(f, n, "empty")->value_len == 0);
    CHECK(form_field_get(f, n, "flag") && !form_field_get(f, n, "nothing"));
    CHECK(form_urlencoded_parse(&a, "a=%4", 4, &f, &n) == -1);
    CHECK(form_urlencoded_parse(&a, "a=%zz", 5, &f, &n) == -1);
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
    CHECK(multipart_parse(&a, mp_ct, strlen(mp_ct), body, sizeof(body) - 1, &f, &n) == 0 && n == 2);
    CHECK_STR(f[0].name, "username");
    CHECK(f[0].value_len == 15 && !memcmp(f[0].value, "ann@example.com", 15));
    CHECK_STR(f[1].filename, "a \"b\".png");
    CHECK_STR(f[1].content_type, "image/png");
    CHECK(f[1].value_len == 12 && !memcmp(f[1].value, "\x89PNG\r\n--Xy\0Z", 12));
    static const char quoted_ct[] = "multipart/form-data; boundary=\"a b\"";
    static const char body2[] = "--a b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--a b--";
    CHECK(multipart_parse(&a, quoted_ct, strlen(quoted_ct), body2, sizeof(body2) - 1, &f, &n) == 0 && n == 1);
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
    CHECK(multipart_parse(&a, mp_ct, strlen(mp_ct), lf_only, sizeof(lf_only) - 1, &f, &n) == -1);
    CHECK(multipart_parse(&a, mp_ct, strlen(mp_ct), unclosed, sizeof(unclosed) - 1, &f, &n) == -1);
    CHECK(multipart_parse(&a, mp_ct, strlen(mp_ct), no_name, sizeof(no_name) - 1, &f, &n) == -1);
    CHECK(multipart_parse(&a, "multipart/form-data", 19, no_name, sizeof(no_name) - 1, &f, &n) == -1);
    char many[4000];
    size_t len = 0;
    for (int i = 0; i < MULTIPART_MAX_PARTS + 1; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len,
                                "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    len += (size_t)snprintf(many + len, sizeof(many) - len, "--XyZ--");
    CHECK(multipart_parse(&a, mp_ct, strlen(mp_ct), many, len, &f, &n) == -1);
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

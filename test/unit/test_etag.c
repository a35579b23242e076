#include "hourglass/http_etag.h"
#include "unit.h"

/* One ETag for the same bytes, another for others: quoted hex of the hash. */
TEST(etag_is_quoted_hex_of_the_bytes)
{
    char a[HTTP_ETAG_SIZE], b[HTTP_ETAG_SIZE], c[HTTP_ETAG_SIZE];
    http_etag("hourglass", 9, a);
    http_etag("hourglass", 9, b);
    http_etag("hourglasS", 9, c);
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    CHECK(strlen(a) == HTTP_ETAG_SIZE - 1 && a[0] == '"' && a[HTTP_ETAG_SIZE - 2] == '"');
    for (size_t i = 1; i < HTTP_ETAG_SIZE - 2; i++)
        CHECK(strchr("0123456789abcdef", a[i]) != NULL);
}

/* If-None-Match as a list of entity tags: any of them, weak or not, or "*". */
TEST(etag_listed_in_if_none_match)
{
    const char *etag = "\"0123abcd\"";
    static const struct {
        const char *header;
        int listed;
    } cases[] = {
        {.header = "\"0123abcd\"", .listed = 1},
        {.header = "W/\"0123abcd\"", .listed = 1},
        {.header = "\"x\", \"0123abcd\"", .listed = 1},
        {.header = " \"x\" ,\tW/\"0123abcd\" ", .listed = 1},
        {.header = "*", .listed = 1},
        {.header = "\"0123abcd", .listed = 0},
        {.header = "0123abcd", .listed = 0},
        {.header = "\"0123abc\"", .listed = 0},
        {.header = "\"x\", \"y\"", .listed = 0},
        {.header = "", .listed = 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(http_etag_listed(cases[i].header, strlen(cases[i].header), etag) == cases[i].listed);
}

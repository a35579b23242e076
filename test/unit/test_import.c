#include <stdio.h>

#include "hourglass/import_csv.h"
#include "unit.h"

static int parse(arena_t *a, const char *text, import_rows_t *r) { return import_csv_parse(a, text, strlen(text), r); }

TEST(import_numbers_as_1c_writes_them)
{
    long long v = -1;
    CHECK(!import_number("5", 1, &v) && v == 5);
    CHECK(!import_number("1 234", 5, &v) && v == 1234);
    CHECK(!import_number("1\xC2\xA0" "234", 6, &v) && v == 1234);
    CHECK(!import_number("5,000", 5, &v) && v == 5);
    CHECK(!import_number("7.0", 3, &v) && v == 7);
    CHECK(!import_number("-0", 2, &v) && v == 0);
    CHECK(!import_number("2147483647", 10, &v) && v == 2147483647LL);
    CHECK_STR(import_number("2147483648", 10, &v), "too_large");
    CHECK_STR(import_number("99999999999999999999999", 23, &v), "too_large");
    CHECK_STR(import_number("-2", 2, &v), "too_small");
    CHECK_STR(import_number("2,5", 3, &v), "invalid_format");
    CHECK_STR(import_number("5,", 2, &v), "invalid_format");
    CHECK_STR(import_number("many", 4, &v), "invalid_format");
    CHECK_STR(import_number("", 0, &v), "invalid_format");
    CHECK_STR(import_number("-", 1, &v), "invalid_format");
    CHECK_STR(import_number(" 5", 2, &v), "invalid_format");
    CHECK_STR(import_number("5 ", 2, &v), "invalid_format");
    CHECK_STR(import_number("1  2", 4, &v), "invalid_format");
    CHECK_STR(import_number("0x10", 4, &v), "invalid_format");
}

TEST(import_csv_reads_rows_into_arrays)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    import_rows_t r;
    CHECK(parse(&a, "\xEF\xBB\xBF" "external_id;amount\r\nA-1;12\r\n\r\n"
                    "\"B;\"\"2\"\" \\\\\" ; 1 234 \r\nC;0", &r) == 0);
    CHECK(r.rows == 3 && r.error_count == 0 && !r.not_text);
    CHECK_STR(r.ids.data, "{\"A-1\",\"B;\\\"2\\\" \\\\\\\\\",\"C\"}");
    CHECK_STR(r.values.data, "{12,1234,0}");
    CHECK_STR(r.lines.data, "{2,4,5}");
    /* no header: line 1 is data when its second field is a number */
    CHECK(parse(&a, "X;8\n", &r) == 0 && r.rows == 1);
    CHECK_STR(r.lines.data, "{1}");
    CHECK(parse(&a, "", &r) == 0 && r.rows == 0);
    CHECK_STR(r.ids.data, "{}");
    arena_reset(&a);
}

TEST(import_csv_windows_1251)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    import_rows_t r;
    /* "Код;Остаток" then "Вес-1;5" in Windows-1251 */
    CHECK(parse(&a, "\xCA\xEE\xE4;\xCE\xF1\xF2\xE0\xF2\xEE\xEA\r\n\xC2\xE5\xF1-1;5\r\n", &r) == 0 && r.rows == 1);
    CHECK_STR(r.ids.data, "{\"\xD0\x92\xD0\xB5\xD1\x81-1\"}");
    /* 0x98 is no character of Windows-1251; a NUL is no text at all */
    CHECK(parse(&a, "a\x98;1\n", &r) == -1 && r.not_text);
    CHECK(import_csv_parse(&a, "a;1\n\0", 5, &r) == -1 && r.not_text);
    /* a BOM promises UTF-8 */
    CHECK(parse(&a, "\xEF\xBB\xBF\xC2\xE5\xF1;1\n", &r) == -1 && r.not_text);
    arena_reset(&a);
}

TEST(import_csv_lists_every_broken_line)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    import_rows_t r;
    const char *text = "external_id;amount\nA;50\nB\n;4\nx;-2\ny;2,5\nz;many\nC;60\nw;1;extra\n\"q;1\n\"q\"x;1\n";
    CHECK(parse(&a, text, &r) == -1 && !r.not_text);
    CHECK(r.error_count == 8);
    static const struct {
        long line;
        const char *code;
    } want[] = {{3, "invalid_format"}, {4, "required"}, {5, "too_small"}, {6, "invalid_format"},
                {7, "invalid_format"}, {9, "invalid_format"}, {10, "invalid_format"}, {11, "invalid_format"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK(r.errors[i].line == want[i].line);
        CHECK_STR(r.errors[i].code, want[i].code);
    }
    char id[160];
    memset(id, 'x', 101);
    snprintf(id + 101, sizeof(id) - 101, ";1\n");
    CHECK(parse(&a, id, &r) == -1 && r.error_count == 1);
    CHECK_STR(r.errors[0].code, "too_long");
    arena_reset(&a);
}

TEST(import_csv_caps_the_error_list)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    abuf_t b;
    abuf_init(&b, &a, 1 << 16);
    for (int i = 0; i < IMPORT_MAX_ERRORS + 500; i++)
        abuf_puts(&b, "x;bad\n");
    import_rows_t r;
    CHECK(import_csv_parse(&a, b.data, b.len, &r) == -1);
    CHECK(r.error_count == IMPORT_MAX_ERRORS + 500 - 1); /* line 1 reads as a header */
    CHECK(r.errors[IMPORT_MAX_ERRORS - 1].line == IMPORT_MAX_ERRORS + 1);
    arena_reset(&a);
}

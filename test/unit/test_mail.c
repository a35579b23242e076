/* The mail as the outbox sends it (mail_message): CRLF lines of bounded
 * length, RFC 2047 headers, and a base64 body that decodes to the text. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/mail.h"
#include "hourglass/mem.h"
#include "unit.h"

#define LINE_MAX_TEXT 76  /* RFC 2045 body lines, and this outbox's header lines */
#define WORD_MAX 75       /* RFC 2047: one encoded-word */
#define FROM "hourglass <noreply@example.com>"

/* Every line ends in CRLF and holds at most max characters. */
static int lines_within(const char *text, size_t max)
{
    for (const char *line = text; *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end || (size_t)(end - line) > max || memchr(line, '\n', (size_t)(end - line)))
            return 0;
        line = end + 2;
    }
    return 1;
}

/* The base64 runs of text (lines or encoded-words) decoded one after another. */
static char *decode_runs(const char *text, const char *open, const char *close)
{
    abuf_t out;
    abuf_init(&out, NULL, 0);
    for (const char *p = text; (p = strstr(p, open));) {
        p += strlen(open);
        const char *end = strstr(p, close);
        if (!end)
            break;
        unsigned char bin[LINE_MAX_TEXT];
        size_t n = 0;
        if (sodium_base642bin(bin, sizeof(bin), p, (size_t)(end - p), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL))
            break;
        abuf_append(&out, bin, n);
        p = end;
    }
    return out.data;
}

/* text with each lone LF made CRLF, as the body is sent */
static char *canonical(const char *text)
{
    abuf_t out;
    abuf_init(&out, NULL, 0);
    for (const char *p = text; *p; p++) {
        if (*p == '\n' && (p == text || p[-1] != '\r'))
            abuf_puts(&out, "\r");
        abuf_append(&out, p, 1);
    }
    return out.data;
}

TEST(mail_message_body_is_base64_of_crlf_text_of_any_length)
{
    abuf_t body;
    abuf_init(&body, NULL, 0);
    for (int i = 0; i < 3000; i++) /* grows the message many times over */
        abuf_printf(&body, "строка %d\n%s", i, i % 7 ? "" : "\n\r\n");
    abuf_t m;
    abuf_init(&m, NULL, 0);
    mail_message(&m, FROM, "example.com", "42", "ann@example.com", "Your code", body.data);
    CHECK(lines_within(m.data, LINE_MAX_TEXT));
    char *sep = strstr(m.data, "\r\n\r\n");
    CHECK(sep);
    *sep = '\0';
    CHECK(strstr(m.data, "From: " FROM "\r\nTo: ann@example.com\r\nSubject: Your code\r\nDate: "));
    CHECK(strstr(m.data, "\r\nMessage-ID: <42.") && strstr(m.data, "@example.com>\r\nMIME-Version: 1.0\r\n"));
    CHECK(strstr(m.data, "\r\nContent-Transfer-Encoding: base64"));
    char *decoded = decode_runs(sep + 2, "\r\n", "\r\n"), *expected = canonical(body.data);
    CHECK_STR(decoded, expected);
    free(decoded);
    free(expected);
    abuf_free(&m);
    abuf_free(&body);
}

TEST(mail_message_headers_are_encoded_words_on_folded_lines)
{
    const char *subject = "Подтвердите новый адрес в hourglass, пожалуйста, и побыстрее\r\nBcc: evil@example.com";
    abuf_t m;
    abuf_init(&m, NULL, 0);
    mail_message(&m, "Песочные часы <robot@example.com>", "example.com", "7", "ann@example.com", subject, "");
    CHECK(lines_within(m.data, LINE_MAX_TEXT));
    CHECK(!strstr(m.data, "\r\nBcc:")); /* a control byte is encoded, never a line of its own */
    CHECK(!strncmp(m.data, "From: =?UTF-8?B?", strlen("From: =?UTF-8?B?")) &&
          strstr(m.data, "?= <robot@example.com>\r\nTo: "));
    for (const char *w = m.data; (w = strstr(w, "=?UTF-8?B?")); w++)
        CHECK(strstr(w, "?=") && (size_t)(strstr(w, "?=") + 2 - w) <= WORD_MAX);
    char *head_end = strstr(m.data, "\r\nDate: ");
    CHECK(head_end);
    *head_end = '\0';
    char *decoded = decode_runs(strstr(m.data, "\r\nSubject: "), "=?UTF-8?B?", "?=");
    CHECK_STR(decoded, subject);
    free(decoded);
    abuf_free(&m);
}

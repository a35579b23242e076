#include "hourglass/problem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/json_text.h"

typedef struct {
    int status;
    const char *reason;
} status_reason_t;

static const status_reason_t reasons[] = {
    {.status = 100, .reason = "Continue"},
    {.status = 200, .reason = "OK"},
    {.status = 201, .reason = "Created"},
    {.status = 202, .reason = "Accepted"},
    {.status = 204, .reason = "No Content"},
    {.status = 304, .reason = "Not Modified"},
    {.status = 400, .reason = "Bad Request"},
    {.status = 401, .reason = "Unauthorized"},
    {.status = 403, .reason = "Forbidden"},
    {.status = 404, .reason = "Not Found"},
    {.status = 405, .reason = "Method Not Allowed"},
    {.status = 408, .reason = "Request Timeout"},
    {.status = 409, .reason = "Conflict"},
    {.status = 410, .reason = "Gone"},
    {.status = 411, .reason = "Length Required"},
    {.status = 413, .reason = "Content Too Large"},
    {.status = 414, .reason = "URI Too Long"},
    {.status = 415, .reason = "Unsupported Media Type"},
    {.status = 422, .reason = "Unprocessable Content"},
    {.status = 429, .reason = "Too Many Requests"},
    {.status = 431, .reason = "Request Header Fields Too Large"},
    {.status = 500, .reason = "Internal Server Error"},
    {.status = 501, .reason = "Not Implemented"},
    {.status = 502, .reason = "Bad Gateway"},
    {.status = 503, .reason = "Service Unavailable"},
    {.status = 504, .reason = "Gateway Timeout"},
};

const char *http_status_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return status < 500 ? "Client Error" : "Server Error";
}

/* The texts people read. `code` is the stable word clients branch on. */
typedef struct {
    const char *code;
    const char *en;
    const char *ru;
} problem_text_t;

static const problem_text_t catalogue[] = {
    {.code = "malformed_request", .en = "The request could not be parsed.", .ru = "Запрос не удалось разобрать."},
    {.code = "not_found", .en = "Nothing was found at this address.", .ru = "По этому адресу ничего не найдено."},
    {.code = "method_not_allowed", .en = "This method is not allowed here; see the Allow header.",
     .ru = "Этот метод здесь не разрешён; см. заголовок Allow."},
    {.code = "request_timeout", .en = "The request did not arrive in time.", .ru = "Запрос не пришёл вовремя."},
    {.code = "length_required", .en = "A Content-Length or chunked body is required.",
     .ru = "Требуется Content-Length или тело по частям (chunked)."},
    {.code = "payload_too_large", .en = "The request body is too large.", .ru = "Тело запроса слишком велико."},
    {.code = "uri_too_long", .en = "The request URL is too long.", .ru = "Адрес запроса слишком длинный."},
    {.code = "unsupported_media_type", .en = "This content type is not supported here.",
     .ru = "Этот тип содержимого здесь не поддерживается."},
    {.code = "headers_too_large", .en = "The request headers are too large or too many.",
     .ru = "Заголовки запроса слишком велики или их слишком много."},
    {.code = "internal_error", .en = "Something went wrong on our side.",
     .ru = "На нашей стороне что-то пошло не так."},
    {.code = "not_implemented", .en = "This transfer coding is not implemented; send the body as it is or chunked.",
     .ru = "Такое кодирование передачи не поддерживается; отправьте тело как есть или chunked."},
    {.code = "database_unavailable", .en = "The database is unavailable; try again shortly.",
     .ru = "База данных недоступна; повторите попытку чуть позже."},
    {.code = "overloaded", .en = "The server is busy; try again shortly.",
     .ru = "Сервер перегружен; повторите попытку чуть позже."},
    {.code = "shutting_down", .en = "The server is shutting down; try again shortly.",
     .ru = "Сервер останавливается; повторите попытку чуть позже."},
    {.code = "timeout", .en = "The request took too long.", .ru = "Запрос выполнялся слишком долго."},
    {.code = "conflict", .en = "This value is already taken.", .ru = "Это значение уже занято."},
    {.code = "in_use", .en = "Other records still refer to this one.", .ru = "На эту запись ещё ссылаются другие."},
    {.code = "validation_failed", .en = "Some fields are not valid.", .ru = "Некоторые поля заполнены неверно."},
    {.code = "malformed_json", .en = "The request body is not valid JSON.",
     .ru = "Тело запроса не является корректным JSON."},
    {.code = "not_authenticated", .en = "Sign in first: no access token was sent.",
     .ru = "Сначала войдите: токен доступа не передан."},
    {.code = "invalid_token", .en = "The token is not valid.", .ru = "Токен недействителен."},
    {.code = "token_expired", .en = "The access token has expired; refresh it.",
     .ru = "Срок действия токена истёк; обновите его."},
    {.code = "session_revoked", .en = "This session has ended; sign in again.", .ru = "Сеанс завершён; войдите снова."},
    {.code = "token_reused", .en = "This refresh token was already used; the session has been ended.",
     .ru = "Этот токен обновления уже использован; сеанс завершён."},
    {.code = "origin_not_allowed", .en = "Requests with cookies must come from an allowed origin.",
     .ru = "Запросы с cookie должны приходить с разрешённого источника."},
    {.code = "forbidden", .en = "You are not allowed to do this.", .ru = "У вас нет прав на это действие."},
    {.code = "email_taken", .en = "An account with this e-mail already exists.",
     .ru = "Учётная запись с этим адресом уже есть."},
    {.code = "username_taken", .en = "This username is taken.", .ru = "Это имя пользователя занято."},
    {.code = "invalid_code", .en = "The code is wrong or no longer valid.",
     .ru = "Код неверен или больше не действует."},
    {.code = "code_expired", .en = "The code has expired; ask for a new one.",
     .ru = "Срок действия кода истёк; запросите новый."},
    {.code = "invalid_credentials", .en = "Wrong e-mail, username or password.",
     .ru = "Неверный адрес, имя пользователя или пароль."},
    {.code = "email_not_verified", .en = "Confirm your e-mail address first.",
     .ru = "Сначала подтвердите адрес электронной почты."},
    {.code = "rate_limited", .en = "Too many attempts; try again later.",
     .ru = "Слишком много попыток; повторите позже."},
    {.code = "wrong_password", .en = "The password is wrong.", .ru = "Неверный пароль."},
    {.code = "unknown_time_zone", .en = "This time zone is not known; use an IANA name such as Europe/Moscow.",
     .ru = "Такой часовой пояс неизвестен; укажите имя из базы IANA, например Europe/Moscow."},
    {.code = "premium_required", .en = "This needs a premium account.", .ru = "Для этого нужен премиум-аккаунт."},
    {.code = "out_of_stock", .en = "Some items are not in stock in the amounts asked; see items.",
     .ru = "Некоторых товаров нет в нужном количестве; см. items."},
    {.code = "price_changed", .en = "Some prices have changed; see items.",
     .ru = "Некоторые цены изменились; см. items."},
    {.code = "not_configured", .en = "This service is not configured on the server.",
     .ru = "Эта служба не настроена на сервере."},
    {.code = "gateway_error", .en = "The payment gateway could not be used; try again later.",
     .ru = "Платёжный шлюз недоступен; повторите попытку позже."},
    {.code = "gateway_timeout", .en = "The payment gateway did not answer in time; try again later.",
     .ru = "Платёжный шлюз не ответил вовремя; повторите попытку позже."},
    {.code = "payment_not_registered", .en = "No payment has been registered for this order yet.",
     .ru = "Оплата этого заказа ещё не зарегистрирована."},
    {.code = "invalid_bot_token", .en = "The X-Bot-Token header is missing or wrong.",
     .ru = "Заголовок X-Bot-Token отсутствует или неверен."},
};

const char *problem_detail(const char *code, http_lang_t lang)
{
    for (size_t i = 0; i < sizeof(catalogue) / sizeof(catalogue[0]); i++)
        if (!strcmp(catalogue[i].code, code))
            return lang == LANG_RU && catalogue[i].ru ? catalogue[i].ru : catalogue[i].en;
    return NULL;
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

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
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
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
    {"malformed_request", "The request could not be parsed.", "Запрос не удалось разобрать."},
    {"not_found", "Nothing was found at this address.", "По этому адресу ничего не найдено."},
    {"method_not_allowed", "This method is not allowed here; see the Allow header.",
     "Этот метод здесь не разрешён; см. заголовок Allow."},
    {"request_timeout", "The request did not arrive in time.", "Запрос не пришёл вовремя."},
    {"length_required", "A Content-Length or chunked body is required.",
     "Требуется Content-Length или тело по частям (chunked)."},
    {"payload_too_large", "The request body is too large.", "Тело запроса слишком велико."},
    {"uri_too_long", "The request URL is too long.", "Адрес запроса слишком длинный."},
    {"unsupported_media_type", "This content type is not supported here.",
     "Этот тип содержимого здесь не поддерживается."},
    {"headers_too_large", "The request headers are too large or too many.",
     "Заголовки запроса слишком велики или их слишком много."},
    {"internal_error", "Something went wrong on our side.", "На нашей стороне что-то пошло не так."},
    {"not_implemented", "This transfer coding is not implemented; send the body as it is or chunked.",
     "Такое кодирование передачи не поддерживается; отправьте тело как есть или chunked."},
    {"database_unavailable", "The database is unavailable; try again shortly.",
     "База данных недоступна; повторите попытку чуть позже."},
    {"overloaded", "The server is busy; try again shortly.", "Сервер перегружен; повторите попытку чуть позже."},
    {"shutting_down", "The server is shutting down; try again shortly.",
     "Сервер останавливается; повторите попытку чуть позже."},
    {"timeout", "The request took too long.", "Запрос выполнялся слишком долго."},
    {"conflict", "This value is already taken.", "Это значение уже занято."},
    {"in_use", "Other records still refer to this one.", "На эту запись ещё ссылаются другие."},
    {"validation_failed", "Some fields are not valid.", "Некоторые поля заполнены неверно."},
    {"malformed_json", "The request body is not valid JSON.", "Тело запроса не является корректным JSON."},
    {"not_authenticated", "Sign in first: no access token was sent.", "Сначала войдите: токен доступа не передан."},
    {"invalid_token", "The token is not valid.", "Токен недействителен."},
    {"token_expired", "The access token has expired; refresh it.", "Срок действия токена истёк; обновите его."},
    {"session_revoked", "This session has ended; sign in again.", "Сеанс завершён; войдите снова."},
    {"token_reused", "This refresh token was already used; the session has been ended.",
     "Этот токен обновления уже использован; сеанс завершён."},
    {"origin_not_allowed", "Requests with cookies must come from an allowed origin.",
     "Запросы с cookie должны приходить с разрешённого источника."},
    {"forbidden", "You are not allowed to do this.", "У вас нет прав на это действие."},
    {"email_taken", "An account with this e-mail already exists.", "Учётная запись с этим адресом уже есть."},
    {"username_taken", "This username is taken.", "Это имя пользователя занято."},
    {"invalid_code", "The code is wrong or no longer valid.", "Код неверен или больше не действует."},
    {"code_expired", "The code has expired; ask for a new one.", "Срок действия кода истёк; запросите новый."},
    {"invalid_credentials", "Wrong e-mail, username or password.", "Неверный адрес, имя пользователя или пароль."},
    {"email_not_verified", "Confirm your e-mail address first.", "Сначала подтвердите адрес электронной почты."},
    {"rate_limited", "Too many attempts; try again later.", "Слишком много попыток; повторите позже."},
    {"wrong_password", "The password is wrong.", "Неверный пароль."},
    {"unknown_time_zone", "This time zone is not known; use an IANA name such as Europe/Moscow.",
     "Такой часовой пояс неизвестен; укажите имя из базы IANA, например Europe/Moscow."},
    {"premium_required", "This needs a premium account.", "Для этого нужен премиум-аккаунт."},
    {"out_of_stock", "Some items are not in stock in the amounts asked; see items.",
     "Некоторых товаров нет в нужном количестве; см. items."},
    {"price_changed", "Some prices have changed; see items.", "Некоторые цены изменились; см. items."},
    {"not_configured", "This service is not configured on the server.", "Эта служба не настроена на сервере."},
    {"gateway_error", "The payment gateway could not be used; try again later.",
     "Платёжный шлюз недоступен; повторите попытку позже."},
    {"gateway_timeout", "The payment gateway did not answer in time; try again later.",
     "Платёжный шлюз не ответил вовремя; повторите попытку позже."},
    {"payment_not_registered", "No payment has been registered for this order yet.",
     "Оплата этого заказа ещё не зарегистрирована."},
    {"invalid_bot_token", "The X-Bot-Token header is missing or wrong.",
     "Заголовок X-Bot-Token отсутствует или неверен."},
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

#ifndef HOURGLASS_PROBLEM_H
#define HOURGLASS_PROBLEM_H
#include <stddef.h>

#include "hourglass/arena.h"
#include "hourglass/http.h"

/* RFC 9457 problem documents with details in English or Russian. */
const char *http_status_reason(int status);
http_lang_t http_lang_from_accept(const char *value, size_t len);
/* The catalogue's text for a code; English when the code has no Russian text;
 * NULL when the code is unknown. */
const char *problem_detail(const char *code, http_lang_t lang);
/* The words after a field's name for a field error's code (body.h); the code itself when it has none. */
const char *problem_field_message(const char *code, http_lang_t lang);
/* Renders {"type","title","status","code","detail"[,"errors"]} into the arena.
 * errors_json is a JSON array text or NULL. */
char *problem_render(arena_t *a, int status, const char *code, const char *detail,
                     const char *errors_json, size_t *len);
/* The same with member_json (a JSON text, or NULL) as the member `member`. */
char *problem_render_member(arena_t *a, int status, const char *code, const char *detail, const char *member,
                            const char *member_json, size_t *len);

#endif

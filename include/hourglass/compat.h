#ifndef HOURGLASS_COMPAT_H
#define HOURGLASS_COMPAT_H
#include <stddef.h>

#include <jansson.h>

#include "hourglass/arena.h"

/* What seed 000's routes (api_compat.c) translate without a request, so
 * that it can be tested and fuzzed apart from them: values and names
 * (api_compat_values.c; docs/seed000.md §10 has the choices D3, D7,
 * D10-D12) and the proof of a checked password (api_compat_proof.c). */

/* How a value travels between the seed's field and the /api/v1 one. */
typedef enum {
    COMPAT_TEXT,    /* a string; null is answered "" */
    COMPAT_INT,     /* a number, or a string of digits in the request */
    COMPAT_ID,      /* answered as a string; a string of digits in the request is the id */
    COMPAT_CHECKED, /* the seed's boolean is /api/v1's status "done" */
    COMPAT_TIME,    /* RFC 3339 in, a time without a zone taken as UTC; answered as the naive UTC wall clock */
    COMPAT_DAY,     /* a date-time in (without a zone: UTC), its UTC date stored; answered as that day's midnight */
    COMPAT_COLOR,   /* react-agenda's class names "color-1".."color-6" are fixed colours */
} compat_kind_t;

#define COMPAT_IN 1u  /* read from the seed's requests */
#define COMPAT_OUT 2u /* written into its answers */
#define COMPAT_BOTH (COMPAT_IN | COMPAT_OUT)

typedef struct {
    const char *seed;
    const char *v1;
    compat_kind_t kind;
    unsigned dir; /* COMPAT_IN, COMPAT_OUT or both */
} compat_name_t;

/* The names of one of the seed's objects. */
typedef struct {
    const compat_name_t *names;
    size_t count;
} compat_shape_t;

/* A value of the seed's request as /api/v1 takes it (a new reference); what
 * cannot be translated goes on as it is, for /api/v1 to refuse. */
json_t *compat_value_in(compat_kind_t kind, json_t *v);
/* A value of an /api/v1 answer (v may be NULL: absent) as the seed reads it. */
json_t *compat_value_out(compat_kind_t kind, json_t *v);
/* The seed's object as /api/v1's: its known fields renamed and translated,
 * the others (the seed sends its ids back in bodies) left out. */
json_t *compat_shape_in(const compat_shape_t *sh, json_t *seed);
/* An /api/v1 object as the seed's: every COMPAT_OUT name. */
json_t *compat_shape_out(const compat_shape_t *sh, json_t *v1);
/* The "code" of an /api/v1 problem document, or "". */
const char *compat_problem_code(json_t *problem);
/* Has the problem a field error on field with code (NULL: any)? */
int compat_has_error(json_t *problem, const char *field, const char *code);
/* One text of a 422's field errors ("field: message; ..."), in the seed's names. */
const char *compat_validation_text(arena_t *a, const compat_shape_t *sh, json_t *problem);
/* A path segment's %XX escapes decoded (a '+' stays a '+': this is no
 * form), in a; NULL when malformed or when it decodes to a NUL. */
const char *compat_path_segment(arena_t *a, const char *s);

/* How long a checked old password may be used to set a new one. */
#define COMPAT_PROOF_SECONDS 300
/* A new key for this process's proofs: those of a restart do not open. */
void compat_proof_init(void);
/* The proof that session_id knew password at now (seconds since 1970), as base64url text in a. */
const char *compat_proof_seal(arena_t *a, long long session_id, long long now, const char *password);
/* The password of a proof sealed for session_id that has not expired at
 * now, in a; NULL for anything else. */
const char *compat_proof_open(arena_t *a, long long session_id, long long now, const char *proof);

#endif

/* Seed 000's translation without a request (api_compat_values.c) and the
 * proof of a checked password (api_compat_proof.c); the routes themselves
 * are test/api/test_compat_seed000*.py's. */
#include <sodium.h>

#include "hourglass/compat.h"
#include "unit.h"

/* v (taken) through compat_value_in / _out, as compact JSON text in out. */
static const char *translated(int in, compat_kind_t kind, json_t *v, char *out, size_t cap)
{
    json_t *t = in ? compat_value_in(kind, v) : compat_value_out(kind, v);
    char *text = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out, cap, "%s", text ? text : "(none)");
    free(text);
    json_decref(t);
    json_decref(v);
    return out;
}

#define IN(kind, v) translated(1, kind, v, buf, sizeof(buf))
#define OUT(kind, v) translated(0, kind, v, buf, sizeof(buf))

TEST(compat_values_ids_booleans_colours)
{
    char buf[128];
    CHECK_STR(IN(COMPAT_ID, json_string("42")), "42");
    CHECK_STR(IN(COMPAT_ID, json_string("007")), "7");
    CHECK_STR(IN(COMPAT_ID, json_string("1234567890123456789")), "\"1234567890123456789\""); /* 19 digits: as sent */
    CHECK_STR(IN(COMPAT_ID, json_string("undefined")), "\"undefined\"");
    CHECK_STR(IN(COMPAT_INT, json_string("")), "\"\"");
    CHECK_STR(IN(COMPAT_INT, json_integer(5)), "5");
    CHECK_STR(OUT(COMPAT_ID, json_integer(42)), "\"42\"");
    CHECK_STR(IN(COMPAT_CHECKED, json_true()), "\"done\"");
    CHECK_STR(IN(COMPAT_CHECKED, json_false()), "\"todo\"");
    CHECK_STR(OUT(COMPAT_CHECKED, json_string("in_progress")), "false");
    CHECK_STR(OUT(COMPAT_CHECKED, json_string("done")), "true");
    CHECK_STR(IN(COMPAT_COLOR, json_string("color-2")), "\"#eaf36e\"");
    CHECK_STR(IN(COMPAT_COLOR, json_string("color-7")), "\"color-7\"");
    CHECK_STR(IN(COMPAT_COLOR, json_string("color-22")), "\"color-22\"");
    CHECK_STR(OUT(COMPAT_COLOR, json_string("#EAF36E")), "\"color-2\"");
    CHECK_STR(OUT(COMPAT_COLOR, json_null()), "\"\"");
    CHECK_STR(OUT(COMPAT_TEXT, json_null()), "\"\"");
    CHECK_STR(OUT(COMPAT_TEXT, NULL), "\"\"");
    CHECK_STR(OUT(COMPAT_INT, NULL), "null");
}

/* Issue 19: the seed's backend took a date-time without a zone; it is UTC. */
TEST(compat_values_naive_times_are_utc)
{
    char buf[128];
    CHECK_STR(IN(COMPAT_TIME, json_string("2026-12-03T09:00:00")), "\"2026-12-03T09:00:00Z\"");
    CHECK_STR(IN(COMPAT_TIME, json_string("2026-12-03 09:00:00.5")), "\"2026-12-03 09:00:00.5Z\"");
    CHECK_STR(IN(COMPAT_TIME, json_string("2026-12-03T09:00:00+03:00")), "\"2026-12-03T09:00:00+03:00\"");
    CHECK_STR(IN(COMPAT_TIME, json_string("2026-12-03T24:00:00")), "\"2026-12-03T24:00:00\""); /* for /api/v1 to refuse */
    CHECK_STR(IN(COMPAT_TIME, json_string("2026-12-03")), "\"2026-12-03\"");
    CHECK_STR(OUT(COMPAT_TIME, json_string("2026-12-03T07:30:00Z")), "\"2026-12-03T07:30:00\"");
    CHECK_STR(IN(COMPAT_DAY, json_string("2026-12-01T00:00:00.000Z")), "\"2026-12-01\"");
    CHECK_STR(IN(COMPAT_DAY, json_string("2026-12-01T00:00:00")), "\"2026-12-01\"");
    CHECK_STR(IN(COMPAT_DAY, json_string("2026-12-01T02:00:00+03:00")), "\"2026-11-30\"");
    CHECK_STR(IN(COMPAT_DAY, json_string("2026-12-31T22:00:00-05:30")), "\"2027-01-01\"");
    CHECK_STR(IN(COMPAT_DAY, json_string("2026-12-01")), "\"2026-12-01\"");
    CHECK_STR(IN(COMPAT_DAY, json_string("9999-12-31T23:00:00-05:00")), "\"9999-12-31T23:00:00-05:00\"");
    CHECK_STR(OUT(COMPAT_DAY, json_string("2026-12-01")), "\"2026-12-01T00:00:00\"");
    CHECK_STR(OUT(COMPAT_DAY, json_string("soon")), "\"soon\"");
}

static const compat_name_t names[] = {
    {"idX", "id", COMPAT_ID, COMPAT_OUT},
    {"textOfItem", "title", COMPAT_TEXT, COMPAT_BOTH},
    {"isChecked", "status", COMPAT_CHECKED, COMPAT_BOTH},
};
static const compat_shape_t shape = {names, sizeof(names) / sizeof(names[0])};

TEST(compat_shapes_and_error_texts)
{
    json_t *seed = json_pack("{s:s, s:s, s:b}", "idX", "9", "textOfItem", "хлеб", "isChecked", 1);
    json_t *v1 = compat_shape_in(&shape, seed);
    char *text = json_dumps(v1, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    int same = text && !strcmp(text, "{\"status\":\"done\",\"title\":\"\\u0445\\u043B\\u0435\\u0431\"}");
    free(text);
    json_object_set_new(v1, "id", json_integer(9));
    json_t *back = compat_shape_out(&shape, v1);
    int round = json_equal(back, seed);
    json_decref(seed);
    json_decref(v1);
    json_decref(back);
    CHECK(same && round);

    arena_t a;
    arena_init(&a, NULL, 0);
    json_t *problem = json_loads("{\"code\":\"validation_failed\",\"errors\":[{\"field\":\"title\",\"code\":\"too_long\","
                                 "\"message\":\"длиннее 200\"},{\"field\":\"due\",\"code\":\"not_found\","
                                 "\"message\":\"нет\"}]}", 0, NULL);
    CHECK_STR(compat_validation_text(&a, &shape, problem), "textOfItem: длиннее 200; due: нет");
    CHECK_STR(compat_problem_code(problem), "validation_failed");
    CHECK(compat_has_error(problem, NULL, "not_found") && compat_has_error(problem, "title", "too_long"));
    CHECK(!compat_has_error(problem, "title", "not_found"));
    json_decref(problem);
    CHECK_STR(compat_problem_code(NULL), "");
    CHECK_STR(compat_path_segment(&a, "%20a+b%2F"), " a+b/");
    CHECK(compat_path_segment(&a, "a%2") == NULL && compat_path_segment(&a, "a%00b") == NULL);
    CHECK(compat_path_segment(&a, "%zz") == NULL);
    arena_reset(&a);
}

/* Issue 19: the proof was read with "%lld %lld %n", which skipped the
 * password's own leading blanks, so such a password could never be changed. */
TEST(compat_proof_keeps_the_password_as_checked)
{
    CHECK(sodium_init() >= 0);
    compat_proof_init();
    arena_t a;
    arena_init(&a, NULL, 0);
    const char *const passwords[] = {"Passw0rd!", "  Passw0rd!", " ", "tail  ", "\t\ttab", "a b  c"};
    long long now = 1800000000;
    for (size_t i = 0; i < sizeof(passwords) / sizeof(passwords[0]); i++) {
        const char *proof = compat_proof_seal(&a, 7, now, passwords[i]);
        CHECK_STR(compat_proof_open(&a, 7, now + COMPAT_PROOF_SECONDS, proof), passwords[i]);
        CHECK(compat_proof_open(&a, 8, now, proof) == NULL);                             /* another session */
        CHECK(compat_proof_open(&a, 7, now + COMPAT_PROOF_SECONDS + 1, proof) == NULL); /* expired */
    }
    char *proof = arena_strdup(&a, compat_proof_seal(&a, 7, now, "x"));
    proof[strlen(proof) / 2] ^= 1;
    CHECK(compat_proof_open(&a, 7, now, proof) == NULL);
    CHECK(compat_proof_open(&a, 7, now, "") == NULL && compat_proof_open(&a, 7, now, "not base64!") == NULL);
    compat_proof_init(); /* a restart: the proofs made before no longer open */
    CHECK(compat_proof_open(&a, 7, now, compat_proof_seal(&a, 7, now, "x")) != NULL);
    const char *old = arena_strdup(&a, compat_proof_seal(&a, 7, now, "y"));
    compat_proof_init();
    CHECK(compat_proof_open(&a, 7, now, old) == NULL);
    arena_reset(&a);
}

/* One argon2id verification at the server's default cost (INTERACTIVE: 2
 * passes over 64 MiB), timed two ways, each alone on an idle core:
 *   1. libsodium's crypto_pwhash_str_verify: the reference the login ceiling
 *      is defined by (cores / this time);
 *   2. the server's own auth_hash_verify (libargon2 in a kept arena), the
 *      stricter ceiling: what the server could do with no other cost at all.
 * Prints "SODIUM_MS OWN_MS". Built by bench/run with src/auth_hash.c. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hourglass/auth.h"

#define ROUNDS 10

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    char out[crypto_pwhash_STRBYTES];
    const char *pw = "Bench-pass-123";
    if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return 1;
    double a = now_ms();
    for (int i = 0; i < ROUNDS; i++)
        if (crypto_pwhash_str_verify(out, pw, strlen(pw)))
            return 1;
    double sodium = (now_ms() - a) / ROUNDS;
    if (auth_hash_verify(out, pw, strlen(pw))) /* maps the arena, as the server's first login does */
        return 1;
    a = now_ms();
    for (int i = 0; i < ROUNDS; i++)
        if (auth_hash_verify(out, pw, strlen(pw)))
            return 1;
    double own = (now_ms() - a) / ROUNDS;
    printf("%.3f %.3f\n", sodium, own);
    return 0;
}

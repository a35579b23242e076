/* One argon2id hash at the server's default cost (crypto_pwhash_str,
 * INTERACTIVE), timed: the ceiling for logins is cores / this time. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    char out[crypto_pwhash_STRBYTES];
    const char *pw = "Bench-pass-123";
    const int rounds = 10;
    struct timespec a, b;
    if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < rounds; i++)
        if (crypto_pwhash_str_verify(out, pw, strlen(pw)))
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / rounds;
    printf("%.3f\n", ms);
    return 0;
}

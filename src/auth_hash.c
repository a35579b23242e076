/* argon2id in libsodium's string format, computed by libargon2 in memory we
 * keep between hashes.
 *
 * libsodium maps a fresh 64 MiB for every hash and unmaps it after: 16 384
 * page faults with the kernel zeroing each page, then a TLB shoot-down that
 * interrupts every core running one of our threads, the event loops among
 * them. Measured here: a sixth of each hash was kernel time, and two threads
 * hashing at once managed 0.85 x twice the single-hash rate. libargon2 lets
 * us give it the memory, so each pool thread reuses an arena; the function
 * computed and the string stored are the same, and each implementation
 * verifies the other's hashes (test_auth.c). Arenas idle for a while are
 * handed back to the system (auth_hash_release_idle). */
#include <argon2.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <uv.h>

#include "hourglass/auth.h"

#define SALT_BYTES 16 /* libsodium's crypto_pwhash_SALTBYTES */
#define HASH_BYTES 32 /* libsodium's string hashes */
#define MAX_DECODED 64
#define MAX_MEMORY_KIB (1u << 20) /* libsodium's MEMLIMIT_SENSITIVE, 1 GiB */
#define MAX_PASSES 64u
#define ARENA_SLOTS 64 /* the most libuv pool threads main.c asks for */

typedef struct {
    uint8_t *mem; /* NULL: slot empty, or being mapped by its taker */
    size_t len;
    uint64_t idle_since_ms;
    int busy;
} hash_arena_t;

static hash_arena_t arenas[ARENA_SLOTS];
static pthread_mutex_t arenas_lock = PTHREAD_MUTEX_INITIALIZER;

static uint8_t *map_arena(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Huge pages where the system allows them on request: argon2 reads the
     * arena at random, and 4 KiB pages miss the TLB on most of those reads. */
    (void)madvise(p, len, MADV_HUGEPAGE);
    return p;
}

/* libargon2's allocate_cbk: an idle arena of this size, else a slot to map
 * one into (a cost change remaps); the kernel work happens outside the lock. */
static int take_hash_arena(uint8_t **memory, size_t len)
{
    hash_arena_t *slot = NULL, *spare = NULL;
    uint8_t *old = NULL;
    size_t old_len = 0;
    pthread_mutex_lock(&arenas_lock);
    for (int i = 0; i < ARENA_SLOTS && !slot; i++) {
        hash_arena_t *a = &arenas[i];
        if (a->busy)
            continue;
        if (a->mem && a->len == len)
            slot = a;
        /* An idle arena of another size before an empty slot: never more
         * arenas than threads ever hashed at once. */
        else if (!spare || (!spare->mem && a->mem))
            spare = a;
    }
    if (!slot && spare) {
        slot = spare;
        old = slot->mem, old_len = slot->len;
        slot->mem = NULL;
    }
    if (slot)
        slot->busy = 1;
    pthread_mutex_unlock(&arenas_lock);
    if (old)
        munmap(old, old_len);
    if (!slot) { /* every slot busy: more threads than slots, map for this hash alone */
        *memory = map_arena(len);
        return *memory ? ARGON2_OK : ARGON2_MEMORY_ALLOCATION_ERROR;
    }
    if (!slot->mem) {
        uint8_t *mem = map_arena(len);
        pthread_mutex_lock(&arenas_lock);
        slot->mem = mem;
        slot->len = len;
        slot->busy = mem != NULL;
        pthread_mutex_unlock(&arenas_lock);
        if (!mem)
            return ARGON2_MEMORY_ALLOCATION_ERROR;
    }
    *memory = slot->mem;
    return ARGON2_OK;
}

/* libargon2's free_cbk; it has already wiped the memory. */
static void give_hash_arena(uint8_t *memory, size_t len)
{
    int pooled = 0;
    pthread_mutex_lock(&arenas_lock);
    for (int i = 0; i < ARENA_SLOTS; i++) {
        if (arenas[i].busy && arenas[i].mem == memory) {
            arenas[i].busy = 0;
            arenas[i].idle_since_ms = uv_hrtime() / 1000000;
            pooled = 1;
            break;
        }
    }
    pthread_mutex_unlock(&arenas_lock);
    if (!pooled)
        munmap(memory, len);
}

void auth_hash_release_idle(uint64_t now_ms, uint64_t idle_ms)
{
    hash_arena_t dropped[ARENA_SLOTS];
    int n = 0;
    pthread_mutex_lock(&arenas_lock);
    for (int i = 0; i < ARENA_SLOTS; i++) {
        hash_arena_t *a = &arenas[i];
        if (a->mem && !a->busy && now_ms - a->idle_since_ms >= idle_ms) {
            dropped[n++] = *a;
            a->mem = NULL;
        }
    }
    pthread_mutex_unlock(&arenas_lock);
    for (int i = 0; i < n; i++)
        munmap(dropped[i].mem, dropped[i].len);
}

void auth_hash_release_idle_now(uint64_t idle_ms) { auth_hash_release_idle(uv_hrtime() / 1000000, idle_ms); }

int auth_hash_arena_count(size_t *bytes)
{
    int n = 0;
    size_t total = 0;
    pthread_mutex_lock(&arenas_lock);
    for (int i = 0; i < ARENA_SLOTS; i++) {
        if (arenas[i].mem) {
            n++;
            total += arenas[i].len;
        }
    }
    pthread_mutex_unlock(&arenas_lock);
    if (bytes)
        *bytes = total;
    return n;
}

static int argon2id_raw(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len, uint32_t passes,
                        uint32_t memory_kib, uint8_t *out, size_t out_len)
{
    argon2_context ctx = {
        .out = out,
        .outlen = (uint32_t)out_len,
        .pwd = (uint8_t *)pw, /* libargon2 only reads it: no ARGON2_FLAG_CLEAR_PASSWORD */
        .pwdlen = (uint32_t)pw_len,
        .salt = (uint8_t *)salt,
        .saltlen = (uint32_t)salt_len,
        .t_cost = passes,
        .m_cost = memory_kib,
        .lanes = 1,
        .threads = 1,
        .version = ARGON2_VERSION_13,
        .allocate_cbk = take_hash_arena,
        .free_cbk = give_hash_arena,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    return argon2_ctx(&ctx, Argon2_id) == ARGON2_OK ? 0 : -1;
}

int auth_hash_encode(const char *pw, size_t pw_len, uint32_t passes, uint32_t memory_kib, char *out, size_t cap)
{
    uint8_t salt[SALT_BYTES], hash[HASH_BYTES];
    char salt_b64[sodium_base64_ENCODED_LEN(SALT_BYTES, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    char hash_b64[sodium_base64_ENCODED_LEN(HASH_BYTES, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    randombytes_buf(salt, sizeof(salt));
    if (argon2id_raw(pw, pw_len, salt, sizeof(salt), passes, memory_kib, hash, sizeof(hash)))
        return -1;
    sodium_bin2base64(salt_b64, sizeof(salt_b64), salt, sizeof(salt), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2base64(hash_b64, sizeof(hash_b64), hash, sizeof(hash), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_memzero(hash, sizeof(hash));
    int n = snprintf(out, cap, "$argon2id$v=19$m=%u,t=%u,p=1$%s$%s", memory_kib, passes, salt_b64, hash_b64);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* A decimal without sign, spaces or leading zeros, at most max; advances *s. */
static int parse_u32(const char **s, uint32_t max, uint32_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return -1;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p++ - '0');
        if (v > max)
            return -1;
    }
    *s = p;
    *out = (uint32_t)v;
    return 0;
}

static int expect(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n))
        return -1;
    *s += n;
    return 0;
}

/* One base64 field up to the next '$' or the end; advances *s past it. */
static int parse_b64(const char **s, uint8_t *out, size_t cap, size_t *len)
{
    const char *end = strchr(*s, '$');
    size_t n = end ? (size_t)(end - *s) : strlen(*s);
    const char *last = NULL;
    if (sodium_base642bin(out, cap, *s, n, NULL, len, &last, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) ||
        last != *s + n)
        return -1;
    *s += n;
    return 0;
}

int auth_hash_verify(const char *encoded, const char *pw, size_t pw_len)
{
    const char *s = encoded;
    uint32_t memory_kib, passes, lanes;
    uint8_t salt[MAX_DECODED], want[MAX_DECODED], got[MAX_DECODED];
    size_t salt_len, want_len;
    if (expect(&s, "$argon2id$v=19$m=") || parse_u32(&s, MAX_MEMORY_KIB, &memory_kib) || expect(&s, ",t=") ||
        parse_u32(&s, MAX_PASSES, &passes) || expect(&s, ",p=") || parse_u32(&s, 1, &lanes) || lanes != 1 ||
        expect(&s, "$") || parse_b64(&s, salt, sizeof(salt), &salt_len) || expect(&s, "$") ||
        parse_b64(&s, want, sizeof(want), &want_len) || *s)
        return -1;
    if (salt_len < ARGON2_MIN_SALT_LENGTH || want_len < ARGON2_MIN_OUTLEN || passes < ARGON2_MIN_TIME)
        return -1;
    if (argon2id_raw(pw, pw_len, salt, salt_len, passes, memory_kib, got, want_len))
        return -1;
    int rc = sodium_memcmp(got, want, want_len) == 0 ? 0 : -1;
    sodium_memzero(got, sizeof(got));
    return rc;
}

/* Seed 000's password change in two calls (docs/seed000.md, "The password
 * change"): the check of the old password leaves a proof for the change, the
 * old password sealed with a key of this process and bound to the session,
 * valid COMPAT_PROOF_SECONDS. No request here: api_compat.c carries the proof
 * in a cookie, test/unit/test_compat.c opens what it seals. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hourglass/compat.h"

static unsigned char proof_key[crypto_secretbox_KEYBYTES];

void compat_proof_init(void) { randombytes_buf(proof_key, sizeof(proof_key)); }

const char *compat_proof_seal(arena_t *a, long long session_id, long long now, const char *password)
{
    const char *plain = arena_printf(a, "%lld %lld %s", session_id, now + COMPAT_PROOF_SECONDS, password);
    size_t plen = strlen(plain), blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    unsigned char *box = arena_alloc(a, blen);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen, box, proof_key);
    size_t olen = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = arena_alloc(a, olen);
    return sodium_bin2base64(out, olen, box, blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

const char *compat_proof_open(arena_t *a, long long session_id, long long now, const char *proof)
{
    size_t clen = strlen(proof), blen = 0;
    unsigned char *box = arena_alloc(a, clen + 1);
    if (sodium_base642bin(box, clen + 1, proof, clen, NULL, &blen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        blen <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return NULL;
    size_t plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *plain = arena_alloc(a, plen + 1);
    if (crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, proof_key))
        return NULL;
    plain[plen] = '\0';
    long long sid = 0, until = 0;
    int at = 0;
    /* The password starts after exactly one space: it may begin with blanks of its own. */
    if (sscanf(plain, "%lld %lld%n", &sid, &until, &at) != 2 || plain[at] != ' ' || sid != session_id || until < now)
        return NULL;
    return plain + at + 1;
}

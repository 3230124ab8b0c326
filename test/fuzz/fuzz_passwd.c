/*
 * libFuzzer target for PHC hash strings (server/passwd.c): kz_passwd_check() on the input, and
 * kz_passwd_verify() when the hash is accepted and cheap to compute (see cheap(): not the
 * bounded but large costs a configuration may hold). An input "PHC\nPASSWORD" gives the
 * password (any bytes). Verification must answer APR_SUCCESS or APR_EMISMATCH for an accepted
 * hash, APR_EINVAL otherwise. Build and run with test/fuzz/run.sh.
 */
#include "passwd.h"

#include "fuzz_common.h"

/* The parameter field: the 2nd '$'-field, or the 3rd after a "v=" field. */
static const char *param_field(const char *phc, size_t *len)
{
    const char *f = phc;

    for (int i = 0; i < 2; i++) {
        if (!(f = strchr(f, '$'))) {
            return NULL;
        }
        f++;
    }
    if (!strncmp(f, "v=", 2) && (f = strchr(f, '$')) != NULL) {
        f++;
    }
    if (!f) {
        return NULL;
    }
    *len = strcspn(f, "$");
    return f;
}

/* The value of parameter name in field f (len bytes), or def when absent or malformed. */
static unsigned long param(const char *f, size_t len, const char *name, unsigned long def)
{
    size_t n = strlen(name);

    for (size_t i = 0; i + n < len; i++) {
        if ((i == 0 || f[i - 1] == ',') && !strncmp(f + i, name, n) && f[i + n] == '=') {
            unsigned long v = 0;

            for (i += n + 1; i < len && f[i] >= '0' && f[i] <= '9' && v < 1000000; i++) {
                v = v * 10 + (unsigned long)(f[i] - '0');
            }
            return v;
        }
    }
    return def;
}

/*
 * Whether verifying phc (accepted by kz_passwd_check) costs little: at most 256 KiB of Argon2 or
 * scrypt memory times passes, 64 PBKDF2 iterations; or scrypt parameters that OpenSSL refuses
 * before any work (N >= 2^(16r)), which the check must have refused.
 */
static int cheap(const char *phc)
{
    size_t len = 0;
    const char *f = param_field(phc, &len);
    unsigned long ln, r;

    if (!f) {
        return 0;
    }
    if (!strncmp(phc, "$argon2", 7)) {
        return param(f, len, "m", ~0ul) * param(f, len, "t", ~0ul) <= 256;
    }
    if (!strncmp(phc, "$scrypt$", 8)) {
        ln = param(f, len, "ln", 64), r = param(f, len, "r", 1000000);
        return ln >= 16 * r || (ln < 20 && (128ul << ln) * r * param(f, len, "p", 1000) <= 262144);
    }
    return param(f, len, "i", ~0ul) <= 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = kz_fuzz_pool();
    const uint8_t *nl = memchr(data, '\n', size);
    size_t phc_len = nl ? (size_t)(nl - data) : size;
    char *phc = kz_fuzz_cstr(data, phc_len);
    char *pw = nl ? kz_fuzz_cstr(nl + 1, size - phc_len - 1) : kz_fuzz_cstr(data, 0);
    size_t pw_len = nl ? size - phc_len - 1 : 0;
    const char *err = kz_passwd_check(phc, pool);
    apr_status_t rv;

    if (err) {
        KZ_FUZZ_ASSERT(*err);
        KZ_FUZZ_ASSERT(kz_passwd_verify(phc, pw, pw_len, pool) == APR_EINVAL);
    } else if (cheap(phc)) {
        rv = kz_passwd_verify(phc, pw, pw_len, pool);
        KZ_FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EMISMATCH);
    }
    free(phc);
    free(pw);
    apr_pool_clear(pool);
    return 0;
}

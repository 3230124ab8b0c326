/*
 * PHC-string password hashes (passwd.h): `$id[$v=N]$k=v,...$salt$hash` with salt and hash in
 * the PHC B64 alphabet (RFC 4648 base64, no padding; APR decodes it). The salt bytes given to
 * the function are the decoded salt, as Rust's password-hash crates do. Argon2 (RFC 9106) runs
 * through libargon2's raw API with parameters parsed and bounded here (its own decoder would
 * allocate whatever m says); scrypt (RFC 7914) and PBKDF2 (RFC 8018) run through OpenSSL. Results
 * are compared with CRYPTO_memcmp.
 */
#include "passwd.h"

#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <limits.h>
#include <string.h>

#define PHC_MAX_BYTES  64 /* salt and hash, decoded (password-hash's limits) */
#define PHC_MIN_HASH   10
#define PHC_MAX_PARAMS 8

typedef enum {
    ALG_ARGON2D,
    ALG_ARGON2I,
    ALG_ARGON2ID,
    ALG_SCRYPT,
    ALG_PBKDF2_SHA256,
    ALG_PBKDF2_SHA512
} phc_alg_e;

static const struct {
    const char *id;
    phc_alg_e alg;
} algorithms[] = {
    {"argon2id", ALG_ARGON2ID},
    {"argon2i", ALG_ARGON2I},
    {"argon2d", ALG_ARGON2D},
    {"scrypt", ALG_SCRYPT},
    {"pbkdf2-sha256", ALG_PBKDF2_SHA256},
    {"pbkdf2-sha512", ALG_PBKDF2_SHA512},
};

typedef struct phc_param {
    const char *name;
    apr_size_t name_len;
    apr_uint64_t value;
} phc_param_t;

/* A parsed hash: the algorithm, its numeric parameters, the decoded salt and hash. */
typedef struct phc {
    phc_alg_e alg;
    apr_uint64_t version; /* Argon2 only */
    apr_uint64_t a, b, c; /* Argon2 m,t,p; scrypt ln,r,p; PBKDF2 i,l,- */
    unsigned char salt[PHC_MAX_BYTES];
    apr_size_t salt_len;
    unsigned char hash[PHC_MAX_BYTES];
    apr_size_t hash_len;
} phc_t;

/* ---- decoding -------------------------------------------------------------------------- */

/*
 * Unpadded base64 of len chars into at most cap bytes; returns 1 on success. s ends at '$' or
 * NUL, where apr_base64_decode_binary() stops too, so checking the alphabet here is enough.
 */
static int b64_decode(const char *s, apr_size_t len, unsigned char *out, apr_size_t cap,
                      apr_size_t *out_len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /* len * 3 / 4 is the decoded length exactly (len % 4 == 1 is not base64). */
    if (strspn(s, alphabet) != len || len % 4 == 1 || len * 3 / 4 > cap) {
        return 0;
    }
    *out_len = (apr_size_t)apr_base64_decode_binary(out, s);
    return 1;
}

/* PHC decimal: 1 to 10 digits, no sign, no leading zero. */
static int parse_decimal(const char *s, apr_size_t len, apr_uint64_t *out)
{
    apr_uint64_t v = 0;

    if (len == 0 || len > 10 || (len > 1 && s[0] == '0')) {
        return 0;
    }
    for (apr_size_t i = 0; i < len; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

/* "k=v,k=v": names unique, values decimal. */
static const char *parse_params(phc_param_t *ps, int *n, const char *s, apr_size_t len,
                                apr_pool_t *p)
{
    const char *end = s + len;

    *n = 0;
    while (s < end) {
        const char *comma = memchr(s, ',', (apr_size_t)(end - s));
        const char *item_end = comma ? comma : end;
        const char *eq = memchr(s, '=', (apr_size_t)(item_end - s));

        if (!eq || eq == s || *n == PHC_MAX_PARAMS) {
            return "malformed parameters";
        }
        ps[*n].name = s;
        ps[*n].name_len = (apr_size_t)(eq - s);
        if (!parse_decimal(eq + 1, (apr_size_t)(item_end - eq - 1), &ps[*n].value)) {
            return apr_psprintf(p, "parameter '%.*s' is not a decimal number", (int)(eq - s), s);
        }
        for (int i = 0; i < *n; i++) {
            if (ps[i].name_len == ps[*n].name_len && !memcmp(ps[i].name, s, ps[i].name_len)) {
                return apr_psprintf(p, "parameter '%.*s' is given twice", (int)(eq - s), s);
            }
        }
        (*n)++;
        s = comma ? comma + 1 : end;
        if (comma && s == end) {
            return "malformed parameters";
        }
    }
    return NULL;
}

/* Takes the named parameter (required or not); *taken counts the names recognized. */
static int take(const phc_param_t *ps, int n, const char *name, apr_uint64_t *v, int *taken)
{
    apr_size_t len = strlen(name);

    for (int i = 0; i < n; i++) {
        if (ps[i].name_len == len && !memcmp(ps[i].name, name, len)) {
            *v = ps[i].value;
            (*taken)++;
            return 1;
        }
    }
    return 0;
}

/* ---- per algorithm --------------------------------------------------------------------- */

static const char *argon2_params(phc_t *ph, const phc_param_t *ps, int n, apr_pool_t *p)
{
    int taken = 0;

    if (!take(ps, n, "m", &ph->a, &taken) || !take(ps, n, "t", &ph->b, &taken) ||
        !take(ps, n, "p", &ph->c, &taken) || taken != n) {
        return "Argon2 takes exactly the parameters m, t and p";
    }
    if (ph->c < 1 || ph->c > KZ_PASSWD_ARGON2_MAX_P) {
        return apr_psprintf(p, "Argon2 p must be 1 to %d", KZ_PASSWD_ARGON2_MAX_P);
    }
    if (ph->a < 8 * ph->c || ph->a > KZ_PASSWD_MAX_MEMORY / 1024) {
        return apr_psprintf(p, "Argon2 m must be 8*p to %d (KiB)", KZ_PASSWD_MAX_MEMORY / 1024);
    }
    if (ph->b < 1 || ph->b > KZ_PASSWD_ARGON2_MAX_T) {
        return apr_psprintf(p, "Argon2 t must be 1 to %d", KZ_PASSWD_ARGON2_MAX_T);
    }
    if (ph->salt_len < ARGON2_MIN_SALT_LENGTH) {
        return "Argon2 needs a salt of 8 bytes or more";
    }
    return NULL;
}

static const char *scrypt_params(phc_t *ph, const phc_param_t *ps, int n, apr_pool_t *p)
{
    int taken = 0;

    if (!take(ps, n, "ln", &ph->a, &taken) || !take(ps, n, "r", &ph->b, &taken) ||
        !take(ps, n, "p", &ph->c, &taken) || taken != n) {
        return "scrypt takes exactly the parameters ln, r and p";
    }
    if (ph->a < 1 || ph->a > KZ_PASSWD_SCRYPT_MAX_LN || ph->b < 1 ||
        ph->b > KZ_PASSWD_SCRYPT_MAX_R || ph->c < 1 || ph->c > KZ_PASSWD_SCRYPT_MAX_P) {
        return apr_psprintf(p, "scrypt parameters out of range (ln 1-%d, r 1-%d, p 1-%d)",
                            KZ_PASSWD_SCRYPT_MAX_LN, KZ_PASSWD_SCRYPT_MAX_R,
                            KZ_PASSWD_SCRYPT_MAX_P);
    }
    /* RFC 7914 §2: N < 2^(128*r/8); OpenSSL refuses a larger N at every verification. */
    if (ph->a >= 16 * ph->b) {
        return "scrypt ln must be below 16*r (RFC 7914: N < 2^(16*r))";
    }
    if (((apr_uint64_t)128 << ph->a) * ph->b > KZ_PASSWD_MAX_MEMORY ||
        ((apr_uint64_t)128 << ph->a) * ph->b * ph->c > KZ_PASSWD_SCRYPT_MAX_WORK) {
        return apr_psprintf(p, "scrypt cost too high (128*r*2^ln at most %d MiB, times p %d MiB)",
                            KZ_PASSWD_MAX_MEMORY >> 20, KZ_PASSWD_SCRYPT_MAX_WORK >> 20);
    }
    return NULL;
}

static const char *pbkdf2_params(phc_t *ph, const phc_param_t *ps, int n, apr_pool_t *p)
{
    int taken = 0;

    if (!take(ps, n, "i", &ph->a, &taken)) {
        return "PBKDF2 needs the parameter i";
    }
    if (take(ps, n, "l", &ph->b, &taken) && ph->b != ph->hash_len) {
        return "PBKDF2 parameter l differs from the length of the hash";
    }
    if (taken != n) {
        return "PBKDF2 takes only the parameters i and l";
    }
    if (ph->a < 1 || ph->a > KZ_PASSWD_PBKDF2_MAX_I) {
        return apr_psprintf(p, "PBKDF2 i must be 1 to %d", KZ_PASSWD_PBKDF2_MAX_I);
    }
    return NULL;
}

/* ---- the PHC string -------------------------------------------------------------------- */

static const char *unknown_scheme(const char *id, apr_size_t len, apr_pool_t *p)
{
    static const char *const bcrypt[] = {"2a", "2b", "2x", "2y"};

    for (size_t i = 0; i < sizeof(bcrypt) / sizeof(*bcrypt); i++) {
        if (len == 2 && !memcmp(id, bcrypt[i], 2)) {
            return "bcrypt hashes are not supported; create an Argon2 hash with karpacz-passwd";
        }
    }
    return apr_psprintf(p,
                        "unsupported hash scheme '$%.*s$' (expected argon2id, argon2i, argon2d, "
                        "scrypt, pbkdf2-sha256 or pbkdf2-sha512)",
                        (int)(len > 32 ? 32 : len), id);
}

static int find_alg(phc_alg_e *alg, const char *id, apr_size_t len)
{
    for (size_t i = 0; i < sizeof(algorithms) / sizeof(*algorithms); i++) {
        if (strlen(algorithms[i].id) == len && !memcmp(algorithms[i].id, id, len)) {
            *alg = algorithms[i].alg;
            return 1;
        }
    }
    return 0;
}

/* Splits "$f0$f1..." into at most 6 fields; returns the count, or 0 when malformed. */
static int split_fields(const char *s, const char **f, apr_size_t *fl)
{
    int n = 0;

    if (*s != '$') {
        return 0;
    }
    for (s++;; n++) {
        const char *d = strchr(s, '$');

        if (n == 6) {
            return 0;
        }
        f[n] = s;
        fl[n] = d ? (apr_size_t)(d - s) : strlen(s);
        if (!d) {
            return n + 1;
        }
        s = d + 1;
    }
}

/* The version field of Argon2: "v=16" or "v=19"; absent means 19 (as Rust's argon2 does). */
static const char *parse_version(phc_t *ph, const char *f, apr_size_t len, int present)
{
    ph->version = ARGON2_VERSION_13;
    if (!present) {
        return NULL;
    }
    if (ph->alg > ALG_ARGON2ID) {
        return "this scheme has no version field";
    }
    if (!parse_decimal(f + 2, len - 2, &ph->version) ||
        (ph->version != ARGON2_VERSION_10 && ph->version != ARGON2_VERSION_13)) {
        return "Argon2 version must be v=16 or v=19";
    }
    return NULL;
}

static const char *phc_parse(phc_t *ph, const char *s, apr_pool_t *p)
{
    const char *f[6];
    apr_size_t fl[6];
    phc_param_t ps[PHC_MAX_PARAMS];
    int n = split_fields(s, f, fl), np, v;
    const char *err;

    if (n == 0 || fl[0] == 0) {
        return "not a PHC hash string ($id$...)";
    }
    if (!find_alg(&ph->alg, f[0], fl[0])) {
        return unknown_scheme(f[0], fl[0], p);
    }
    v = n > 1 && fl[1] >= 2 && !memcmp(f[1], "v=", 2);
    if (n != 4 + v) {
        return "expected $id$[v=...$]parameters$salt$hash";
    }
    if ((err = parse_version(ph, f[1], fl[1], v)) != NULL ||
        (err = parse_params(ps, &np, f[1 + v], fl[1 + v], p)) != NULL) {
        return err;
    }
    if (!b64_decode(f[2 + v], fl[2 + v], ph->salt, sizeof(ph->salt), &ph->salt_len) ||
        ph->salt_len == 0) {
        return "the salt is not base64 of 1 to 64 bytes";
    }
    if (!b64_decode(f[3 + v], fl[3 + v], ph->hash, sizeof(ph->hash), &ph->hash_len) ||
        ph->hash_len < PHC_MIN_HASH) {
        return "the hash is not base64 of 10 to 64 bytes";
    }
    if (ph->alg <= ALG_ARGON2ID) {
        return argon2_params(ph, ps, np, p);
    }
    return ph->alg == ALG_SCRYPT ? scrypt_params(ph, ps, np, p) : pbkdf2_params(ph, ps, np, p);
}

const char *kz_passwd_check(const char *phc, apr_pool_t *p)
{
    phc_t ph;

    return phc_parse(&ph, phc, p);
}

/* ---- computing ------------------------------------------------------------------------- */

static int derive_argon2(const phc_t *ph, const char *pw, apr_size_t len, unsigned char *out)
{
    argon2_type type = ph->alg == ALG_ARGON2ID  ? Argon2_id
                       : ph->alg == ALG_ARGON2I ? Argon2_i
                                                : Argon2_d;

    if (len > ARGON2_MAX_PWD_LENGTH) {
        return 0;
    }
    return argon2_hash((uint32_t)ph->b, (uint32_t)ph->a, (uint32_t)ph->c, len ? pw : "", len,
                       ph->salt, ph->salt_len, out, ph->hash_len, NULL, 0, type,
                       (argon2_version)ph->version) == ARGON2_OK;
}

static int derive(const phc_t *ph, const char *pw, apr_size_t len, unsigned char *out)
{
    switch (ph->alg) {
    case ALG_SCRYPT:
        /* maxmem covers V (128*r*(N+2)) and B (128*r*p) for every accepted parameter set. */
        return EVP_PBE_scrypt(pw, len, ph->salt, ph->salt_len, (apr_uint64_t)1 << ph->a, ph->b,
                              ph->c, (apr_uint64_t)KZ_PASSWD_MAX_MEMORY * 2, out,
                              ph->hash_len) == 1;
    case ALG_PBKDF2_SHA256:
    case ALG_PBKDF2_SHA512:
        if (len > INT_MAX) {
            return 0;
        }
        return PKCS5_PBKDF2_HMAC(pw, (int)len, ph->salt, (int)ph->salt_len, (int)ph->a,
                                 ph->alg == ALG_PBKDF2_SHA256 ? EVP_sha256() : EVP_sha512(),
                                 (int)ph->hash_len, out) == 1;
    default:
        return derive_argon2(ph, pw, len, out);
    }
}

apr_status_t kz_passwd_verify(const char *phc, const char *password, apr_size_t len, apr_pool_t *p)
{
    phc_t ph;
    unsigned char out[PHC_MAX_BYTES];
    int same;

    if (phc_parse(&ph, phc, p) != NULL) {
        return APR_EINVAL;
    }
    if (!derive(&ph, password, len, out)) {
        OPENSSL_cleanse(out, sizeof(out));
        return APR_ENOMEM;
    }
    same = CRYPTO_memcmp(out, ph.hash, ph.hash_len) == 0;
    OPENSSL_cleanse(out, sizeof(out));
    return same ? APR_SUCCESS : APR_EMISMATCH;
}

apr_status_t kz_passwd_hash(const char **out, const char *password, apr_size_t len, apr_pool_t *p)
{
    unsigned char salt[16];
    apr_size_t size = argon2_encodedlen(KZ_PASSWD_DEFAULT_T, KZ_PASSWD_DEFAULT_M,
                                        KZ_PASSWD_DEFAULT_P, sizeof(salt), 32, Argon2_id);
    char *buf = apr_palloc(p, size);

    *out = NULL;
    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        return APR_ENOENT;
    }
    if (argon2id_hash_encoded(KZ_PASSWD_DEFAULT_T, KZ_PASSWD_DEFAULT_M, KZ_PASSWD_DEFAULT_P,
                              len ? password : "", len, salt, sizeof(salt), 32, buf,
                              size) != ARGON2_OK) {
        return APR_ENOMEM;
    }
    *out = buf;
    return APR_SUCCESS;
}

/*
 * Tests of server/passwd.c: known PHC hashes for every algorithm (vectors made with Python's
 * hashlib for scrypt and PBKDF2 and with libargon2 for Argon2, plus the reference Argon2
 * implementation's own test vector), wrong passwords, malformed strings, the cost bounds, and
 * Argon2id hashes made by kz_passwd_hash().
 */
#include "kz_test.h"

#include "passwd.h"

#include <stdio.h>
#include <string.h>

/* The salt of the generated vectors: "karpacz-salt-16b". */
#define SALT "a2FycGFjei1zYWx0LTE2Yg"
/* 86 base64 characters: 64 bytes, the most a salt or hash may have. */
#define B64_86                                                                                     \
    "a2FycGFjei1zYWx0LTE2a2FycGFjei1zYWx0LTE2a2FycGFjei1zYWx0LTE2a2FycGFjei1zYWx0LTE2AAAAAA"

static const struct {
    const char *phc;
    const char *password;
    apr_status_t expect;
    const char *why;
} verify_cases[] = {
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "correct horse", APR_SUCCESS, "argon2id, the karpacz-passwd parameters"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "correct horsf", APR_EMISMATCH, "argon2id, wrong password"},
    {"$argon2id$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "correct horse", APR_SUCCESS, "argon2id without v= means version 19"},
    {"$argon2id$v=19$t=2,p=1,m=19456$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "correct horse", APR_SUCCESS, "parameters in another order"},
    {"$argon2i$v=19$m=4096,t=3,p=1$" SALT "$uJAsmZJaFXSqbUHc8ITau3Wfaa7nq76c7/nuDoOtwNQ",
     "correct horse", APR_SUCCESS, "argon2i"},
    {"$argon2d$v=19$m=1024,t=1,p=2$" SALT "$KBLbk1mh1JgEOgVfKpEQmga+P/ud+qMfAC4o8x81Pdw",
     "correct horse", APR_SUCCESS, "argon2d with two lanes"},
    {"$argon2id$v=16$m=2048,t=2,p=1$" SALT "$aUcwylDPNmal3kdVCYkhBPyHZwZyTmV/QnO7yWK4PUI",
     "correct horse", APR_SUCCESS, "argon2id version 16"},
    {"$argon2id$v=19$m=2048,t=2,p=1$" SALT "$aUcwylDPNmal3kdVCYkhBPyHZwZyTmV/QnO7yWK4PUI",
     "correct horse", APR_EMISMATCH, "the version is part of the hash"},
    {"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
     "password", APR_SUCCESS, "the reference implementation's argon2i test vector"},
    {"$argon2d$v=19$m=4096,t=3,p=1$" SALT "$uJAsmZJaFXSqbUHc8ITau3Wfaa7nq76c7/nuDoOtwNQ",
     "correct horse", APR_EMISMATCH, "the variant is part of the hash"},
    {"$scrypt$ln=10,r=8,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY", "correct horse",
     APR_SUCCESS, "scrypt"},
    {"$scrypt$ln=10,r=8,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY", "Correct horse",
     APR_EMISMATCH, "scrypt, wrong password"},
    {"$scrypt$ln=6,r=4,p=2$" SALT "$lnEWJrMABIWNDDxRGktM7aNbxT1jl0Dw", "correct horse", APR_SUCCESS,
     "scrypt with p=2 and a 24-byte hash"},
    {"$pbkdf2-sha256$i=1000,l=32$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "correct horse", APR_SUCCESS, "pbkdf2-sha256"},
    {"$pbkdf2-sha256$i=1000,l=32$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "correct horse ", APR_EMISMATCH, "pbkdf2-sha256, a trailing space"},
    {"$pbkdf2-sha256$i=1000$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQo", "correct horse", APR_SUCCESS,
     "pbkdf2-sha256 without l, 20-byte hash"},
    {"$pbkdf2-sha256$i=1001,l=32$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "correct horse", APR_EMISMATCH, "the iteration count is part of the hash"},
    {"$pbkdf2-sha256$i=1000,l=32$" SALT "$6JBLuPTsHyH6UOWOkmcvjuttcjYuUdw51n7gHYW+Xls",
     "p\xc3\xa4ssw\xc3\xb6rd", APR_SUCCESS, "a UTF-8 password"},
    {"$pbkdf2-sha256$i=1000,l=32$" SALT "$XsOuYG9EcLeeLZFMUgrZia5psnTHUEvoJRzjFqaKLZ8", "",
     APR_SUCCESS, "an empty password"},
    {"$pbkdf2-sha512$i=2000,l=64$" SALT "$+ggbMDbe2rOJoymUiQWYGzFSyPgAFkiXVyDgcZrRuMLTZNYuDj9LWBED0"
     "jkWVsernxzsUxUnHJMygR+uFpQSFg",
     "correct horse", APR_SUCCESS, "pbkdf2-sha512"},
    {"$pbkdf2-sha512$i=1000,l=32$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "correct horse", APR_EMISMATCH, "the digest is part of the hash"},
    {"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "password", APR_EINVAL,
     "bcrypt is refused, never matched"},
    {"$argon2id$v=19$m=4194304,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "correct horse", APR_EINVAL, "4 GiB of memory is refused before any work"},
    {"plain-text-password", "plain-text-password", APR_EINVAL, "plain text never matches"},
    {"$scrypt$ln=16,r=1,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY", "correct horse",
     APR_EINVAL, "scrypt N >= 2^(16r) (RFC 7914) refused, not APR_ENOMEM (500) at each login"},
};

static void test_verify(void)
{
    for (size_t i = 0; i < sizeof(verify_cases) / sizeof(*verify_cases); i++) {
        apr_status_t rv = kz_passwd_verify(verify_cases[i].phc, verify_cases[i].password,
                                           strlen(verify_cases[i].password), kz_test_pool);
        if (rv != verify_cases[i].expect) {
            fprintf(stderr, "\n  %s: got %d\n", verify_cases[i].why, rv);
        }
        CU_ASSERT_EQUAL(rv, verify_cases[i].expect);
    }
}

/*
 * The length is the password's, not up to a NUL: bytes after a NUL count. (PBKDF2 cannot tell
 * trailing NULs apart, as HMAC pads its key with zeros; Argon2 hashes the length too.)
 */
static void test_binary_password(void)
{
    const char *pbkdf2 =
        "$pbkdf2-sha256$i=1000,l=32$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8";
    const char *argon2 =
        "$argon2id$v=19$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38";

    CU_ASSERT_EQUAL(kz_passwd_verify(pbkdf2, "correct horse\0x", 15, kz_test_pool), APR_EMISMATCH);
    CU_ASSERT_EQUAL(kz_passwd_verify(pbkdf2, "correct horsex", 13, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_passwd_verify(pbkdf2, "correct horsex", 14, kz_test_pool), APR_EMISMATCH);
    CU_ASSERT_EQUAL(kz_passwd_verify(argon2, "correct horse\0", 14, kz_test_pool), APR_EMISMATCH);
    CU_ASSERT_EQUAL(kz_passwd_verify(argon2, "correct horsex", 13, kz_test_pool), APR_SUCCESS);
}

static const struct {
    const char *phc;
    const char *expect; /* NULL: valid */
} check_cases[] = {
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38", NULL},
    {"$argon2id$v=19$m=131072,t=10,p=16$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     NULL},
    {"$scrypt$ln=17,r=8,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY", NULL},
    {"$pbkdf2-sha256$i=600000,l=32$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8", NULL},
    {"", "not a PHC hash string ($id$...)"},
    {"argon2id$v=19$m=1,t=1,p=1$x$y", "not a PHC hash string ($id$...)"},
    {"$$", "not a PHC hash string ($id$...)"},
    {"$2y$10$abcdefghijklmnopqrstuu5BvZl2TjyCPKQpyL2GmQ8h1xGcnvTpW",
     "bcrypt hashes are not supported; create an Argon2 hash with karpacz-passwd"},
    {"$6$salt$hash", "unsupported hash scheme '$6$' (expected argon2id, argon2i, argon2d, scrypt, "
                     "pbkdf2-sha256 or pbkdf2-sha512)"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT, "expected $id$[v=...$]parameters$salt$hash"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$aGFzaGhhc2hoYQ$x",
     "expected $id$[v=...$]parameters$salt$hash"},
    {"$argon2id$v=18$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 version must be v=16 or v=19"},
    {"$scrypt$v=1$ln=10,r=8,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY",
     "this scheme has no version field"},
    {"$argon2id$v=19$m=19456,t=2$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 takes exactly the parameters m, t and p"},
    {"$argon2id$v=19$m=19456,t=2,p=1,keyid=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 takes exactly the parameters m, t and p"},
    {"$argon2id$v=19$m=19456,t=2,t=2$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "parameter 't' is given twice"},
    {"$argon2id$v=19$m=019456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "parameter 'm' is not a decimal number"},
    {"$argon2id$v=19$m=-1,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "parameter 'm' is not a decimal number"},
    {"$argon2id$v=19$m=99999999999,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "parameter 'm' is not a decimal number"},
    {"$argon2id$v=19$m=19456,t=2,p=1,$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "malformed parameters"},
    {"$argon2id$v=19$m=19456,t,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "malformed parameters"},
    {"$argon2id$v=19$m=131073,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 m must be 8*p to 131072 (KiB)"},
    {"$argon2id$v=19$m=8,t=2,p=2$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 m must be 8*p to 131072 (KiB)"},
    {"$argon2id$v=19$m=19456,t=11,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 t must be 1 to 10"},
    {"$argon2id$v=19$m=19456,t=0,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 t must be 1 to 10"},
    {"$argon2id$v=19$m=19456,t=2,p=17$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 p must be 1 to 16"},
    {"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "Argon2 needs a salt of 8 bytes or more"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "=$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "the salt is not base64 of 1 to 64 bytes"},
    {"$argon2id$v=19$m=19456,t=2,p=1$a$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "the salt is not base64 of 1 to 64 bytes"},
    /* 86 characters decode to 64 bytes, the most; 87 to 65. */
    {"$argon2id$v=19$m=19456,t=2,p=1$" B64_86 "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38", NULL},
    {"$argon2id$v=19$m=19456,t=2,p=1$" B64_86 "A$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "the salt is not base64 of 1 to 64 bytes"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$" B64_86, NULL},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$" B64_86 "AA",
     "the hash is not base64 of 10 to 64 bytes"},
    {"$argon2id$v=19$m=19456,t=2,p=1$$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "the salt is not base64 of 1 to 64 bytes"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDTkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38=",
     "the hash is not base64 of 10 to 64 bytes"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$yPzuOcnFtcDT",
     "the hash is not base64 of 10 to 64 bytes"},
    {"$argon2id$v=19$m=19456,t=2,p=1$" SALT "$yPzuOcnFtc-TkSHmPStrE3vVb2SnRM2eZi8Yu0tlQ38",
     "the hash is not base64 of 10 to 64 bytes"},
    {"$scrypt$ln=10,r=8$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY",
     "scrypt takes exactly the parameters ln, r and p"},
    {"$scrypt$ln=21,r=8,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY",
     "scrypt parameters out of range (ln 1-20, r 1-32, p 1-16)"},
    {"$scrypt$ln=18,r=8,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY",
     "scrypt cost too high (128*r*2^ln at most 128 MiB, times p 512 MiB)"},
    {"$scrypt$ln=17,r=8,p=5$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY",
     "scrypt cost too high (128*r*2^ln at most 128 MiB, times p 512 MiB)"},
    {"$scrypt$ln=15,r=1,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY", NULL},
    {"$scrypt$ln=16,r=1,p=1$" SALT "$UntC8KnVEkFB8G5CeXmjs9l/x9xeqC/yMlxtDUKvuHY",
     "scrypt ln must be below 16*r (RFC 7914: N < 2^(16*r))"},
    {"$pbkdf2-sha256$l=32$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "PBKDF2 needs the parameter i"},
    {"$pbkdf2-sha256$i=1000,l=31$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "PBKDF2 parameter l differs from the length of the hash"},
    {"$pbkdf2-sha256$i=1000,x=1$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "PBKDF2 takes only the parameters i and l"},
    {"$pbkdf2-sha256$i=2000001$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "PBKDF2 i must be 1 to 2000000"},
    {"$pbkdf2-sha256$i=0$" SALT "$wR6fLKMCN6C9Q+3RN4SQ54QtSQrrirhWK9cZ4tcsfv8",
     "PBKDF2 i must be 1 to 2000000"},
};

static void test_check(void)
{
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(*check_cases); i++) {
        const char *got = kz_passwd_check(check_cases[i].phc, kz_test_pool);

        if (!check_cases[i].expect) {
            if (got) {
                fprintf(stderr, "\n  %s: unexpected %s\n", check_cases[i].phc, got);
            }
            CU_ASSERT_PTR_NULL(got);
            continue;
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        if (strcmp(got, check_cases[i].expect) != 0) {
            fprintf(stderr, "\n  %s: got %s\n", check_cases[i].phc, got);
        }
        CU_ASSERT_STRING_EQUAL(got, check_cases[i].expect);
        CU_ASSERT_EQUAL(kz_passwd_verify(check_cases[i].phc, "x", 1, kz_test_pool), APR_EINVAL);
    }
}

/* A fresh hash verifies, has the documented form, and two hashes of one password differ. */
static void test_hash(void)
{
    const char *a = NULL, *b = NULL;
    const char *prefix = "$argon2id$v=19$m=19456,t=2,p=1$";

    CU_ASSERT_EQUAL_FATAL(kz_passwd_hash(&a, "s3cret", 6, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(kz_passwd_hash(&b, "s3cret", 6, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(strncmp(a, prefix, strlen(prefix)), 0);
    /* 16 bytes of salt and 32 of hash: 22 and 43 base64 characters. */
    CU_ASSERT_EQUAL(strlen(a), strlen(prefix) + 22 + 1 + 43);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_PTR_NULL(kz_passwd_check(a, kz_test_pool));
    CU_ASSERT_EQUAL(kz_passwd_verify(a, "s3cret", 6, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_passwd_verify(b, "s3cret", 6, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(kz_passwd_verify(a, "s3cre", 5, kz_test_pool), APR_EMISMATCH);
}

static const kz_test_case_t cases[] = {
    {"verify", test_verify},
    {"binary_password", test_binary_password},
    {"check", test_check},
    {"hash", test_hash},
    {NULL, NULL},
};

KZ_TEST_SUITE(passwd, cases)

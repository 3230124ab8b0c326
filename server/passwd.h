/*
 * Password hashes in the PHC string format (as Rust's password-hash crate writes them, which is
 * what the original's `users` entries hold): verifying Argon2 (RFC 9106, libargon2), scrypt
 * (RFC 7914, OpenSSL) and PBKDF2-HMAC-SHA-256/512 (RFC 8018, OpenSSL), and creating Argon2id
 * hashes for karpacz-passwd. Cost parameters are bounded so that one hash in a configuration
 * cannot make a single verification take the server's memory or minutes of CPU.
 */
#ifndef KZ_PASSWD_H
#define KZ_PASSWD_H

#include <apr_errno.h>
#include <apr_pools.h>

/** Most memory one verification may use: Argon2 m, scrypt 128·r·N (bytes). */
#define KZ_PASSWD_MAX_MEMORY (128 * 1024 * 1024)
/** Most Argon2 passes (t) and lanes (p). */
#define KZ_PASSWD_ARGON2_MAX_T 10
#define KZ_PASSWD_ARGON2_MAX_P 16
/** scrypt: most log2(N), r and p, and most total work 128·N·r·p (bytes touched). */
#define KZ_PASSWD_SCRYPT_MAX_LN   20
#define KZ_PASSWD_SCRYPT_MAX_R    32
#define KZ_PASSWD_SCRYPT_MAX_P    16
#define KZ_PASSWD_SCRYPT_MAX_WORK (512 * 1024 * 1024)
/** Most PBKDF2 iterations. */
#define KZ_PASSWD_PBKDF2_MAX_I 2000000

/** Parameters of the hashes karpacz-passwd creates: Argon2id, 19 MiB, 2 passes, 1 lane. */
#define KZ_PASSWD_DEFAULT_M 19456
#define KZ_PASSWD_DEFAULT_T 2
#define KZ_PASSWD_DEFAULT_P 1

/**
 * Checks that phc is a hash this build verifies, with parameters within the bounds above.
 * Returns NULL, or a message saying what is wrong (allocated in p).
 */
const char *kz_passwd_check(const char *phc, apr_pool_t *p);

/**
 * Verifies password (len bytes, any content) against phc, comparing in constant time.
 * Returns APR_SUCCESS when it matches, APR_EMISMATCH when it does not, APR_EINVAL when phc is
 * not acceptable to kz_passwd_check(), or APR_ENOMEM when the computation failed.
 */
apr_status_t kz_passwd_verify(const char *phc, const char *password, apr_size_t len, apr_pool_t *p);

/**
 * Hashes password with Argon2id (the default parameters above, a random 16-byte salt, a
 * 32-byte hash) into a PHC string allocated in p.
 */
apr_status_t kz_passwd_hash(const char **out, const char *password, apr_size_t len, apr_pool_t *p);

#endif

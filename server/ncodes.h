/*
 * nonStandardCodes (karpacz-behaviour.md §1, §4): per-scope entries matched by exact path
 * (`url`) or by a PCRE2 regular expression on path and query (`regex`), optionally limited to
 * client addresses (`users`), answering a redirect (301/302/307/308 to `location`), HTTP Basic
 * authentication (401, RFC 7617) against the scope's `users` list, or any other status. Also
 * the configuration checks of `nonStandardCodes` and `users`. kz_ncodes_compile() (stages.h)
 * builds the compiled form; kz_ncodes_stage() (core.h) runs it for a request.
 */
#ifndef KZ_NCODES_H
#define KZ_NCODES_H

#include "config.h"

typedef struct kz_ncodes kz_ncodes_t;

/** The realm when an entry names none (the original said "Project Karpacz …"). */
#define KZ_NCODES_REALM "Karpacz HTTP Basic Authorization"

/**
 * Checks a `nonStandardCodes` value: a list of maps with only the keys scode (200-599), url (a
 * path), regex (compiles), location (required for 301/302/307/308), realm, disableBruteProtection
 * (boolean), userList and users (strings or lists of strings; users are IP addresses or CIDR
 * ranges), and url or regex. Returns NULL or the message (naming the key and its line).
 */
const char *kz_ncodes_check(const kz_value_t *value, apr_pool_t *p);

/**
 * Checks a `users` value: a list of maps {name, pass}, name non-empty without ':' or control
 * characters, pass a PHC hash that kz_passwd_check() accepts.
 */
const char *kz_users_check(const kz_value_t *value, apr_pool_t *p);

/**
 * Walks the entries that apply to one request, in order. Fill the inputs, zero the rest, then
 * call kz_ncodes_next() until it returns 0.
 */
typedef struct kz_ncodes_match {
    const char *client_ip; /**< in: the client address */
    const char *path;      /**< in: the sanitized, decoded path */
    const char *query;     /**< in: the raw query (after '?'), or NULL */
    int next;              /**< state: the entry to try next */
    const char *subject;   /**< state: encoded path and query, built for the first regex */
    void *match_data;      /**< state: PCRE2 match data, made for the first regex */
    int index;             /**< out: the entry that matched */
    int scode;             /**< out: its status */
    const char *location;  /**< out: the Location of a redirect (captures expanded) */
    const char *challenge; /**< out: the WWW-Authenticate value of a 401 entry */
    int brute_protection;  /**< out: failures of a 401 entry count toward blocking */
} kz_ncodes_match_t;

/**
 * Finds the next entry that applies: its `users` (if any) contains the client, and its regex
 * matches the encoded path plus "?query" or its url equals the path. Returns 1 with the outputs
 * set, 0 when no further entry applies, or -1 when a regular expression could not be evaluated
 * (its match limit was reached): the request must then fail, not skip the entry.
 */
int kz_ncodes_next(kz_ncodes_match_t *m, const kz_ncodes_t *nc, apr_pool_t *p);

typedef enum kz_auth {
    KZ_AUTH_NONE,   /**< no Basic credentials (absent, another scheme, malformed) */
    KZ_AUTH_FAILED, /**< credentials that do not match an allowed user */
    KZ_AUTH_OK,
    KZ_AUTH_ERROR,  /**< a verification could not run (out of memory): answer 500, count nothing */
    KZ_AUTH_PENDING /**< kz_ncodes_auth_step(): a password must be verified first */
} kz_auth_e;

/**
 * The password verifications already done for one request (they are slow: the pipeline runs
 * them on worker threads, then asks again with the results).
 */
typedef struct kz_auth_known kz_auth_known_t;

kz_auth_known_t *kz_auth_known_make(apr_pool_t *p);
/** Records the kz_passwd_verify() result rv for the user of a KZ_AUTH_PENDING step. */
void kz_auth_known_add(kz_auth_known_t *known, int user, apr_status_t rv);

/** What a KZ_AUTH_PENDING step needs: kz_passwd_verify(phc, pass, len). */
typedef struct kz_auth_need {
    int user;        /**< the user's index, or -1: the stand-in verification of an unknown name */
    const char *phc; /**< the hash (the configuration's) */
    const char *pass;
    apr_size_t len;
} kz_auth_need_t;

/**
 * kz_ncodes_authorize() one step at a time, without hashing: returns KZ_AUTH_PENDING with *need
 * set when a verification not in `known` has to be done (the caller does it, adds the result
 * to known and calls again with the same arguments), else the answer.
 */
kz_auth_e kz_ncodes_auth_step(const char **user, kz_auth_need_t *need, const kz_ncodes_t *nc,
                              int index, const char *authorization, const kz_auth_known_t *known,
                              apr_pool_t *p);

/**
 * Checks the Authorization value (or NULL) against the scope's users allowed by entry `index`
 * (its userList, if any). *user is set to the user name given (KZ_AUTH_OK and KZ_AUTH_FAILED).
 * A recent successful verification of the same name and password is remembered (for five
 * minutes, as an HMAC under a per-configuration random key), so a browser that sends the
 * credentials with every request does not pay for Argon2 every time. It verifies on the calling
 * thread (kz_ncodes_stage() uses kz_ncodes_auth_step() to verify on worker threads).
 */
kz_auth_e kz_ncodes_authorize(const char **user, const kz_ncodes_t *nc, int index,
                              const char *authorization, apr_pool_t *p);

#endif

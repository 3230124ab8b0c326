/*
 * The request features that run before the handlers (karpacz-behaviour.md §1, §2, §4):
 * rewriteMap (internal URL rewriting with PCRE2), enableIPSpoofing (the client address from
 * X-Forwarded-For), wwwredirect (301 to the www. name) and blocklist (403 for listed clients).
 * Their pipeline stages are declared in core.h and their compile steps in stages.h; this header
 * has the check functions of their properties and the pure parts the stages are built on.
 */
#ifndef KZ_REWRITE_H
#define KZ_REWRITE_H

#include "config.h"

#include <apr_pools.h>

typedef struct kz_rewrite kz_rewrite_t;

/* ---- property checks (properties.c) ----------------------------------------------------- */

/**
 * rewriteMap: a list of maps whose keys are regex (a string that PCRE2 compiles), replacement
 * (a string whose $N / ${N} / ${name} references exist in the regex), and the booleans
 * isNotFile, isNotDirectory, allowDoubleSlashes, last; any other key is an error.
 */
const char *kz_rewrite_check(const kz_value_t *value, apr_pool_t *p);

/** blocklist: every entry is an address or a CIDR range (kz_ipset_check). */
const char *kz_blocklist_check(const kz_value_t *value, apr_pool_t *p);

/* ---- rewriting -------------------------------------------------------------------------- */

/** What kz_rewrite_apply's probe says a path is under the web root. */
typedef enum kz_rewrite_kind {
    KZ_RW_OTHER = 0, /**< missing, refused, or neither a file nor a directory */
    KZ_RW_FILE,      /**< a regular file */
    KZ_RW_DIR        /**< a directory */
} kz_rewrite_kind_e;

/** Tells what the decoded path (starting with '/') is; used by isNotFile / isNotDirectory. */
typedef kz_rewrite_kind_e (*kz_rewrite_probe_fn)(void *baton, const char *path);

/** The outcome of kz_rewrite_apply(). */
typedef struct kz_rewrite_result {
    int changed;       /**< the URL differs from the one given */
    const char *path;  /**< the new path, decoded and sanitized (as r->path) */
    const char *query; /**< the new query without '?', or NULL */
    const char *from;  /**< the URL the rules saw first (encoded path + "?query") */
    const char *to;    /**< the URL after the rules, in the same form */
    int failed_rule;   /**< on a 500: the index of the rule whose match failed */
    int match_error;   /**< on a 500: PCRE2's error code (a match limit, say) */
} kz_rewrite_result_t;

/** Longest URL a rule may produce; a longer one is refused with 414. */
#define KZ_REWRITE_MAX_URL 65536

/**
 * Runs the rules of rw, in order, on the URL made of path (decoded, as sanitized) and query
 * (NULL for none). Each rule whose isNotFile / isNotDirectory conditions hold (asked through
 * probe; a NULL probe skips the conditions) replaces the first match of its regex in the URL
 * (the path percent-encoded, plus "?query") with its replacement; the result must start with
 * '/', is split at the first '?', and its path is sanitized again (kz_url_sanitize, with the
 * rule's allowDoubleSlashes). A `last` rule that changed the URL ends the run.
 * Returns 0 (res filled; res->changed tells whether anything changed), 400 for a result that
 * does not start with '/' or fails sanitizing, 414 for a result longer than KZ_REWRITE_MAX_URL,
 * or 500 when a match fails (the match limit was hit: res->failed_rule, res->match_error).
 */
int kz_rewrite_apply(const kz_rewrite_t *rw, const char *path, const char *query,
                     kz_rewrite_probe_fn probe, void *baton, kz_rewrite_result_t *res,
                     apr_pool_t *p);

/** Number of rules in rw (0 for NULL). */
int kz_rewrite_count(const kz_rewrite_t *rw);

/** The regular expression of rule i, as configured (for logs). */
const char *kz_rewrite_regex(const kz_rewrite_t *rw, int i);

/** Backtracking steps one match may take (PCRE2's match limit) before it fails. */
#define KZ_REWRITE_MATCH_LIMIT 200000

/* ---- client address (enableIPSpoofing) -------------------------------------------------- */

/**
 * Parses an IPv4 (dotted quad, no leading zeros) or IPv6 address (RFC 4291 §2.2, no zone,
 * no brackets) of len bytes and writes its canonical text to out: IPv4 as is, IPv6 in the
 * RFC 5952 form, an IPv4-mapped IPv6 address as its IPv4 form (as peer addresses are shown).
 * Returns 1, or 0 when text is not an address. out needs 46 bytes.
 */
int kz_ip_canonical(char *out, const char *text, apr_size_t len);

/**
 * The client address an X-Forwarded-For value names: its first comma-separated element,
 * trimmed of spaces and tabs, in canonical form (allocated in p). NULL when that element is
 * not an address.
 */
const char *kz_forwarded_for(const char *value, apr_pool_t *p);

/* ---- www redirect ----------------------------------------------------------------------- */

/**
 * The Location of wwwredirect for a request to host (the Host value, with an optional port)
 * with request target target: "http://www." + host (lowercased) + the path and query of
 * target (an absolute-form target loses its scheme and authority). NULL when no redirect
 * applies: no host, a host already starting with "www.", an IP address or localhost.
 */
const char *kz_www_location(const char *host, const char *target, apr_pool_t *p);

#endif

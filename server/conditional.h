/*
 * Conditional requests (RFC 9110 §13): entity-tag comparison (§8.8.3.2), the evaluation of
 * If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of §13.2.2,
 * and If-Range (§13.1.5). Pure functions over the request's field values: no I/O, no allocation.
 */
#ifndef KZ_CONDITIONAL_H
#define KZ_CONDITIONAL_H

#include <apr_time.h>

/** The precondition fields of a request (NULL when absent). */
typedef struct kz_cond {
    const char *if_match;            /**< a list; several fields joined with ", " */
    const char *if_none_match;       /**< a list; several fields joined with ", " */
    const char *if_modified_since;   /**< NULL also when sent more than once */
    const char *if_unmodified_since; /**< NULL also when sent more than once */
    const char *if_range;            /**< "" when sent more than once (then it never holds) */
} kz_cond_t;

/**
 * Whether the entity-tag list `list` (the value of If-Match or If-None-Match: "*" or
 * 1#entity-tag) names `etag` (a quoted opaque-tag, optionally with W/). Strong comparison
 * (weak = 0) requires both tags to be strong; weak comparison ignores W/. "*" matches any
 * existing representation, even one without an ETag (etag NULL); otherwise NULL never matches.
 * Malformed members are skipped.
 */
int kz_etag_match(const char *list, const char *etag, int weak);

/**
 * Evaluates the preconditions in the order of RFC 9110 §13.2.2 for a representation that exists,
 * with the validators etag (quoted, or NULL when ETags are off) and mtime (the Last-Modified
 * time sent, never later than now; 0 when unknown). get_or_head tells whether the method is GET
 * or HEAD. Returns 0 when the request goes on, 412 (Precondition Failed) or 304 (Not Modified).
 * Dates that are not valid HTTP-dates are ignored; dates are compared in whole seconds, as
 * Last-Modified carries them.
 */
int kz_cond_evaluate(const kz_cond_t *c, int get_or_head, const char *etag, apr_time_t mtime);

/**
 * If-Range (RFC 9110 §13.1.5): whether a Range request may be answered with a part of the
 * representation (1) or must get all of it (0). An absent If-Range (NULL) holds. An entity-tag
 * holds when it is strong and equal to etag; an HTTP-date holds when it equals mtime to the
 * second. Anything else, a weak tag included, does not hold.
 */
int kz_cond_if_range(const char *if_range, const char *etag, apr_time_t mtime);

#endif

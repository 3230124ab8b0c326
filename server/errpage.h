/*
 * Reason phrases (RFC 9110 §15, RFC 6585) and the built-in HTML error pages: a small HTML5 page
 * with the code, the reason and one sentence about the status. Nothing from the request is ever
 * echoed; the 500 page names the administrator's address when one is configured.
 */
#ifndef KZ_ERRPAGE_H
#define KZ_ERRPAGE_H

#include <apr_pools.h>

/**
 * The reason phrase of status: every code of RFC 9110 §15, plus 103 (RFC 8297), 428, 429, 431
 * and 511 (RFC 6585) and 451 (RFC 7725); "Unknown" for any other. A switch: no allocation.
 */
const char *kz_status_reason(int status);

/**
 * The built-in page for status: sets *out to the HTML and returns its length (the text is also
 * NUL-terminated). For every status kz_status_reason() knows, the page is a compile-time
 * constant, shared and safe from any thread, and p is not touched. Only two cases are rendered
 * into p: a 500 when admin_email is set (non-empty; HTML-escaped, with a mailto: link), and a
 * status with no known reason ("599 Unknown"). admin_email is ignored for every other status.
 * The result for a given (status, admin_email) never changes, so a caller may keep the rendered
 * 500 page for as long as p lives (e.g. per virtual host, in the configuration's pool).
 */
apr_size_t kz_errpage_render(const char **out, int status, const char *admin_email, apr_pool_t *p);

#endif

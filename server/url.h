/*
 * URL sanitizing (Karpacz's url_sanitizer, made strict) and path helpers: the request target's
 * path is percent-decoded once, checked, normalised and clamped at the root, so that every later
 * step (rewrite, locations, static files, CGI) sees one canonical path.
 */
#ifndef KZ_URL_H
#define KZ_URL_H

#include <apr_pools.h>

/**
 * Sanitizes the path part of a request target (the bytes before '?'; the caller splits off the
 * query). On success returns 0 and sets *out to a pool-allocated, decoded, normalised path that
 * starts with '/':
 * - each %XX is decoded once (so "%%32%65" is an error, not a double decode); a '%' not followed
 *   by two hex digits → 400; a decoded NUL (%00) → 400; the overlong/invalid UTF-8 lead bytes
 *   %C0, %C1, %F5–%FF (and those raw bytes) → 400; any decoded control byte (0x01–0x1F,
 *   0x7F) → 400;
 * - '\' (raw or %5C) is treated as '/';
 * - runs of '/' are collapsed to one unless allow_double_slashes;
 * - "." segments are dropped and ".." segments remove the previous one, never above the root;
 * - trailing dots and spaces of each segment are trimmed ("a.txt." → "a.txt"; a segment that
 *   becomes empty is dropped), as the original does;
 * - a trailing '/' is kept (it matters for directories); as in RFC 3986 §5.2.4, a final "." or
 *   ".." leaves one too ("/a/b/.." → "/a/").
 * The input must start with '/'; anything else → 400.
 * On any error returns 400 (the HTTP status to answer) and sets *out to NULL.
 */
int kz_url_sanitize(const char **out, const char *path, apr_size_t len, int allow_double_slashes,
                    apr_pool_t *p);

/**
 * Percent-encodes a decoded path for use in a URL (a Location header, a listing link): keeps
 * unreserved characters, '/', and the sub-delims "!$&'()*+,;=:@"; encodes everything else.
 * A second leading '/' is encoded ("//x" → "/%2Fx") so that the result, used as a Location, is
 * never a network-path reference to another host; kz_url_sanitize decodes it back.
 */
const char *kz_url_encode_path(const char *path, apr_pool_t *p);

/** The HTML entity for c when c is &, <, >, " or ', else NULL. */
const char *kz_html_entity(char c);

/** Escapes text for HTML (&, <, >, ", '). */
const char *kz_html_escape(const char *text, apr_pool_t *p);

#endif

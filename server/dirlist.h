/*
 * Directory listings (enableDirectoryListing) for directories that have no index file.
 */
#ifndef KZ_DIRLIST_H
#define KZ_DIRLIST_H

#include "core.h"

/**
 * Answers r with a listing of the directory rel (relative to root, ending in '/', "" for the
 * root itself) when enableDirectoryListing is on in r->conf; returns KZ_DONE, or a status
 * (403 when listings are off, 404/403/500 when the directory cannot be read).
 */
int kz_dirlist_serve(kz_request_t *r, kz_root_t *root, const char *rel);

/* ---- the pieces of a listing, exposed for the unit tests ---- */

/** Most rows one listing shows: the first ones in its order; the others are only counted. */
#define KZ_DIRLIST_MAX_ENTRIES 10000

/** Most entries read from one directory; a larger one is listed from its first ones only. */
#define KZ_DIRLIST_MAX_SCAN 250000

/** Most bytes of a .maindesc file shown. */
#define KZ_DIRLIST_MAX_DESC 65536

/**
 * Listing order: directories before everything else, then names compared ASCII
 * case-insensitively, ties broken byte by byte. Returns <0, 0 or >0 as strcmp does.
 */
int kz_dirlist_compare(const char *a, int a_is_dir, const char *b, int b_is_dir);

/**
 * A size for people, in binary units: "0 B", "1023 B", "1.0 KiB", "9.9 KiB", "10 KiB",
 * "1023 KiB", "1.0 MiB" ... up to EiB; one decimal below 10, rounded to nearest.
 */
const char *kz_dirlist_size(apr_off_t size, apr_pool_t *p);

/** A modification time as "YYYY-MM-DD HH:MM" in UTC, into out (at least 17 bytes). */
void kz_dirlist_date(char *out, apr_time_t t);

/**
 * len bytes of text as HTML text or attribute content: & < > " ' as character references;
 * control characters (C0, DEL, C1) and bytes that are not well-formed UTF-8 (overlong forms,
 * surrogates, beyond U+10FFFF, truncated sequences) as U+FFFD, so the page stays valid HTML
 * whatever a file name holds. With multiline, tabs are kept and each line end (CRLF, CR, LF)
 * becomes "<br>\n" (for the .maindesc text).
 */
const char *kz_dirlist_text(const char *text, apr_size_t len, int multiline, apr_pool_t *p);

/**
 * The href of an entry, relative to the listing and escaped for an attribute: the name
 * percent-encoded (kz_url_encode_path), "./" in front when it holds a ':' (which would otherwise
 * read as a URI scheme), '/' after a directory's.
 */
const char *kz_dirlist_href(const char *name, int is_dir, apr_pool_t *p);

#endif

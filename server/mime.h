/*
 * MIME types by file extension, in the format of mime.types ("type ext1 ext2 ..." lines,
 * '#' comments). The table of conf/mime.types is compiled in; a configuration can name another.
 */
#ifndef KZ_MIME_H
#define KZ_MIME_H

#include <apr_pools.h>

typedef struct kz_mime kz_mime_t;

/**
 * Parses mime.types text into a table allocated in p. A malformed line (a type without '/')
 * sets *error to "line N: ..." and returns NULL.
 */
kz_mime_t *kz_mime_parse(const char *text, const char **error, apr_pool_t *p);

/** Loads a mime.types file; on failure returns NULL and sets *error (naming the file). */
kz_mime_t *kz_mime_load(const char *file, const char **error, apr_pool_t *p);

/** The table compiled in from conf/mime.types (parsed once, cached in p on first use). */
kz_mime_t *kz_mime_builtin(apr_pool_t *p);

/**
 * The type for path, by its last extension, compared case-insensitively; NULL when unknown.
 * A name without a dot, or a dotfile such as ".htaccess", has no extension.
 */
const char *kz_mime_lookup(const kz_mime_t *mime, const char *path);

#endif

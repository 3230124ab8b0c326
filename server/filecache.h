/*
 * The open-file cache (nginx's open_file_cache idea), one per event loop so it takes no lock:
 * a path under a root maps to its open descriptor and stat result, and for small files to
 * their content, so a hot static file costs no open, fstat, read or close per request and is
 * sent with its head in a single writev. Entries are checked against the file system again
 * once they are a second old; a replaced or changed file gets a new entry. Entries are
 * reference-counted, so a request keeps its descriptor while the cache moves on.
 */
#ifndef KZ_FILECACHE_H
#define KZ_FILECACHE_H

#include "kz_fs.h"

#include <apr_file_info.h>
#include <apr_pools.h>
#include <apr_time.h>

typedef struct kz_filecache kz_filecache_t;

typedef struct kz_fcentry {
    apr_finfo_t finfo;   /**< type, size, mtime, inode */
    apr_file_t *file;    /**< open descriptor of a regular file (in the entry's pool) */
    const char *content; /**< the whole file when it is small, else NULL */
    /* Validators of a regular file, made once per entry rather than once per response. */
    const char *etag;          /**< strong entity-tag, quoted: "<mtime>-<size>" in hex */
    const char *last_modified; /**< mtime as an IMF-fixdate (RFC 9110 §5.6.7) */
    /* Left to the user (static.c): the Content-Type of the file for the settings `type_for`
     * and whether it is worth compressing, worked out once rather than once per response.
     * The cache only zeroes them. */
    const void *type_for;
    const char *type;
    int compressible;
    /* internal */
    struct kz_fcentry *prev, *next; /**< LRU list, most recent first */
    kz_filecache_t *cache;
    apr_pool_t *pool;
    apr_uint32_t root_id; /**< the root's kz_root_id() and the symlink rule, never an address */
    const char *key;
    apr_time_t checked;
    int refs;
    int stale;
    int absent; /**< remembers that the file does not exist (kz_filecache_probe) */
} kz_fcentry_t;

/** Limits of one cache: entries, and bytes of content held. */
kz_filecache_t *kz_filecache_create(int max_entries, apr_size_t max_content,
                                    apr_size_t max_file_content, apr_pool_t *p);

/**
 * Opens rel beneath root through the cache. On success *entry is referenced until pool (the
 * request's) is destroyed. Directories are cached too (without a descriptor). Errors are those
 * of kz_root_open_file and are not cached.
 */
apr_status_t kz_filecache_open(kz_fcentry_t **entry, kz_filecache_t *cache, kz_root_t *root,
                               const char *rel, int allow_escape, apr_time_t now, apr_pool_t *pool);

/**
 * As kz_filecache_open, for files that are often missing (precompressed siblings such as
 * "a.css.br"): a missing file (ENOENT, ENOTDIR) is remembered for the same second as an open
 * one, so asking again costs no system call (the status is then APR_ENOENT).
 */
apr_status_t kz_filecache_probe(kz_fcentry_t **entry, kz_filecache_t *cache, kz_root_t *root,
                                const char *rel, int allow_escape, apr_time_t now,
                                apr_pool_t *pool);

/**
 * The type of rel beneath root (APR_REG, APR_DIR...) through the cache, without keeping a
 * reference: for a look that does not serve the file (the trailing-slash redirect).
 */
apr_status_t kz_filecache_type(apr_filetype_e *type, kz_filecache_t *cache, kz_root_t *root,
                               const char *rel, int allow_escape, apr_time_t now);

#endif

/*
 * Opening files beneath a document root without escaping it: ".." is already removed by the
 * URL sanitizer, so what is left to stop is a symbolic link that leads outside the root.
 * On Linux openat2(RESOLVE_BENEATH) does it in the kernel in one call; elsewhere the resolved
 * path is compared with the root. Implemented in unix/fs.c and win32/fs.c.
 */
#ifndef KZ_FS_H
#define KZ_FS_H

#include <apr_errno.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_pools.h>

/** The status for a path that resolves outside its root. */
#define KZ_STATUS_ESCAPE (APR_OS_START_USERERR + 1)

typedef struct kz_root kz_root_t;

/** Opens the directory path as a root; a cleanup in p closes it. */
apr_status_t kz_root_open(kz_root_t **out, const char *path, apr_pool_t *p);

/**
 * A number that no other root opened by this process has, even after this one is closed and
 * its memory reused: caches key on it, never on the pointer.
 */
apr_uint32_t kz_root_id(const kz_root_t *root);

/**
 * Opens rel (relative to root, no leading '/'; "" is the root itself) for reading and fills
 * finfo (APR_FINFO_TYPE, SIZE, MTIME, INODE at least). Unless allow_escape, any path whose
 * resolution leaves the root (through a symbolic link) fails with KZ_STATUS_ESCAPE. Missing
 * files give an APR_STATUS_IS_ENOENT or ENOTDIR status, permission problems EACCES. The file is
 * closed by its pool (p).
 */
apr_status_t kz_root_open_file(apr_file_t **out, apr_finfo_t *finfo, kz_root_t *root,
                               const char *rel, int allow_escape, apr_pool_t *p);

/** A directory beneath a root, open for reading its entries. */
typedef struct kz_dir kz_dir_t;

/**
 * Opens the directory rel (relative to root as for kz_root_open_file, "" for the root itself,
 * same containment rule) to read its entries. Not a directory → an APR_STATUS_IS_ENOTDIR status.
 * A cleanup in p closes it.
 */
apr_status_t kz_root_open_dir(kz_dir_t **out, kz_root_t *root, const char *rel, int allow_escape,
                              apr_pool_t *p);

/**
 * Reads the next entry of dir ("." and ".." are skipped): *name, valid until the next call, and
 * *type as the directory itself records it without a stat (APR_DIR, APR_REG, APR_LNK, ...), or
 * APR_UNKFILE when the file system does not say. Returns APR_SUCCESS, APR_ENOENT after the last
 * entry, or the error that stopped the reading.
 */
apr_status_t kz_dir_read(const char **name, apr_filetype_e *type, kz_dir_t *dir);

/**
 * Fills finfo (APR_FINFO_TYPE, SIZE and MTIME) for the entry name of dir. A symbolic link is
 * followed only as far as the root allows: a target outside it gives KZ_STATUS_ESCAPE (unless
 * the directory was opened with allow_escape), a dangling link an APR_STATUS_IS_ENOENT status.
 */
apr_status_t kz_dir_stat(apr_finfo_t *finfo, kz_dir_t *dir, const char *name);

#endif

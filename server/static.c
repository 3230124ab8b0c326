/*
 * Static files (RFC 9110 §9.3.1–9.3.2): GET and HEAD of files under wwwroot, opened beneath the
 * root so no symbolic link leads outside it, index files for directories, a 301 for a directory
 * named without its slash, and bodies sent with sendfile.
 */
#include "core.h"
#include "dirlist.h"
#include "stages.h"
#include "filecache.h"
#include "url.h"

#include <apr_strings.h>
#include <string.h>

static const char *const index_files[] = {"index.html", "index.htm", "index.xhtml"};

/* Maps an open error to a status, logging what the administrator should know. */
static int open_error(kz_request_t *r, apr_status_t rv)
{
    kz_loop_t *loop = r->conn->loop;

    if (rv == KZ_STATUS_ESCAPE) {
        kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_WARN, 201,
                     "refused %s: it resolves outside wwwroot %s", r->path, r->conf->wwwroot);
        return 403;
    }
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv) || APR_STATUS_IS_ENAMETOOLONG(rv)) {
        return 404;
    }
    if (APR_STATUS_IS_EACCES(rv) || rv == APR_FROM_OS_ERROR(EPERM) ||
        rv == APR_FROM_OS_ERROR(ELOOP)) {
        return 403;
    }
    kz_log_error(loop->server->logger, loop->logbuf, KZ_LOG_ERR, 202, "cannot open %s in %s: %d",
                 r->path, r->conf->wwwroot, rv);
    return 500;
}

static apr_status_t cache_open(kz_request_t *r, kz_root_t *root, const char *rel,
                               kz_fcentry_t **entry)
{
    kz_loop_t *loop = r->conn->loop;

    return kz_filecache_open(entry, loop->filecache, root, rel, r->conf->allow_symlinks_outside,
                             loop->now, r->pool);
}

/* A directory: its index file, or a listing (kz_dirlist_serve decides whether listings are on). */
static int open_index(kz_request_t *r, kz_root_t *root, const char *rel, kz_fcentry_t **entry)
{
    for (apr_size_t i = 0; i < sizeof(index_files) / sizeof(index_files[0]); i++) {
        const char *name = apr_pstrcat(r->pool, rel, index_files[i], NULL);
        apr_status_t rv = cache_open(r, root, name, entry);

        if (rv == APR_SUCCESS && (*entry)->finfo.filetype == APR_REG) {
            r->path = apr_pstrcat(r->pool, r->path, index_files[i], NULL);
            return 0;
        }
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            return open_error(r, rv);
        }
    }
    return kz_dirlist_serve(r, root, rel);
}

static int redirect_to_directory(kz_request_t *r)
{
    const char *loc = apr_pstrcat(r->pool, kz_url_encode_path(r->path, r->pool), "/",
                                  r->query ? "?" : "", r->query ? r->query : "", NULL);

    kz_response_error(r, 301);
    kz_response_header(r, "Location", loc);
    return KZ_DONE;
}

const struct kz_static_conf *kz_static_compile(const kz_conf_t *c, apr_pool_t *p)
{
    return NULL;
}

int kz_static_slash_stage(kz_request_t *r)
{
    return KZ_DECLINED;
}

int kz_static_handle(kz_request_t *r)
{
    kz_root_t *root;
    kz_fcentry_t *e;
    apr_status_t rv;
    const char *type;
    int rc;

    if (!r->conf->wwwroot) {
        return KZ_DECLINED;
    }
    root = apr_hash_get(r->rc->roots, r->conf->wwwroot, APR_HASH_KEY_STRING);
    if (!root) {
        return 404;
    }
    if ((rv = cache_open(r, root, r->path + 1, &e)) != APR_SUCCESS) {
        return open_error(r, rv);
    }
    if (e->finfo.filetype == APR_DIR) {
        if (r->path[strlen(r->path) - 1] != '/') {
            return redirect_to_directory(r);
        }
        if ((rc = open_index(r, root, r->path + 1, &e)) != 0) {
            return rc;
        }
    }
    if (e->finfo.filetype != APR_REG) {
        return 501; /* a device, a socket, a FIFO: as the original */
    }
    if (r->method_num != KZ_M_GET && r->method_num != KZ_M_HEAD) {
        kz_response_error(r, 405);
        kz_response_header(r, "Allow", "GET, HEAD, OPTIONS");
        return KZ_DONE;
    }
    type = kz_mime_lookup(r->rc->mime, r->path);
    kz_response_header(r, "Content-Type", type ? type : "application/octet-stream");
    r->status = 200;
    if (e->content) {
        kz_response_body_mem(r, e->content, (apr_size_t)e->finfo.size);
    } else {
        kz_response_body_file(r, e->file, 0, e->finfo.size);
    }
    return KZ_DONE;
}

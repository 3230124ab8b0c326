/*
 * errorPages and errorConfig. errorPages maps a status to a file whose content replaces the
 * built-in page (served as HTML, as the original did; read when needed, at most 1 MiB, and a
 * file that cannot be read falls back to the built-in page with a log line). errorConfig entries
 * are compiled by config.c; this file finds the one for a status.
 */
#include "errors.h"
#include "core.h"
#include "stages.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <string.h>

#define KZ_ERROR_PAGE_MAX (1024 * 1024)

typedef struct kz_error_page {
    int scode;
    const char *path; /**< absolute */
} kz_error_page_t;

struct kz_errors {
    int n;
    kz_error_page_t pages[];
};

const char *kz_errors_check_pages(const kz_value_t *v, apr_pool_t *p)
{
    if (v->type != KZ_V_LIST) {
        return "expected a list of {scode, path} maps";
    }
    for (int i = 0; i < v->items->nelts; i++) {
        const kz_value_t *e = APR_ARRAY_IDX(v->items, i, kz_value_t *);
        const kz_value_t *scode, *path;

        if (e->type != KZ_V_MAP) {
            return "expected a list of {scode, path} maps";
        }
        for (int k = 0; k < e->items->nelts; k++) {
            const char *key = APR_ARRAY_IDX(e->items, k, kz_pair_t).key;
            if (strcmp(key, "scode") != 0 && strcmp(key, "path") != 0) {
                return apr_psprintf(p, "unknown key '%s' (expected scode and path)", key);
            }
        }
        scode = kz_value_map_get(e, "scode");
        path = kz_value_map_get(e, "path");
        if (!scode || scode->type != KZ_V_INT || scode->i < 400 || scode->i > 599) {
            return "scode must be an error status from 400 to 599";
        }
        if (!path || path->type != KZ_V_STR || !*path->text) {
            return "path must name a file";
        }
    }
    return NULL;
}

/*
 * An absolute path, a relative one taken from the directory of the file the value was written
 * in (its '/' kept, so a file in "/" gives "/", and "" means the working directory).
 */
const struct kz_errors *kz_errors_compile(const kz_conf_t *c, apr_pool_t *p)
{
    const kz_value_t *v = kz_conf_get(c, "errorPages");
    struct kz_errors *e;

    if (!v || v->type != KZ_V_LIST || v->items->nelts == 0) {
        return NULL;
    }
    e = apr_pcalloc(p, sizeof(*e) + (apr_size_t)v->items->nelts * sizeof(kz_error_page_t));
    for (int i = 0; i < v->items->nelts; i++) {
        const kz_value_t *entry = APR_ARRAY_IDX(v->items, i, kz_value_t *);
        e->pages[e->n].scode = (int)kz_value_map_get(entry, "scode")->i;
        e->pages[e->n++].path = kz_value_path(kz_value_map_get(entry, "path"), p);
    }
    return e;
}

const kz_conf_t *kz_errors_config(const kz_conf_t *conf, int status)
{
    const apr_array_header_t *ecs = conf->error_confs;

    /* The last match: host and location entries come after the global ones they override. */
    for (int i = ecs ? ecs->nelts - 1 : -1; i >= 0; i--) {
        const kz_error_conf_t *ec = &APR_ARRAY_IDX(ecs, i, kz_error_conf_t);
        if (ec->scode == status || ec->scode == 0) {
            return ec->conf;
        }
    }
    return NULL;
}

/* The errorPages file for status (the last entry for it wins, as with errorConfig). */
static const char *page_path(const kz_conf_t *conf, int status)
{
    const struct kz_errors *e = conf->errors;

    for (int i = e ? e->n - 1 : -1; i >= 0; i--) {
        if (e->pages[i].scode == status) {
            return e->pages[i].path;
        }
    }
    return NULL;
}

static apr_status_t read_page(const char *path, const char **out, apr_size_t *len, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char *buf;

    /* Non-blocking, so that a FIFO in the page's place cannot stall the loop in the open. */
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_NONBLOCK, 0, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && (fi.filetype != APR_REG || fi.size > KZ_ERROR_PAGE_MAX)) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        buf = apr_palloc(p, (apr_size_t)fi.size + 1);
        rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, len);
        *out = buf;
    }
    apr_file_close(f);
    return rv;
}

void kz_errors_respond(kz_request_t *r, int status)
{
    const char *path = page_path(r->conf, status);
    const char *body;
    apr_size_t len;
    apr_status_t rv;

    kz_response_error(r, status);
    if (status == 405 && !kz_response_header_get(r, "Allow")) {
        kz_response_header(r, "Allow", "GET, HEAD, POST, OPTIONS");
    }
    if (!path) {
        return;
    }
    if ((rv = read_page(path, &body, &len, r->pool)) != APR_SUCCESS) {
        kz_request_log(r, KZ_LOG_ERR, 210, "cannot read the error page %s for status %d: %pm", path,
                       status, &rv);
        return;
    }
    kz_response_body_mem(r, body, len);
}

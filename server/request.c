/*
 * The request pipeline, in Karpacz's fixed order (DESIGN.md): method and target checks
 * (RFC 9110 §9, RFC 9112 §3.2), URL sanitizing, host and location selection, then the handlers
 * (modules in loadModules order arrive with the module API; static files last). A handler that
 * returns a status gets the server's error page; nothing answering is a 404.
 */
#include "core.h"
#include "url.h"

#include "kz_listen.h"

#include <apr_strings.h>
#include <string.h>

static const struct {
    const char *name;
    apr_size_t len;
} methods[] = {
    {"GET", 3},     {"HEAD", 4},    {"POST", 4},  {"PUT", 3},   {"DELETE", 6},
    {"CONNECT", 7}, {"OPTIONS", 7}, {"TRACE", 5}, {"PATCH", 5},
};

#define KZ_ALLOW "GET, HEAD, POST, OPTIONS"

/* Methods are case-sensitive (RFC 9110 §9.1): "get" is an unknown method. */
static int method_lookup(const char *m, apr_size_t len)
{
    for (int i = 0; i < (int)(sizeof(methods) / sizeof(methods[0])); i++) {
        if (methods[i].len == len && memcmp(methods[i].name, m, len) == 0) {
            return i;
        }
    }
    return -1;
}

/*
 * Splits the target into path and query. Absolute-form (RFC 9112 §3.2.2) is accepted: its
 * authority then replaces Host for routing. Returns 0 or an error status.
 */
static int split_target(kz_request_t *r, const char **path, apr_size_t *path_len)
{
    const char *t = r->head.target;
    const char *q;

    if (t[0] != '/') {
        const char *auth;
        if (strncasecmp(t, "http://", 7) == 0) {
            auth = t + 7;
        } else if (strncasecmp(t, "https://", 8) == 0) {
            auth = t + 8;
        } else {
            return 400;
        }
        t = strchr(auth, '/');
        r->host = t ? apr_pstrmemdup(r->pool, auth, (apr_size_t)(t - auth)) : auth;
        r->info.host = r->host;
        r->info.host_len = strlen(r->host);
        if (!t) {
            t = "/";
        }
    }
    q = strchr(t, '?');
    *path = t;
    *path_len = q ? (apr_size_t)(q - t) : strlen(t);
    r->query = q ? q + 1 : NULL;
    return 0;
}

static const char *local_ip(kz_request_t *r)
{
    kz_conn_t *c = r->conn;

    if (!c->local_ip[0]) {
        kz_socket_local_ip(c->local_ip, sizeof(c->local_ip), c->fd);
    }
    return c->local_ip;
}

/* The handlers: the modules of loadModules in order, then the default handler's OPTIONS answer,
 * then static files; nothing answering is a 404. */
static int run_handlers(kz_request_t *r)
{
    int rc;

    if (r->method_num == KZ_M_OPTIONS) {
        r->status = 204;
        kz_response_header(r, "Allow", KZ_ALLOW);
        return KZ_DONE;
    }
    rc = kz_static_handle(r);
    return rc == KZ_DECLINED ? 404 : rc;
}

/* The core's steps before the handlers, in Karpacz's fixed order (DESIGN.md). */
static int (*const stages[])(kz_request_t *r) = {
    kz_clientip_stage, kz_redirect_stage, kz_blocklist_stage,
    kz_rewrite_stage,  kz_ncodes_stage,   kz_static_slash_stage,
};

static int run_pipeline(kz_request_t *r)
{
    for (apr_size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
        int rc = stages[i](r);
        if (rc != KZ_DECLINED) {
            return rc;
        }
    }
    return run_handlers(r);
}

void kz_request_reselect(kz_request_t *r)
{
    r->conf = r->vhost ? kz_vhost_location(r->vhost, r->path) : r->rc->config->global_conf;
}

static int request_route(kz_request_t *r)
{
    const kz_vhost_t *vh;
    const char *path;
    apr_size_t path_len;
    int rc;

    r->method_num = method_lookup(r->head.method, r->head.method_len);
    if (r->method_num < 0) {
        return 501;
    }
    r->head_only = r->method_num == KZ_M_HEAD;
    if (r->method_num == KZ_M_TRACE) {
        return 405;
    }
    if (r->method_num == KZ_M_CONNECT) {
        return 501; /* no module handles CONNECT yet */
    }
    if (strcmp(r->head.target, "*") == 0) {
        if (r->method_num != KZ_M_OPTIONS) {
            return 400;
        }
        r->status = 204;
        kz_response_header(r, "Allow", KZ_ALLOW);
        return KZ_DONE;
    }
    r->host = r->info.host;
    if ((rc = split_target(r, &path, &path_len)) != 0) {
        return rc;
    }
    /* The host decides how the path is sanitized (allowDoubleSlashes); the sanitized path then
     * picks the location. */
    vh = kz_config_vhost(r->rc->config, r->info.host, r->info.host_len,
                         r->rc->has_ip_hosts ? local_ip(r) : NULL);
    r->vhost = vh;
    r->conf = vh ? vh->conf : r->rc->config->global_conf;
    rc = kz_url_sanitize(&r->path, path, path_len, r->conf->allow_double_slashes, r->pool);
    if (rc != 0) {
        return rc;
    }
    if (vh) {
        r->conf = kz_vhost_location(vh, r->path);
    }
    return run_pipeline(r);
}

void kz_request_handle(kz_request_t *r)
{
    int rc = request_route(r);

    if (rc != KZ_DONE) {
        kz_response_error(r, rc);
        if (rc == 405) {
            kz_response_header(r, "Allow", KZ_ALLOW);
        }
    }
    if (r->status == 0) {
        r->status = 200;
    }
}

/*
 * The request pipeline, in Karpacz's fixed order (DESIGN.md): method and target checks
 * (RFC 9110 §9, RFC 9112 §3.2), URL sanitizing, host and location selection, then the handlers
 * (modules in loadModules order arrive with the module API; static files last). A handler that
 * returns a status gets the server's error page; nothing answering is a 404.
 */
#include "core.h"
#include "module.h"
#include "url.h"

#include "kz_listen.h"

#include <apr_strings.h>
#include <stdarg.h>
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

enum { PHASE_HANDLE, PHASE_CONNECT };

/* A module's answer: KZ_DECLINED, KZ_DONE, KZ_SUSPENDED or an error status; anything else is the
 * module's fault and becomes a 500. */
static int check_rc(kz_request_t *r, const kz_module_t *m, int rc)
{
    if (rc == KZ_DECLINED || rc == KZ_DONE || rc == KZ_SUSPENDED || (rc >= 400 && rc <= 599)) {
        return rc;
    }
    kz_request_log(r, KZ_LOG_ERR, 203, "module '%s' returned %d for %s; answering 500", m->name, rc,
                   r->path ? r->path : r->target);
    return 500;
}

/* Runs the modules' handle (or handle_connect) hooks from r->mod_next on, in loadModules order. */
static int run_modules(kz_request_t *r)
{
    const apr_array_header_t *mods = r->rc->config->modules;

    while (mods && r->mod_next < mods->nelts) {
        const kz_module_t *m = APR_ARRAY_IDX(mods, r->mod_next, const kz_module_t *);
        int (*hook)(kz_request_t *) = r->phase == PHASE_CONNECT ? m->handle_connect : m->handle;
        int rc;

        r->mod_next++;
        if (!hook) {
            continue;
        }
        r->mods_ran |= (apr_uint64_t)1 << (r->mod_next - 1);
        rc = check_rc(r, m, hook(r));
        if (rc == KZ_SUSPENDED) {
            r->suspended = 1;
        }
        if (rc != KZ_DECLINED) {
            return rc;
        }
    }
    return KZ_DECLINED;
}

/*
 * The handlers, from where the request stands: the CONNECT/upgrade hooks (a CONNECT nobody takes
 * is a 501; an upgrade nobody takes is a plain request), the modules of loadModules in order, the
 * default handler's OPTIONS answer, static files; nothing answering is a 404.
 */
static int run_handlers(kz_request_t *r)
{
    int rc;

    if (r->phase == PHASE_CONNECT) {
        if ((rc = run_modules(r)) != KZ_DECLINED) {
            return rc;
        }
        if (r->method_num == KZ_M_CONNECT) {
            return 501;
        }
        r->phase = PHASE_HANDLE;
        r->mod_next = 0;
    }
    if ((rc = run_modules(r)) != KZ_DECLINED) {
        return rc;
    }
    if (r->method_num == KZ_M_OPTIONS) {
        r->status = 204;
        kz_response_header(r, "Allow", KZ_ALLOW);
        return KZ_DONE;
    }
    rc = kz_static_handle(r);
    return rc == KZ_DECLINED ? 404 : rc;
}

/* The core's steps before the handlers, in Karpacz's fixed order (DESIGN.md); KZ_STAGE_REWRITE
 * below names the index of kz_rewrite_stage. */
static int (*const stages[])(kz_request_t *r) = {
    kz_clientip_stage, kz_redirect_stage, kz_blocklist_stage,
    kz_rewrite_stage,  kz_ncodes_stage,   kz_static_slash_stage,
};

#define KZ_NSTAGES ((int)(sizeof(stages) / sizeof(stages[0])))
/* Where an errorConfig rerun starts: the steps that act on the path (the client, redirects and
 * the blocklist were decided already). */
#define KZ_STAGE_REWRITE 3

/* The stages from r->stage_next on; a suspended one is where the request goes on later. */
static int run_pipeline(kz_request_t *r)
{
    for (; r->stage_next < KZ_NSTAGES; r->stage_next++) {
        int rc = stages[r->stage_next](r);

        if (rc == KZ_SUSPENDED) {
            r->suspended = 1;
            r->in_stage = 1;
            return rc;
        }
        if (rc != KZ_DECLINED) {
            return rc;
        }
    }
    if (r->info.upgrade) {
        r->phase = PHASE_CONNECT;
    }
    return run_handlers(r);
}

void kz_request_reselect(kz_request_t *r)
{
    const kz_conf_t *ec;

    r->conf = r->vhost ? kz_vhost_location(r->vhost, r->path) : r->rc->config->global_conf;
    /* During an errorConfig rerun, the new location's entry for the same status applies. */
    if (r->error_status && (ec = kz_errors_config(r->conf, r->error_status)) != NULL) {
        r->conf = ec;
    }
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
        /* Authority-form (RFC 9112 §3.2.3): the modules' CONNECT hooks, with the global
         * configuration, as the original; none taking it is a 501. */
        r->path = r->head.target;
        r->phase = PHASE_CONNECT;
        return run_handlers(r);
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

/* The response hooks of every module whose handler ran, in reverse order. */
static void run_response_hooks(kz_request_t *r)
{
    const apr_array_header_t *mods = r->rc->config->modules;

    for (int i = mods ? mods->nelts - 1 : -1; i >= 0; i--) {
        const kz_module_t *m = APR_ARRAY_IDX(mods, i, const kz_module_t *);
        if (m->on_response && (r->mods_ran >> i & 1)) {
            m->on_response(r);
        }
    }
}

/*
 * Turns the chain's result into the final response: an error status first looks for an
 * errorConfig entry (the steps from rewriting on and the handlers then run again with its
 * configuration, and a success of theirs is sent with the error's status), then for an
 * errorPages file, then the built-in page.
 */
static int request_settle(kz_request_t *r, int rc)
{
    const kz_conf_t *ec;

    while (rc != KZ_SUSPENDED && rc != KZ_DONE) {
        /* Only a request that reached a path can run again: not a malformed target, an unknown
         * method or a CONNECT. */
        if (!r->error_status && r->path && r->path[0] == '/' &&
            (ec = kz_errors_config(r->conf, rc)) != NULL) {
            r->error_status = rc;
            r->conf = ec;
            kz_response_reset(r);
            r->phase = PHASE_HANDLE;
            r->mod_next = 0;
            r->stage_next = KZ_STAGE_REWRITE;
            rc = run_pipeline(r);
            continue;
        }
        kz_errors_respond(r, r->error_status ? r->error_status : rc);
        rc = KZ_DONE;
    }
    if (rc == KZ_SUSPENDED) {
        return rc;
    }
    if (r->error_status && r->status < 300) {
        r->status = r->error_status;
    }
    if (r->status == 0) {
        r->status = 200;
    }
    run_response_hooks(r);
    return KZ_DONE;
}

int kz_request_handle(kz_request_t *r)
{
    return request_settle(r, request_route(r));
}

void kz_request_timeout(kz_request_t *r, int status)
{
    r->suspended = 0;
    if (status == 408) {
        kz_request_log(r, KZ_LOG_WARN, 205, "the request body of %s stalled",
                       r->path ? r->path : r->target);
        r->close = 1;
    } else {
        kz_request_log(r, KZ_LOG_WARN, 204, "no answer for %s within the request timeout",
                       r->path ? r->path : r->target);
    }
    kz_response_reset(r);
    kz_errors_respond(r, status);
    run_response_hooks(r);
}

/* ---- the module interface (kz_module.h) ----------------------------------------------- */

int kz_request_continue(kz_request_t *r, int rc)
{
    r->suspended = 0;
    if (r->in_stage) {
        /* A core stage: KZ_DECLINED runs that stage again, then the rest of the pipeline. */
        r->in_stage = 0;
        if (rc == KZ_DECLINED) {
            rc = run_pipeline(r);
        }
    } else {
        const kz_module_t *m =
            APR_ARRAY_IDX(r->rc->config->modules, r->mod_next - 1, const kz_module_t *);
        rc = check_rc(r, m, rc);
        if (rc == KZ_DECLINED) {
            rc = run_handlers(r);
        }
    }
    return request_settle(r, rc);
}

KZ_API apr_status_t kz_request_resume(kz_request_t *r, int rc)
{
    if (!r->suspended) {
        return APR_EINVAL;
    }
    if (kz_request_continue(r, rc) == KZ_DONE) {
        kz_conn_respond(r->conn);
    }
    return APR_SUCCESS;
}

KZ_API apr_pool_t *kz_request_pool(const kz_request_t *r)
{
    return r->pool;
}

KZ_API const char *kz_request_method(const kz_request_t *r)
{
    return r->method;
}

KZ_API const char *kz_request_path(const kz_request_t *r)
{
    return r->path;
}

KZ_API const char *kz_request_query(const kz_request_t *r)
{
    return r->query;
}

KZ_API const char *kz_request_header(const kz_request_t *r, const char *name)
{
    const kz_http_field_t *f = kz_http_field(&r->head, name);

    return f ? f->value : NULL;
}

KZ_API const char *kz_request_client_ip(const kz_request_t *r)
{
    return r->client_ip;
}

KZ_API const char *kz_request_host(const kz_request_t *r)
{
    return r->host;
}

KZ_API const kz_conf_t *kz_request_conf(const kz_request_t *r)
{
    return r->conf;
}

KZ_API void *kz_request_module_conf(const kz_request_t *r, const kz_module_t *self)
{
    int i = kz_module_index(self);

    /* A module loaded by a later reload has no settings in an older configuration. */
    return i >= 0 && i < r->conf->nmodule_confs ? r->conf->module_confs[i] : NULL;
}

KZ_API kz_loop_t *kz_request_loop(const kz_request_t *r)
{
    return r->conn->loop;
}

KZ_API void kz_request_log(const kz_request_t *r, kz_log_level_e level, int msgid, const char *fmt,
                           ...)
{
    kz_loop_t *loop = r->conn->loop;
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kz_log_error(loop->server->logger, loop->logbuf, level, msgid, "%s", msg);
}

/*
 * The server's life: derive what a configuration needs at run time (MIME table, opened document
 * roots), bind the listeners, start one event loop per worker, then wait for control events —
 * stop gracefully, reload the configuration (a bad one is logged and the old one keeps serving),
 * reopen the logs. A reload swaps the current configuration under a mutex; each loop picks it up
 * at its next request and frees the old one when its last request on it ends.
 */
#include "brute.h"
#include "core.h"
#include "work.h"

#include "kz_daemon.h"
#include "kz_listen.h"
#include "kz_os.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>

/* Opens conf's wwwroot once per configuration (scopes sharing one share the root) and gives
 * the scope its root, so a request finds it without a lookup. */
static void open_root(kz_runconf_t *rc, kz_conf_t *conf, apr_pool_t *p)
{
    const char *wwwroot = conf->wwwroot;
    kz_root_t *root;
    apr_status_t rv;
    char msg[128];

    if (!wwwroot) {
        return;
    }
    if ((conf->root = apr_hash_get(rc->roots, wwwroot, APR_HASH_KEY_STRING)) != NULL) {
        return;
    }
    if ((rv = kz_root_open(&root, wwwroot, p)) == APR_SUCCESS) {
        apr_hash_set(rc->roots, wwwroot, APR_HASH_KEY_STRING, root);
        conf->root = root;
    } else {
        APR_ARRAY_PUSH(rc->warnings, const char *) =
            apr_psprintf(p, "wwwroot %s cannot be opened (%s); its requests get 404", wwwroot,
                         apr_strerror(rv, msg, sizeof(msg)));
    }
}

/* The web roots of a scope and of its errorConfig entries. */
static void open_roots(kz_runconf_t *rc, kz_conf_t *conf, apr_pool_t *p)
{
    open_root(rc, conf, p);
    for (int i = 0; conf->error_confs && i < conf->error_confs->nelts; i++) {
        open_root(rc, APR_ARRAY_IDX(conf->error_confs, i, kz_error_conf_t).conf, p);
    }
}

/* Each module's init() for a configuration about to serve; the first failure refuses it. */
static apr_status_t modules_init(kz_config_t *config, const char **error)
{
    for (int i = 0; config->modules && i < config->modules->nelts; i++) {
        const kz_module_t *m = APR_ARRAY_IDX(config->modules, i, const kz_module_t *);
        const char *msg = NULL;
        apr_status_t rv;

        if (m->init && (rv = m->init(m, config->pool, &msg)) != APR_SUCCESS) {
            *error = apr_psprintf(config->pool, "module '%s' failed to start: %s", m->name,
                                  msg ? msg : "no reason given");
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t kz_runconf_create(kz_runconf_t **out, kz_config_t *config, kz_mime_t *builtin,
                               const char **error)
{
    apr_pool_t *p = config->pool;
    kz_runconf_t *rc = apr_pcalloc(p, sizeof(*rc));

    rc->config = config;
    rc->refs = 1;
    if (config->global.mime_types_file) {
        rc->mime = kz_mime_load(config->global.mime_types_file, error, p);
        if (!rc->mime) {
            return APR_EINVAL;
        }
    } else {
        rc->mime = builtin;
    }
    rc->roots = apr_hash_make(p);
    rc->warnings = apr_array_make(p, 1, sizeof(const char *));
    open_roots(rc, config->global_conf, p);
    for (int i = 0; i < config->vhosts->nelts; i++) {
        kz_vhost_t *vh = &APR_ARRAY_IDX(config->vhosts, i, kz_vhost_t);
        open_roots(rc, vh->conf, p);
        rc->has_ip_hosts |= vh->ip != NULL;
        for (int j = 0; vh->locations && j < vh->locations->nelts; j++) {
            open_roots(rc, APR_ARRAY_IDX(vh->locations, j, kz_location_t).conf, p);
        }
    }
    if (modules_init(config, error) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *out = rc;
    return APR_SUCCESS;
}

void kz_runconf_release(kz_runconf_t *rc)
{
    if (apr_atomic_dec32(&rc->refs) == 0) {
        apr_pool_destroy(rc->config->pool);
    }
}

static kz_runconf_t *server_acquire(kz_server_t *s, apr_uint32_t *generation)
{
    kz_runconf_t *rc;

    apr_thread_mutex_lock(s->mutex);
    rc = s->current;
    apr_atomic_inc32(&rc->refs);
    *generation = apr_atomic_read32(&s->generation);
    apr_thread_mutex_unlock(s->mutex);
    return rc;
}

kz_cfgslot_t *kz_loop_config(kz_loop_t *loop)
{
    if (loop->generation != apr_atomic_read32(&loop->server->generation) || !loop->cfg) {
        kz_cfgslot_t *slot = calloc(1, sizeof(*slot)); /* outlives requests; see retire */
        if (!slot) {
            abort();
        }
        slot->rc = server_acquire(loop->server, &loop->generation);
        if (loop->cfg && loop->cfg->users == 0) {
            kz_runconf_release(loop->cfg->rc);
            free(loop->cfg);
        } else if (loop->cfg) {
            loop->cfg->retired = 1;
            loop->cfg->next = loop->retired;
            loop->retired = loop->cfg;
        }
        loop->cfg = slot;
    }
    loop->cfg->users++;
    return loop->cfg;
}

void kz_cfgslot_done(kz_loop_t *loop, kz_cfgslot_t *slot)
{
    kz_cfgslot_t **pp;

    if (--slot->users > 0 || !slot->retired) {
        return;
    }
    for (pp = &loop->retired; *pp; pp = &(*pp)->next) {
        if (*pp == slot) {
            *pp = slot->next;
            break;
        }
    }
    kz_runconf_release(slot->rc);
    free(slot);
}

/* Binds every address of `port` for every loop: SO_REUSEPORT gives each loop its own socket.
 * Under a supervisor (karpacz -d) the sockets it bound are taken instead, so that their accept
 * queues survive this process. */
static apr_status_t server_listen(kz_server_t *s, const kz_global_t *g)
{
    int reuse = kz_listen_reuseport_supported();

    s->listeners = apr_array_make(s->pool, 2, sizeof(kz_listen_addr_t));
    for (int i = 0; i < g->listen->nelts; i++) {
        kz_listen_addr_t addr = APR_ARRAY_IDX(g->listen, i, kz_listen_addr_t);
        apr_port_t wanted = addr.port; /* as configured: how the supervisor names its sockets */
        for (int l = 0; l < s->nloops; l++) {
            kz_loop_t *loop = s->loops[l];
            apr_socket_t *sock;
            apr_status_t rv;

            if (l > 0 && !reuse) {
                sock = APR_ARRAY_IDX(s->loops[0]->listeners, i, apr_socket_t *);
            } else if (kz_daemon_listener(&sock, addr.host, wanted, l, s->pool) == APR_SUCCESS) {
                /* inherited */
            } else if ((rv = kz_listen_open(&sock, addr.host, addr.port, reuse, s->pool)) !=
                       APR_SUCCESS) {
                char msg[256];
                fprintf(stderr, "karpacz: cannot listen on %s:%u: %s\n",
                        addr.host ? addr.host : "*", addr.port, apr_strerror(rv, msg, sizeof(msg)));
                return rv;
            }
            if (l == 0 && addr.port == 0) {
                addr.port = kz_listen_port(sock); /* the others share the port the system chose */
            }
            APR_ARRAY_PUSH(loop->listeners, apr_socket_t *) = sock;
        }
        APR_ARRAY_PUSH(s->listeners, kz_listen_addr_t) = addr;
    }
    return APR_SUCCESS;
}

/* Switches to the configured user and group with the sockets bound and the logs open, before
 * any request is served; a failed switch refuses to start rather than run as root. */
static apr_status_t server_drop_privileges(kz_server_t *s, const kz_config_t *config)
{
    const kz_value_t *user = kz_conf_get(config->global_conf, "user");
    const kz_value_t *group = kz_conf_get(config->global_conf, "group");
    const char *error = NULL;
    apr_status_t rv;

    rv = kz_daemon_drop_privileges(user ? user->text : NULL, group ? group->text : NULL, &error,
                                   s->pool);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "karpacz: %s\n", error ? error : "cannot switch user");
    }
    return rv;
}

static void log_runconf_warnings(kz_server_t *s, const kz_runconf_t *rc)
{
    for (int i = 0; i < rc->warnings->nelts; i++) {
        kz_log_error(s->logger, NULL, KZ_LOG_WARN, 9, "%s",
                     APR_ARRAY_IDX(rc->warnings, i, const char *));
    }
}

/* Undoes a start that failed half-way. */
static void server_abandon(kz_server_t *s)
{
    for (int i = 0; i < s->nloops; i++) {
        if (s->loops[i]) {
            kz_loop_destroy(s->loops[i]);
        }
    }
    if (s->logger) {
        kz_logger_stop(s->logger);
    }
    kz_runconf_release(s->current);
}

static void print_listeners(const kz_server_t *s)
{
    for (int i = 0; i < s->listeners->nelts; i++) {
        const kz_listen_addr_t *a = &APR_ARRAY_IDX(s->listeners, i, kz_listen_addr_t);
        const char *host = a->host ? a->host : "[::]";
        int bracket = strchr(host, ':') && host[0] != '[';
        printf("Karpacz listening on %s%s%s:%u\n", bracket ? "[" : "", host, bracket ? "]" : "",
               a->port);
    }
    fflush(stdout);
}

apr_status_t kz_server_start(kz_server_t **out, kz_config_t *config, apr_pool_t *p)
{
    kz_server_t *s = apr_pcalloc(p, sizeof(*s));
    const kz_global_t *g = &config->global;
    const char *error = NULL;
    apr_uint32_t fds = 0;
    apr_status_t rv;

    s->pool = p;
    s->brute = kz_brute_create(p);
    apr_thread_mutex_create(&s->mutex, APR_THREAD_MUTEX_DEFAULT, p);
    /* The built-in MIME table is parsed once into the process pool and shared by every
     * configuration, so it outlives reloads. */
    s->mime = kz_mime_builtin(p);
    if ((rv = kz_runconf_create(&s->current, config, s->mime, &error)) != APR_SUCCESS) {
        fprintf(stderr, "karpacz: %s\n", error);
        return rv;
    }
    rv = kz_logger_start(&s->logger, g->log_path, g->error_log_path, &error, p);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "karpacz: %s\n", error);
        s->logger = NULL;
        server_abandon(s);
        return rv;
    }
    kz_os_raise_fd_limit((apr_uint32_t)g->max_connections * 2 + 64, &fds);
    s->nloops = g->workers;
    s->loops = apr_pcalloc(p, sizeof(kz_loop_t *) * (apr_size_t)s->nloops);
    for (int i = 0; i < s->nloops; i++) {
        if ((rv = kz_loop_create(&s->loops[i], s, i, p)) != APR_SUCCESS) {
            server_abandon(s);
            return rv;
        }
        kz_cfgslot_done(s->loops[i], kz_loop_config(s->loops[i]));
    }
    if ((rv = server_listen(s, g)) != APR_SUCCESS ||
        (rv = server_drop_privileges(s, config)) != APR_SUCCESS) {
        server_abandon(s);
        return rv;
    }
    /* Password hashing and other blocking work; without it that work runs on the loops. */
    if ((rv = kz_workpool_create(&s->workpool, kz_os_ncpu(), KZ_WORK_MAX_PENDING)) != APR_SUCCESS) {
        kz_log_error(s->logger, NULL, KZ_LOG_WARN, 11,
                     "no worker threads for blocking work (error %d); it runs on the loops", rv);
    }
    print_listeners(s);
    log_runconf_warnings(s, s->current);
    kz_log_error(s->logger, NULL, KZ_LOG_NOTICE, 1, "Karpacz %s started with %d workers, %u fds",
                 KZ_VERSION_STRING, s->nloops, fds);
    for (int i = 0; i < s->nloops; i++) {
        apr_thread_create(&s->loops[i]->thread, NULL, kz_loop_main, s->loops[i], p);
    }
    *out = s;
    return APR_SUCCESS;
}

static int same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_listeners(const kz_global_t *a, const kz_global_t *b)
{
    if (a->listen->nelts != b->listen->nelts || a->workers != b->workers) {
        return 0;
    }
    for (int i = 0; i < a->listen->nelts; i++) {
        const kz_listen_addr_t *x = &APR_ARRAY_IDX(a->listen, i, kz_listen_addr_t);
        const kz_listen_addr_t *y = &APR_ARRAY_IDX(b->listen, i, kz_listen_addr_t);
        if (x->port != y->port || (x->host == NULL) != (y->host == NULL) ||
            (x->host && strcmp(x->host, y->host) != 0)) {
            return 0;
        }
    }
    return 1;
}

static void server_reload(kz_server_t *s)
{
    kz_config_t *config;
    kz_diag_t *diag;
    kz_runconf_t *rc, *old;
    const char *error = NULL;
    const char *file = s->current->config->file;
    apr_pool_t *tmp;

    apr_pool_create(&tmp, s->pool);
    if (kz_config_load(&config, &diag, file, s->pool) != APR_SUCCESS ||
        kz_runconf_create(&rc, config, s->mime, &error) != APR_SUCCESS) {
        for (int i = 0; diag && i < diag->errors->nelts; i++) {
            kz_log_error(s->logger, NULL, KZ_LOG_ERR, 3, "reload: %s",
                         APR_ARRAY_IDX(diag->errors, i, const char *));
        }
        if (error) {
            kz_log_error(s->logger, NULL, KZ_LOG_ERR, 3, "reload: %s", error);
        }
        kz_log_error(s->logger, NULL, KZ_LOG_ERR, 4,
                     "reload of %s failed; the running configuration stays", file);
        if (config) {
            apr_pool_destroy(config->pool); /* loaded, but refused while preparing it */
        }
        apr_pool_destroy(tmp);
        return;
    }
    apr_pool_destroy(tmp);
    if (!same_listeners(&s->current->config->global, &config->global) ||
        !same_string(s->current->config->global.log_path, config->global.log_path) ||
        !same_string(s->current->config->global.error_log_path, config->global.error_log_path) ||
        s->current->config->global.max_head != config->global.max_head) {
        kz_log_error(s->logger, NULL, KZ_LOG_WARN, 5,
                     "reload: changes to port, workers, log files and "
                     "maximumRequestHeadersSize take effect at the next restart");
    }
    for (int i = 0; i < diag->warnings->nelts; i++) {
        kz_log_error(s->logger, NULL, KZ_LOG_WARN, 10, "reload: %s",
                     APR_ARRAY_IDX(diag->warnings, i, const char *));
    }
    log_runconf_warnings(s, rc);
    apr_thread_mutex_lock(s->mutex);
    old = s->current;
    s->current = rc;
    apr_atomic_inc32(&s->generation);
    apr_thread_mutex_unlock(s->mutex);
    /* `file` is the old configuration's string: released below, it may be freed at once. */
    kz_log_error(s->logger, NULL, KZ_LOG_NOTICE, 6, "configuration %s reloaded", config->file);
    kz_runconf_release(old);
    for (int i = 0; i < s->nloops; i++) {
        apr_pollset_wakeup(s->loops[i]->pollset);
    }
}

void kz_server_run(kz_server_t *server)
{
    for (;;) {
        switch (kz_os_event_wait(apr_time_from_sec(1))) {
        case KZ_OS_EVENT_STOP:
            kz_log_error(server->logger, NULL, KZ_LOG_NOTICE, 7, "stopping");
            apr_atomic_set32(&server->stopping, 1);
            for (int i = 0; i < server->nloops; i++) {
                apr_status_t rv;
                apr_pollset_wakeup(server->loops[i]->pollset);
                apr_thread_join(&rv, server->loops[i]->thread);
            }
            /* After the loops (no new jobs), before they are freed (running jobs post). */
            kz_workpool_destroy(server->workpool);
            server->workpool = NULL;
            kz_log_error(server->logger, NULL, KZ_LOG_NOTICE, 8, "stopped");
            kz_logger_stop(server->logger);
            /* Configurations go before the loops: their pools' cleanups (a module's init pool)
             * stop whatever could still post to a loop. */
            for (int i = 0; i < server->nloops; i++) {
                kz_loop_release_configs(server->loops[i]);
            }
            kz_runconf_release(server->current);
            for (int i = 0; i < server->nloops; i++) {
                kz_loop_destroy(server->loops[i]);
            }
            return;
        case KZ_OS_EVENT_RELOAD:
            server_reload(server);
            break;
        case KZ_OS_EVENT_REOPEN:
            kz_logger_reopen(server->logger);
            break;
        default:
            break;
        }
    }
}

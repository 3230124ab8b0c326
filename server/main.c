/*
 * karpacz: the command line. -c picks the configuration (default ./karpacz.yaml, then
 * ./project-karpacz.yaml as the original named it), -t checks it and prints every problem,
 * -p prints the property table, -v the version, -d runs it in the background under a
 * supervising process (unix/supervisor.c), -k manages the Windows service (runtime/kz_service.h);
 * otherwise the server runs in the foreground until SIGTERM or SIGINT (Ctrl+C).
 */
#include "core.h"

#include "kz_daemon.h"
#include "kz_listen.h"
#include "kz_os.h"
#include "kz_service.h"

#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
    fprintf(out, "Usage: karpacz [-c FILE] [-d] [-k CMD] [-t] [-p] [-v] [-h]\n"
                 "  -c FILE  configuration file (default ./karpacz.yaml, then "
                 "./project-karpacz.yaml)\n"
                 "  -d       run in the background under a supervising process (pidFile, "
                 "user, group)\n"
                 "  -k CMD   Windows service: install (with -c), uninstall, start, stop\n"
                 "  -t       check the configuration, print every problem, exit 0 or 1\n"
                 "  -p       print every configuration property with its default\n"
                 "  -v       print the version\n"
                 "  -h       this help\n");
}

static int abort_on_oom(int rc)
{
    fprintf(stderr, "karpacz: out of memory (%d)\n", rc);
    abort();
}

static const char *default_config(apr_pool_t *p)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, "karpacz.yaml", APR_FINFO_TYPE, p) == APR_SUCCESS) {
        return "karpacz.yaml";
    }
    if (apr_stat(&fi, "project-karpacz.yaml", APR_FINFO_TYPE, p) == APR_SUCCESS) {
        return "project-karpacz.yaml";
    }
    return "karpacz.yaml";
}

/* Prints warnings and errors; returns the number of errors. */
static int print_diag(const kz_diag_t *diag)
{
    for (int i = 0; diag && i < diag->warnings->nelts; i++) {
        fprintf(stderr, "%s\n", APR_ARRAY_IDX(diag->warnings, i, const char *));
    }
    for (int i = 0; diag && i < diag->errors->nelts; i++) {
        fprintf(stderr, "%s\n", APR_ARRAY_IDX(diag->errors, i, const char *));
    }
    return diag ? diag->errors->nelts : 1;
}

/* Loads FILE, printing its problems and, when it cannot be used, that it has errors. */
static apr_status_t load_config(kz_config_t **out, const char *file, apr_pool_t *p)
{
    kz_diag_t *diag = NULL;
    apr_status_t rv = kz_config_load(out, &diag, file, p);

    if (print_diag(diag) > 0 || rv != APR_SUCCESS) {
        fprintf(stderr, "karpacz: configuration %s has errors\n", file);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The supervisor's view of a configuration (kz_daemon_load_fn); baton: the absolute file. */
static apr_status_t daemon_load(kz_daemon_conf_t *out, void *baton, apr_pool_t *p)
{
    kz_config_t *config;
    const kz_global_t *g;

    if (load_config(&config, baton, p) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    g = &config->global;
    out->config_file = baton;
    /* The serving process has shutdownTimeout for its requests; then a margin to exit. */
    out->stop_timeout = g->shutdown_timeout + apr_time_from_sec(5);
    out->listen = apr_array_make(p, g->listen->nelts, sizeof(kz_daemon_listen_t));
    for (int i = 0; i < g->listen->nelts; i++) {
        const kz_listen_addr_t *a = &APR_ARRAY_IDX(g->listen, i, kz_listen_addr_t);
        kz_daemon_listen_t *l = apr_array_push(out->listen);

        l->host = a->host ? apr_pstrdup(p, a->host) : NULL;
        l->port = a->port;
        l->count = kz_listen_reuseport_supported() ? g->workers : 1;
    }
    return APR_SUCCESS;
}

/* karpacz -d: checks the pid file while the terminal is there, detaches, supervises. */
static int run_daemon(kz_config_t *config, const char *file, apr_pool_t *pool)
{
    const kz_value_t *v = kz_conf_get(config->global_conf, "pidFile");
    kz_daemon_spec_t spec = {daemon_load, (void *)file, NULL, NULL};
    const char *error = NULL;
    char msg[128];
    apr_status_t rv;

    spec.pid_file = v ? kz_value_path(v, pool) : NULL;
    if (spec.pid_file && kz_pidfile_check(spec.pid_file, &error, pool) != APR_SUCCESS) {
        fprintf(stderr, "karpacz: %s\n", error);
        return 1;
    }
    rv = kz_daemon_detach(&spec.detached, config->global.error_log_path, pool);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "karpacz: cannot run in the background: %s\n",
                apr_strerror(rv, msg, sizeof(msg)));
        return 1;
    }
    apr_pool_destroy(config->pool); /* the supervisor loads its own */
    return kz_daemon_supervise(&spec, pool);
}

/* The server in this process until it is told to stop. */
static int run_foreground(kz_config_t *config, apr_pool_t *pool)
{
    kz_server_t *server;

    kz_os_events_init();
    if (kz_server_start(&server, config, pool) != APR_SUCCESS) {
        return 1;
    }
    kz_daemon_ready(); /* tells a supervisor, if one started this process */
    kz_server_run(server);
    return 0;
}

/* The Windows service's body (-k run, runtime/kz_service.h): the same core as a foreground run. */
typedef struct service_baton {
    const char *file;
    apr_pool_t *pool;
} service_baton_t;

static int service_body(void *baton)
{
    service_baton_t *b = baton;
    kz_config_t *config;

    if (load_config(&config, b->file, b->pool) != APR_SUCCESS) {
        return 1;
    }
    return run_foreground(config, b->pool);
}

/* Loads the configuration, then checks it (-t), or serves: detached (-d) or here. */
static int run(const char *file, int test_only, int daemon, apr_pool_t *pool)
{
    kz_config_t *config;

    /* A daemon works from /: every path it derives from the file must be absolute. */
    if (daemon && apr_filepath_merge((char **)&file, NULL, file, 0, pool) != APR_SUCCESS) {
        fprintf(stderr, "karpacz: cannot resolve %s\n", file);
        return 1;
    }
    if (load_config(&config, file, pool) != APR_SUCCESS) {
        return 1;
    }
    if (test_only) {
        printf("karpacz: configuration %s is valid\n", file);
        return 0;
    }
    return daemon ? run_daemon(config, file, pool) : run_foreground(config, pool);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    apr_getopt_t *opt;
    const char *file = NULL, *arg;
    int test_only = 0, daemon = 0, rc;
    const char *service = NULL;
    char ch;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create_ex(&pool, NULL, abort_on_oom, NULL);
    apr_getopt_init(&opt, pool, argc, argv);
    while ((rv = apr_getopt(opt, "c:dk:tpvh", &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'c':
            file = arg;
            break;
        case 'd':
            daemon = 1;
            break;
        case 'k':
            service = arg;
            break;
        case 't':
            test_only = 1;
            break;
        case 'p':
            kz_property_print_table(stdout);
            return 0;
        case 'v':
            printf("Karpacz %s\n", KZ_VERSION_STRING);
            return 0;
        default:
            usage(stdout);
            return 0;
        }
    }
    if (rv != APR_EOF || opt->ind < argc) {
        usage(stderr);
        return 2;
    }
    if (!file) {
        file = default_config(pool);
    }
    if (service) { /* -k: the Windows service */
        service_baton_t b = {file, pool};
        return kz_service_command(service, file, service_body, &b, pool);
    }
    rc = run(file, test_only, daemon, pool);
    apr_pool_destroy(pool);
    return rc;
}

/*
 * karpacz: the command line. -c picks the configuration (default ./karpacz.yaml, then
 * ./project-karpacz.yaml as the original named it), -t checks it and prints every problem,
 * -p prints the property table, -v the version; otherwise the server runs in the foreground
 * until SIGTERM or SIGINT.
 */
#include "core.h"

#include "kz_os.h"

#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
    fprintf(out, "Usage: karpacz [-c FILE] [-t] [-p] [-v] [-h]\n"
                 "  -c FILE  configuration file (default ./karpacz.yaml, then "
                 "./project-karpacz.yaml)\n"
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

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    apr_getopt_t *opt;
    const char *file = NULL, *arg;
    int test_only = 0;
    char ch;
    kz_config_t *config;
    kz_diag_t *diag = NULL;
    kz_server_t *server;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create_ex(&pool, NULL, abort_on_oom, NULL);
    apr_getopt_init(&opt, pool, argc, argv);
    while ((rv = apr_getopt(opt, "c:tpvh", &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'c':
            file = arg;
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
    rv = kz_config_load(&config, &diag, file, pool);
    if (print_diag(diag) > 0 || rv != APR_SUCCESS) {
        fprintf(stderr, "karpacz: configuration %s has errors\n", file);
        return 1;
    }
    if (test_only) {
        printf("karpacz: configuration %s is valid\n", file);
        return 0;
    }
    kz_os_events_init();
    if (kz_server_start(&server, config, pool) != APR_SUCCESS) {
        return 1;
    }
    kz_server_run(server);
    apr_pool_destroy(pool);
    return 0;
}

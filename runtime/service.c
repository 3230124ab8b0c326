/*
 * karpacz -k ACTION (runtime/kz_service.h): the portable half, which picks the platform call
 * (win32/service.c, or unix/service.c's refusal) and prints its outcome.
 */
#include "kz_service.h"

#include <stdio.h>
#include <string.h>

int kz_service_command(const char *action, const char *config_file, kz_service_body_fn body,
                       void *baton, apr_pool_t *p)
{
    const char *msg = NULL;
    apr_status_t rv;
    int code = 0;

    if (strcmp(action, "run") == 0) {
        rv = kz_service_run(body, baton, &code);
        /* Not started by the service control manager: serve from this console. */
        return rv == APR_SUCCESS ? code : body(baton);
    }
    if (strcmp(action, "install") == 0) {
        rv = kz_service_install(config_file, &msg, p);
    } else if (strcmp(action, "uninstall") == 0) {
        rv = kz_service_uninstall(&msg, p);
    } else if (strcmp(action, "start") == 0) {
        rv = kz_service_start(&msg, p);
    } else if (strcmp(action, "stop") == 0) {
        rv = kz_service_stop(&msg, p);
    } else {
        fprintf(stderr, "karpacz: -k %s: unknown; use install, uninstall, start, stop or run\n",
                action);
        return 2;
    }
    fprintf(rv == APR_SUCCESS ? stdout : stderr, "karpacz: %s\n", msg ? msg : action);
    return rv == APR_SUCCESS ? 0 : 1;
}

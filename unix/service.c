/*
 * Unix side of runtime/kz_service.h: services are a Windows feature. On Unix the server runs
 * unattended with -d (a supervised daemon) or under systemd (installer/karpacz.service).
 */
#include "kz_service.h"

#define KZ_NO_SERVICE                                                                              \
    "services are a Windows feature; on Unix use -d, or the systemd unit karpacz.service"

apr_status_t kz_service_install(const char *config_file, const char **msg, apr_pool_t *p)
{
    *msg = KZ_NO_SERVICE;
    return APR_ENOTIMPL;
}

apr_status_t kz_service_uninstall(const char **msg, apr_pool_t *p)
{
    *msg = KZ_NO_SERVICE;
    return APR_ENOTIMPL;
}

apr_status_t kz_service_start(const char **msg, apr_pool_t *p)
{
    *msg = KZ_NO_SERVICE;
    return APR_ENOTIMPL;
}

apr_status_t kz_service_stop(const char **msg, apr_pool_t *p)
{
    *msg = KZ_NO_SERVICE;
    return APR_ENOTIMPL;
}

apr_status_t kz_service_run(kz_service_body_fn body, void *baton, int *exit_code)
{
    return APR_ENOTIMPL;
}

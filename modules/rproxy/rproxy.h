/*
 * rproxy: the reverse proxy, a built-in module on the upstream engine (server/upstream.h).
 */
#ifndef KZ_RPROXY_H
#define KZ_RPROXY_H

#include "kz_module.h"

extern const kz_module_t kz_rproxy_module;

/** Checks proxyTo / secureProxyTo: every URL must parse (http, https, unix). */
const char *kz_rproxy_check_urls(const kz_value_t *value, apr_pool_t *p);
/** Checks loadBalancerMethod. */
const char *kz_rproxy_check_method(const kz_value_t *value, apr_pool_t *p);

#endif

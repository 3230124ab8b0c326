/*
 * The request pipeline's features compile their part of each scope's configuration (global, a
 * host, a location) once per load into read-only structures the request path uses, so no request
 * parses a property. Values were validated at load, so compiling cannot fail.
 */
#ifndef KZ_STAGES_H
#define KZ_STAGES_H

#include "config.h"

/** Fills the feature fields of c from c->props; everything is allocated in p. */
void kz_stages_compile(kz_conf_t *c, apr_pool_t *p);

/* Each returns NULL when its properties are unset in c. */
const struct kz_rewrite *kz_rewrite_compile(const kz_conf_t *c, apr_pool_t *p);
const struct kz_ncodes *kz_ncodes_compile(const kz_conf_t *c, apr_pool_t *p);
const struct kz_ipset *kz_blocklist_compile(const kz_conf_t *c, apr_pool_t *p);
const struct kz_static_conf *kz_static_compile(const kz_conf_t *c, apr_pool_t *p);
const struct kz_errors *kz_errors_compile(const kz_conf_t *c, apr_pool_t *p);

#endif

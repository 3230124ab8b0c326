/*
 * Runs every feature's compile step for one scope of a configuration (see features.h).
 */
#include "stages.h"

void kz_stages_compile(kz_conf_t *c, apr_pool_t *p)
{
    c->rewrite = kz_rewrite_compile(c, p);
    c->ncodes = kz_ncodes_compile(c, p);
    c->blocklist = kz_blocklist_compile(c, p);
    c->statics = kz_static_compile(c, p);
    c->errors = kz_errors_compile(c, p);
}

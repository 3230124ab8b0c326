/* rewriteMap (stub until the feature lands). */
#include "core.h"
#include "stages.h"

const struct kz_rewrite *kz_rewrite_compile(const kz_conf_t *c, apr_pool_t *p)
{
    return NULL;
}

int kz_rewrite_stage(kz_request_t *r)
{
    return KZ_DECLINED;
}

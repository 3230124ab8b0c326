/* blocklist (stub until the feature lands). */
#include "core.h"
#include "stages.h"

const struct kz_ipset *kz_blocklist_compile(const kz_conf_t *c, apr_pool_t *p)
{
    return NULL;
}

int kz_blocklist_stage(kz_request_t *r)
{
    return KZ_DECLINED;
}

/* errorPages and errorConfig (stub until the feature lands). */
#include "core.h"
#include "stages.h"

const struct kz_errors *kz_errors_compile(const kz_conf_t *c, apr_pool_t *p)
{
    return NULL;
}

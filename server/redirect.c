/* wwwredirect (stub until the feature lands). */
#include "core.h"

int kz_redirect_stage(kz_request_t *r)
{
    return KZ_DECLINED;
}

/* Brute-force protection (stub until the feature lands). */
#include "brute.h"

kz_brute_t *kz_brute_create(apr_pool_t *p)
{
    return NULL;
}

int kz_brute_blocked(kz_brute_t *b, const char *ip, apr_time_t now)
{
    return 0;
}

void kz_brute_fail(kz_brute_t *b, const char *ip, apr_time_t now)
{
}

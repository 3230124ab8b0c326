/* Directory listings (stub until the feature lands). */
#include "dirlist.h"

int kz_dirlist_serve(kz_request_t *r, kz_root_t *root, const char *rel)
{
    return 403;
}

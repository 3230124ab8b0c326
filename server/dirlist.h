/*
 * Directory listings (enableDirectoryListing) for directories that have no index file.
 */
#ifndef KZ_DIRLIST_H
#define KZ_DIRLIST_H

#include "core.h"

/**
 * Answers r with a listing of the directory rel (relative to root, ending in '/', "" for the
 * root itself) when enableDirectoryListing is on in r->conf; returns KZ_DONE, or a status
 * (403 when listings are off, 404/403/500 when the directory cannot be read).
 */
int kz_dirlist_serve(kz_request_t *r, kz_root_t *root, const char *rel);

#endif

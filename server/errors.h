/*
 * Error responses beyond the built-in page: errorPages (a file per status) and errorConfig (a
 * configuration per status, applied by request.c). The request-side functions are in core.h.
 */
#ifndef KZ_ERRORS_H
#define KZ_ERRORS_H

#include "config.h"

/** Checks one errorPages entry list: [{scode: 400…599, path: FILE}], nothing else. */
const char *kz_errors_check_pages(const kz_value_t *v, apr_pool_t *p);

#endif

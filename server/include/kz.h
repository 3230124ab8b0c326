/*
 * Karpacz's public basics: the version, the values a handler returns, log levels, and the one
 * place where symbols are marked for export (the module interface is in kz_module.h).
 */
#ifndef KZ_H
#define KZ_H

#ifndef KZ_VERSION_STRING
#define KZ_VERSION_STRING "0.1.0"
#endif

/** A handler did not answer; the next one runs. */
#define KZ_DECLINED (-1)
/** A handler answered completely. */
#define KZ_DONE 0
/** A handler will answer later, through kz_request_resume() (kz_module.h). */
#define KZ_SUSPENDED (-2)

typedef enum kz_log_level {
    KZ_LOG_CRIT,
    KZ_LOG_ERR,
    KZ_LOG_WARN,
    KZ_LOG_NOTICE,
    KZ_LOG_INFO
} kz_log_level_e;

#include "kz_export.h"

#endif

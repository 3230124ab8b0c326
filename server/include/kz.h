/*
 * Karpacz's public basics: the version and the values a handler returns. The module interface
 * proper (kz_module_t) grows here with the module-API work.
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

#endif

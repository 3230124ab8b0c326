/*
 * The module registry: built-in modules compiled into the server and shared-library modules
 * loaded with apr_dso_load, both switched on by name in loadModules. A module is loaded once per
 * process and stays loaded (a reload that drops it leaves the code in place, so nothing can call
 * into unmapped code); each loaded module has a fixed index that scopes use for its settings.
 */
#ifndef KZ_MODULE_INTERNAL_H
#define KZ_MODULE_INTERNAL_H

#include "kz_module.h"

#include <apr_pools.h>

/** At most this many distinct modules per process. */
#define KZ_MODULES_MAX 64

/**
 * Makes module NAME available: a built-in one, one loaded earlier, or mod_NAME from dir (when
 * dir is NULL: `modules/` beside the executable, then the installed module directory). Checks
 * the library's symbol, magic, ABI version and name, and registers its properties. Returns NULL
 * with *out set, or an error message allocated in p.
 */
const char *kz_module_load(const kz_module_t **out, const char *name, const char *dir,
                           apr_pool_t *p);

/**
 * Registers a module compiled into the process (the built-in ones, and tests' own): checks its
 * header like a library's and registers its properties. Returns NULL or an error message.
 */
const char *kz_module_add(const kz_module_t *m, apr_pool_t *p);

/** 1 when NAME names a built-in module of the original that this build does not have yet. */
int kz_module_is_planned(const char *name);

/** The module of that name already loaded (or built in), or NULL. */
const kz_module_t *kz_module_find(const char *name);

/** The index of a loaded module (0 … KZ_MODULES_MAX-1), or -1. */
int kz_module_index(const kz_module_t *m);

/** The number of modules loaded so far (indexes are below it). */
int kz_module_count(void);

/** The directories searched when moduleDirectory is unset, for messages and docs. */
const char *kz_module_default_dirs(apr_pool_t *p);

#endif

/*
 * Broken modules for the loader's tests, one per compile definition: no exported symbol, a wrong
 * magic, a wrong ABI version, a name that differs from the file's.
 */
#include <kz_module.h>

static int broken_handle(kz_request_t *r)
{
    return KZ_DECLINED;
}

#if defined(KZ_BROKEN_NO_SYMBOL)
KZ_MODULE_EXPORT const kz_module_t some_other_symbol = {KZ_MODULE_HEADER_INIT("nosymbol", "0"),
                                                        .handle = broken_handle};
#elif defined(KZ_BROKEN_MAGIC)
KZ_MODULE_EXPORT const kz_module_t kz_module_badmagic = {0x12345678u, KZ_MODULE_ABI, "badmagic",
                                                         "0", .handle = broken_handle};
#elif defined(KZ_BROKEN_ABI)
KZ_MODULE_EXPORT const kz_module_t kz_module_badabi = {KZ_MODULE_MAGIC, KZ_MODULE_ABI + 998,
                                                       "badabi", "0", .handle = broken_handle};
#elif defined(KZ_BROKEN_NAME)
KZ_MODULE_EXPORT const kz_module_t kz_module_badname = {KZ_MODULE_HEADER_INIT("othername", "0"),
                                                        .handle = broken_handle};
#endif

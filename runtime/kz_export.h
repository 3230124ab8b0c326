/*
 * Symbol visibility, the one platform difference the module interface has: KZ_API marks the
 * server's functions that modules call, KZ_MODULE_EXPORT a module's kz_module_t. Installed with
 * the public headers (kz.h includes it), so a module builds against it alone.
 */
#ifndef KZ_EXPORT_H
#define KZ_EXPORT_H

#if defined(_WIN32)
#define KZ_MODULE_EXPORT __declspec(dllexport)
#ifdef KZ_BUILDING_SERVER
#define KZ_API __declspec(dllexport)
#else
#define KZ_API __declspec(dllimport)
#endif
#else
#define KZ_MODULE_EXPORT __attribute__((visibility("default")))
#define KZ_API           __attribute__((visibility("default")))
#endif

#endif

/*
 * Shared inside win32/ (not part of the portable API): the control-event queue that console
 * handlers and the service control handler feed (win32/os.c), the service's readiness notice
 * (win32/service.c), and UTF-8/UTF-16 conversions for the wide Windows calls.
 */
#ifndef KZ_WIN32_H
#define KZ_WIN32_H

#include "kz_os.h"

#include <apr_pools.h>
#include <wchar.h>

/** Queues a control event for kz_os_event_wait(); callable from any thread, at any time. */
void kz_win32_event_post(kz_os_event_e ev);

/** Tells the service control manager the server is running, when this process is a service. */
void kz_win32_service_ready(void);

/** UTF-8 to a NUL-terminated UTF-16 string in p, or NULL when s is not valid UTF-8. */
wchar_t *kz_win32_wide(const char *s, apr_pool_t *p);

/** UTF-16 to a NUL-terminated UTF-8 string in p, or NULL on failure. */
char *kz_win32_utf8(const wchar_t *w, apr_pool_t *p);

#endif

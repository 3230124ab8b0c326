/*
 * Windows implementation of runtime/kz_os.h. Control events come from the console (Ctrl+C,
 * Ctrl+Break, closing the window: stop) and from the service control handler (win32/service.c),
 * both on threads of their own: they set a bit in a pending mask and signal an event that
 * kz_os_event_wait() sleeps on, so the main thread takes them at a point of its choosing, as
 * sigtimedwait does on Unix. Windows has no descriptor limit to raise (sockets and files are
 * handles, bounded by memory), so that call reports the wanted number.
 */
#include "kz_win32.h"

#include <apr_strings.h>
#include <string.h>

#include <windows.h>

static volatile LONG pending; /* bit (1 << kz_os_event_e) per queued event */
static HANDLE wake;
static INIT_ONCE wake_once = INIT_ONCE_STATIC_INIT;

int kz_os_ncpu(void)
{
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n > 0 ? (int)n : 1;
}

apr_status_t kz_os_raise_fd_limit(apr_uint32_t want, apr_uint32_t *got)
{
    *got = want;
    return APR_SUCCESS;
}

static BOOL CALLBACK create_wake(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    return wake != NULL;
}

static HANDLE wake_event(void)
{
    InitOnceExecuteOnce(&wake_once, create_wake, NULL, NULL);
    return wake;
}

void kz_win32_event_post(kz_os_event_e ev)
{
    InterlockedOr(&pending, 1L << ev);
    if (wake_event()) {
        SetEvent(wake);
    }
}

/* Console control handler, run on a thread the system creates for it. */
static BOOL WINAPI console_event(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        kz_win32_event_post(KZ_OS_EVENT_STOP);
        return TRUE;
    default:
        return FALSE; /* CTRL_LOGOFF_EVENT: a service outlives the session */
    }
}

apr_status_t kz_os_events_init(void)
{
    if (!wake_event()) {
        return apr_get_os_error();
    }
    /* A service has no console: the call then fails harmlessly. */
    SetConsoleCtrlHandler(console_event, TRUE);
    return APR_SUCCESS;
}

/* Takes the most urgent pending event (stop first), or KZ_OS_EVENT_NONE. */
static kz_os_event_e take_event(void)
{
    static const kz_os_event_e order[] = {KZ_OS_EVENT_STOP, KZ_OS_EVENT_RELOAD, KZ_OS_EVENT_REOPEN};

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        LONG bit = 1L << order[i];
        if (InterlockedAnd(&pending, ~bit) & bit) {
            return order[i];
        }
    }
    return KZ_OS_EVENT_NONE;
}

kz_os_event_e kz_os_event_wait(apr_interval_time_t timeout)
{
    kz_os_event_e ev = take_event();
    DWORD ms;

    if (ev != KZ_OS_EVENT_NONE || !wake_event()) {
        return ev;
    }
    ms = timeout <= 0 ? 0 : (DWORD)((timeout + 999) / 1000);
    WaitForSingleObject(wake, ms);
    return take_event();
}

const char *kz_os_module_file(const char *name, apr_pool_t *p)
{
    return apr_pstrcat(p, "mod_", name, ".dll", NULL);
}

const char *kz_os_exe_dir(apr_pool_t *p)
{
    wchar_t buf[32768];
    DWORD n = GetModuleFileNameW(NULL, buf, sizeof(buf) / sizeof(buf[0]));
    char *path, *slash;

    if (n == 0 || n >= sizeof(buf) / sizeof(buf[0]) || !(path = kz_win32_utf8(buf, p))) {
        return NULL;
    }
    /* APR's own path form: forward slashes, which module.c appends to. */
    for (char *c = path; *c; c++) {
        if (*c == '\\') {
            *c = '/';
        }
    }
    slash = strrchr(path, '/');
    if (!slash) {
        return NULL;
    }
    *slash = '\0';
    return path;
}

wchar_t *kz_win32_wide(const char *s, apr_pool_t *p)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w;

    if (n <= 0) {
        return NULL;
    }
    w = apr_palloc(p, (apr_size_t)n * sizeof(wchar_t));
    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) == n ? w : NULL;
}

char *kz_win32_utf8(const wchar_t *w, apr_pool_t *p)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s;

    if (n <= 0) {
        return NULL;
    }
    s = apr_palloc(p, (apr_size_t)n);
    return WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) == n ? s : NULL;
}

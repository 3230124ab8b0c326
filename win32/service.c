/*
 * Windows implementation of runtime/kz_service.h through the service control manager (SCM):
 * registration (CreateServiceW, a description, failure actions that restart the service),
 * start and stop with bounded waits for the new state, and the service entry. That entry
 * (StartServiceCtrlDispatcherW) makes the calling thread the SCM's dispatcher; the SCM then
 * runs service_main on a thread of its own, which runs the core exactly as a foreground
 * server does. A program started from a console gets ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
 * (1063) instead, which is how the two cases are told apart.
 */
#include "kz_win32.h"

#include "kz_service.h"

#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_time.h>

#include <windows.h>

#define KZ_SERVICE_WNAME       L"" KZ_SERVICE_NAME
#define KZ_SERVICE_DISPLAY     L"Karpacz web server"
#define KZ_SERVICE_DESCRIPTION L"Karpacz: a web server on the Apache Portable Runtime."
#define KZ_CONTROL_REOPEN      128 /* user-defined control: reopen the log files */

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static kz_service_body_fn service_body;
static void *service_baton;
static int service_exit;

/* "what: the system's message" in p, for the error in GetLastError(). */
static const char *os_error(const char *what, apr_status_t *rv, apr_pool_t *p)
{
    char buf[256];

    *rv = apr_get_os_error();
    return apr_psprintf(p, "%s: %s", what, apr_strerror(*rv, buf, sizeof(buf)));
}

/* ---- the service's side -------------------------------------------------------------- */

static void report(DWORD state, DWORD wait_hint)
{
    static DWORD checkpoint = 1;

    status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status.dwCurrentState = state;
    status.dwWaitHint = wait_hint;
    status.dwControlsAccepted =
        state == SERVICE_RUNNING
            ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
            : 0;
    status.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : checkpoint++;
    SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, LPVOID data, LPVOID context)
{
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        report(SERVICE_STOP_PENDING, 30000);
        kz_win32_event_post(KZ_OS_EVENT_STOP);
        return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
        kz_win32_event_post(KZ_OS_EVENT_RELOAD);
        return NO_ERROR;
    case KZ_CONTROL_REOPEN:
        kz_win32_event_post(KZ_OS_EVENT_REOPEN);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

void kz_win32_service_ready(void)
{
    if (status_handle && status.dwCurrentState == SERVICE_START_PENDING) {
        report(SERVICE_RUNNING, 0);
    }
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv)
{
    status_handle = RegisterServiceCtrlHandlerExW(KZ_SERVICE_WNAME, control_handler, NULL);
    if (!status_handle) {
        service_exit = 1;
        return;
    }
    report(SERVICE_START_PENDING, 30000);
    service_exit = service_body(service_baton);
    status.dwWin32ExitCode = service_exit ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
    status.dwServiceSpecificExitCode = (DWORD)service_exit;
    report(SERVICE_STOPPED, 0);
}

apr_status_t kz_service_run(kz_service_body_fn body, void *baton, int *exit_code)
{
    SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)KZ_SERVICE_WNAME, service_main}, {NULL, NULL}};

    service_body = body;
    service_baton = baton;
    if (!StartServiceCtrlDispatcherW(table)) {
        DWORD err = GetLastError();
        return err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT ? APR_ENOTIMPL
                                                              : APR_FROM_OS_ERROR(err);
    }
    *exit_code = service_exit;
    return APR_SUCCESS;
}

/* ---- the command line's side --------------------------------------------------------- */

/* The service opened with access, or NULL with *msg and *rv set; *scm must be closed too. */
static SC_HANDLE open_service(SC_HANDLE *scm, DWORD access, const char **msg, apr_status_t *rv,
                              apr_pool_t *p)
{
    SC_HANDLE svc;

    if (!(*scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT))) {
        *msg = os_error("cannot reach the service control manager", rv, p);
        return NULL;
    }
    if (!(svc = OpenServiceW(*scm, KZ_SERVICE_WNAME, access))) {
        *msg = os_error("service " KZ_SERVICE_NAME, rv, p);
        CloseServiceHandle(*scm);
        *scm = NULL;
    }
    return svc;
}

/* Polls until the service leaves `pending` or timeout passes; returns the state it is in. */
static DWORD wait_state(SC_HANDLE svc, DWORD pending, apr_interval_time_t timeout,
                        SERVICE_STATUS_PROCESS *st)
{
    apr_time_t until = apr_time_now() + timeout;
    DWORD got;

    for (;;) {
        if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (LPBYTE)st, sizeof(*st), &got)) {
            return 0;
        }
        if (st->dwCurrentState != pending || apr_time_now() >= until) {
            return st->dwCurrentState;
        }
        Sleep(200);
    }
}

/* The binPath: "EXE" -k run -c "CONFIG", CONFIG absolute. */
static wchar_t *service_command_line(const char *config_file, const char **msg, apr_status_t *rv,
                                     apr_pool_t *p)
{
    wchar_t exe[MAX_PATH * 4];
    char *config;
    apr_finfo_t fi;
    wchar_t *wconfig;
    DWORD n = GetModuleFileNameW(NULL, exe, sizeof(exe) / sizeof(exe[0]));

    if (n == 0 || n >= sizeof(exe) / sizeof(exe[0])) {
        *msg = os_error("cannot find this program's path", rv, p);
        return NULL;
    }
    *rv = apr_filepath_merge(&config, NULL, config_file, 0, p);
    if (*rv == APR_SUCCESS) {
        *rv = apr_stat(&fi, config, APR_FINFO_TYPE, p);
    }
    if (*rv != APR_SUCCESS || !(wconfig = kz_win32_wide(config, p))) {
        *rv = *rv ? *rv : APR_EINVAL;
        *msg = apr_psprintf(p, "configuration %s not found", config_file);
        return NULL;
    }
    return kz_win32_wide(apr_psprintf(p, "\"%s\" -k run -c \"%s\"", kz_win32_utf8(exe, p), config),
                         p);
}

/* Description and recovery: restart after 2 s, three times a day at most. */
static void configure_service(SC_HANDLE svc)
{
    SERVICE_DESCRIPTIONW desc = {(LPWSTR)KZ_SERVICE_DESCRIPTION};
    SC_ACTION actions[3] = {
        {SC_ACTION_RESTART, 2000}, {SC_ACTION_RESTART, 2000}, {SC_ACTION_RESTART, 10000}};
    SERVICE_FAILURE_ACTIONSW failure = {86400, NULL, NULL, 3, actions};

    ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &desc);
    /* Not every implementation has failure actions (wine does not): then the service simply
     * is not restarted. */
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &failure);
}

apr_status_t kz_service_install(const char *config_file, const char **msg, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    wchar_t *cmd = service_command_line(config_file, msg, &rv, p);
    SC_HANDLE scm, svc;
    int updated = 0;

    if (!cmd) {
        return rv;
    }
    if (!(scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE))) {
        *msg = os_error("cannot reach the service control manager (run as administrator)", &rv, p);
        return rv;
    }
    svc = CreateServiceW(scm, KZ_SERVICE_WNAME, KZ_SERVICE_DISPLAY, SERVICE_ALL_ACCESS,
                         SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd,
                         NULL, NULL, NULL, NULL, NULL);
    if (!svc && GetLastError() == ERROR_SERVICE_EXISTS &&
        (svc = OpenServiceW(scm, KZ_SERVICE_WNAME, SERVICE_ALL_ACCESS))) {
        updated = ChangeServiceConfigW(svc, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                       SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, NULL, NULL,
                                       KZ_SERVICE_DISPLAY);
        if (!updated) {
            CloseServiceHandle(svc);
            svc = NULL;
        }
    }
    if (!svc) {
        *msg = os_error("cannot register the service " KZ_SERVICE_NAME, &rv, p);
    } else {
        configure_service(svc);
        CloseServiceHandle(svc);
        *msg = apr_psprintf(p, "service " KZ_SERVICE_NAME " %s: %s",
                            updated ? "updated" : "installed", kz_win32_utf8(cmd, p));
    }
    CloseServiceHandle(scm);
    return rv;
}

apr_status_t kz_service_start(const char **msg, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    SC_HANDLE scm, svc = open_service(&scm, SERVICE_START | SERVICE_QUERY_STATUS, msg, &rv, p);
    SERVICE_STATUS_PROCESS st = {0}; /* read for the message even when the query fails */
    DWORD state;

    if (!svc) {
        return rv;
    }
    if (!StartServiceW(svc, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING) {
        *msg = os_error("cannot start the service " KZ_SERVICE_NAME, &rv, p);
    } else if ((state = wait_state(svc, SERVICE_START_PENDING, apr_time_from_sec(30), &st)) !=
               SERVICE_RUNNING) {
        rv = APR_EGENERAL;
        *msg = apr_psprintf(p,
                            "service " KZ_SERVICE_NAME " did not start (state %lu, exit code %lu): "
                            "see its error log, or run karpacz -c FILE here to see why",
                            (unsigned long)state, (unsigned long)st.dwServiceSpecificExitCode);
    } else {
        *msg = apr_psprintf(p, "service " KZ_SERVICE_NAME " running (process %lu)",
                            (unsigned long)st.dwProcessId);
    }
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rv;
}

/* Sends STOP unless the service is stopped already, and waits for STOPPED. */
static apr_status_t stop_service(SC_HANDLE svc, const char **msg, apr_pool_t *p)
{
    SERVICE_STATUS_PROCESS st;
    SERVICE_STATUS ss;
    apr_status_t rv = APR_SUCCESS;

    if (wait_state(svc, 0, 0, &st) == SERVICE_STOPPED) {
        *msg = "service " KZ_SERVICE_NAME " is not running";
        return APR_SUCCESS;
    }
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &ss) &&
        GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
        *msg = os_error("cannot stop the service " KZ_SERVICE_NAME, &rv, p);
        return rv;
    }
    if (wait_state(svc, SERVICE_STOP_PENDING, apr_time_from_sec(60), &st) != SERVICE_STOPPED) {
        *msg = "service " KZ_SERVICE_NAME " did not stop within 60 s";
        return APR_TIMEUP;
    }
    *msg = "service " KZ_SERVICE_NAME " stopped";
    return APR_SUCCESS;
}

apr_status_t kz_service_stop(const char **msg, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    SC_HANDLE scm, svc = open_service(&scm, SERVICE_STOP | SERVICE_QUERY_STATUS, msg, &rv, p);

    if (!svc) {
        return rv;
    }
    rv = stop_service(svc, msg, p);
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rv;
}

apr_status_t kz_service_uninstall(const char **msg, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    SC_HANDLE scm,
        svc = open_service(&scm, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, msg, &rv, p);

    if (!svc) {
        return rv;
    }
    if ((rv = stop_service(svc, msg, p)) == APR_SUCCESS) {
        if (!DeleteService(svc)) {
            *msg = os_error("cannot remove the service " KZ_SERVICE_NAME, &rv, p);
        } else {
            *msg = "service " KZ_SERVICE_NAME " removed";
        }
    }
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rv;
}

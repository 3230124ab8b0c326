/*
 * Windows implementation of runtime/kz_daemon.h. Windows runs servers unattended as services
 * (win32/service.c, karpacz -k), so there is no detaching and no supervisor here: those calls
 * say so and point to the service. The pid file works as on Unix (a live process blocks a
 * start, a stale file does not); the service control manager restarts a dead service (its
 * recovery actions) and takes the readiness notice (kz_daemon_ready → SERVICE_RUNNING).
 */
#include "kz_win32.h"

#include "kz_daemon.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>

#include <windows.h>

#define KZ_SERVICE_HINT                                                                            \
    "on Windows the server runs unattended as a service: karpacz -k install -c FILE, then "        \
    "karpacz -k start"

/* The pid in PATH: > 0, 0 when the file does not exist, -1 when it cannot be read or parsed. */
static long pidfile_read(const char *path, apr_pool_t *p)
{
    char buf[32];
    apr_size_t n = sizeof(buf) - 1;
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    char *end;
    long pid;

    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) ? 0 : -1;
    }
    rv = apr_file_read(f, buf, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS || n == 0) {
        return -1;
    }
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    return pid > 0 && (*end == '\n' || *end == '\r' || *end == '\0') ? pid : -1;
}

static int pid_alive(long pid)
{
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
    DWORD code = 0;
    int alive;

    if (!h) {
        /* No such process; access denied means it exists. */
        return GetLastError() == ERROR_ACCESS_DENIED;
    }
    alive = GetExitCodeProcess(h, &code) && code == STILL_ACTIVE;
    CloseHandle(h);
    return alive;
}

apr_status_t kz_pidfile_check(const char *path, const char **error, apr_pool_t *p)
{
    long pid = pidfile_read(path, p);

    if (pid > 0 && pid != (long)GetCurrentProcessId() && pid_alive(pid)) {
        *error = apr_psprintf(p, "pid file %s names the running process %ld", path, pid);
        return APR_EEXIST;
    }
    return APR_SUCCESS;
}

apr_status_t kz_pidfile_write(const char *path, const char **error, apr_pool_t *p)
{
    char *tmp = apr_pstrcat(p, path, ".XXXXXX", NULL);
    const char *text = apr_psprintf(p, "%lu\n", (unsigned long)GetCurrentProcessId());
    apr_size_t len = strlen(text);
    apr_file_t *f;
    apr_status_t rv;
    char msg[128];

    rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, text, len, NULL);
        if (rv == APR_SUCCESS) {
            rv = apr_file_flush(f);
        }
        apr_file_close(f);
        if (rv == APR_SUCCESS) {
            rv = apr_file_rename(tmp, path, p);
        }
        if (rv != APR_SUCCESS) {
            apr_file_remove(tmp, p);
        }
    }
    if (rv != APR_SUCCESS) {
        *error = apr_psprintf(p, "cannot write pid file %s: %s", path,
                              apr_strerror(rv, msg, sizeof(msg)));
    }
    return rv;
}

apr_status_t kz_pidfile_remove(const char *path, apr_pool_t *p)
{
    if (pidfile_read(path, p) != (long)GetCurrentProcessId()) {
        return APR_EINVAL; /* another process's file (or none): not ours to remove */
    }
    return apr_file_remove(path, p);
}

apr_status_t kz_daemon_detach(kz_daemon_t **out, const char *out_path, apr_pool_t *p)
{
    fprintf(stderr, "karpacz: -d is a Unix feature; " KZ_SERVICE_HINT "\n");
    *out = NULL;
    return APR_ENOTIMPL;
}

void kz_daemon_started(kz_daemon_t *d, int ok, const char *msg)
{
}

apr_status_t kz_daemon_drop_privileges(const char *user, const char *group, const char **error,
                                       apr_pool_t *p)
{
    if (!user && !group) {
        return APR_SUCCESS;
    }
    *error = "user and group are not supported on Windows: choose the service's account "
             "instead (services.msc, or sc config Karpacz obj= ACCOUNT)";
    return APR_ENOTIMPL;
}

int kz_daemon_supervise(const kz_daemon_spec_t *spec, apr_pool_t *p)
{
    fprintf(stderr, "karpacz: the supervisor is a Unix feature; " KZ_SERVICE_HINT "\n");
    return 1;
}

int kz_daemon_supervised(void)
{
    return 0;
}

apr_status_t kz_daemon_listener(apr_socket_t **out, const char *host, apr_port_t port, int index,
                                apr_pool_t *p)
{
    return APR_NOTFOUND;
}

void kz_daemon_ready(void)
{
    kz_win32_service_ready();
}

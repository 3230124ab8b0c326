/*
 * POSIX implementation of runtime/kz_os.h: processor count through sysconf, descriptor limits
 * through setrlimit, and control events as signals blocked in every thread and taken by the
 * main thread with sigtimedwait (so no handler runs at an arbitrary point of a loop).
 */
#include "kz_os.h"

#include <apr_strings.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int kz_os_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

apr_status_t kz_os_raise_fd_limit(apr_uint32_t want, apr_uint32_t *got)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return errno;
    }
    if (rl.rlim_cur < want) {
        rlim_t target = want;
        if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) {
            target = rl.rlim_max;
        }
        if (target > rl.rlim_cur) {
            rl.rlim_cur = target;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                return errno;
            }
        }
    }
    *got = rl.rlim_cur > 0xFFFFFFFFu ? 0xFFFFFFFFu : (apr_uint32_t)rl.rlim_cur;
    return APR_SUCCESS;
}

static void event_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

apr_status_t kz_os_events_init(void)
{
    sigset_t set;
    struct sigaction ign = {0};

    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);
    event_signals(&set);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

kz_os_event_e kz_os_event_wait(apr_interval_time_t timeout)
{
    sigset_t set;
    struct timespec ts;
    int sig;

    event_signals(&set);
    ts.tv_sec = (time_t)apr_time_sec(timeout);
    ts.tv_nsec = (long)apr_time_usec(timeout) * 1000;
    sig = sigtimedwait(&set, NULL, &ts);
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        return KZ_OS_EVENT_STOP;
    case SIGHUP:
        return KZ_OS_EVENT_RELOAD;
    case SIGUSR1:
        return KZ_OS_EVENT_REOPEN;
    default:
        return KZ_OS_EVENT_NONE;
    }
}

const char *kz_os_module_file(const char *name, apr_pool_t *p)
{
    return apr_pstrcat(p, "mod_", name, ".so", NULL);
}

const char *kz_os_exe_dir(apr_pool_t *p)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    char *slash;

    if (n <= 0) {
        return NULL;
    }
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (!slash) {
        return NULL;
    }
    return apr_pstrmemdup(p, buf, slash == buf ? 1 : (apr_size_t)(slash - buf));
}

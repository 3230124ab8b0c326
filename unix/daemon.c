/*
 * POSIX implementation of runtime/kz_daemon.h, part one: the pid file, detaching (double fork,
 * setsid, standard streams), dropping privileges, and the serving process's side of the
 * supervisor protocol (inherited listening sockets, the readiness pipe). The supervisor itself
 * is in unix/supervisor.c. The environment carries the protocol across exec:
 *   KZ_LISTEN_FDS="FD INDEX PORT HOST;..." (HOST "*" for every address; PORT as configured)
 *   KZ_READY_FD=FD (write one byte, then close, once accepting)
 */
#include "kz_daemon.h"
#include "unix_daemon.h"

#include <apr_portable.h>
#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- pid file ------------------------------------------------------------------------- */

/* The pid in PATH: > 0, 0 when the file does not exist, -1 when it cannot be read or parsed. */
static long pidfile_read(const char *path)
{
    char buf[32];
    ssize_t n;
    char *end;
    long pid;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    return pid > 0 && (*end == '\n' || *end == '\0') ? pid : -1;
}

/* Whether /proc shows pid as a zombie (killed, not yet reaped: as good as dead). */
static int proc_is_zombie(long pid)
{
    char path[64], buf[512];
    const char *state;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    if (!(state = strstr(buf, "\nState:"))) {
        return 0;
    }
    state += strlen("\nState:");
    return state[strspn(state, " \t")] == 'Z';
}

/* The file name of the program /proc/PID/exe (LINK) runs, into buf; an upgraded binary shows
 * as "NAME (deleted)" and still counts as NAME. NULL when /proc does not answer. */
static const char *proc_exe_name(const char *link, char *buf, size_t len)
{
    static const char deleted[] = " (deleted)";
    ssize_t n = readlink(link, buf, len - 1);
    size_t dl = sizeof(deleted) - 1;
    const char *name;

    if (n <= 0) {
        return NULL;
    }
    buf[n] = '\0';
    if ((size_t)n > dl && strcmp(buf + n - dl, deleted) == 0) {
        buf[n - dl] = '\0';
    }
    name = strrchr(buf, '/');
    return name ? name + 1 : buf;
}

/* Whether pid runs a different program than this one (the pid was reused): only where /proc
 * answers; when in doubt the process counts as ours. Names only, so an upgrade counts as ours. */
static int proc_is_other_program(long pid)
{
    char path[64], mine[4096], theirs[4096];
    const char *a, *b;

    snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
    a = proc_exe_name("/proc/self/exe", mine, sizeof(mine));
    b = proc_exe_name(path, theirs, sizeof(theirs));
    return a && b && strcmp(a, b) != 0;
}

static int pid_alive(long pid)
{
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
        return 0;
    }
    return !proc_is_zombie(pid) && !proc_is_other_program(pid);
}

apr_status_t kz_pidfile_check(const char *path, const char **error, apr_pool_t *p)
{
    long pid = pidfile_read(path);

    if (pid > 0 && pid != (long)getpid() && pid_alive(pid)) {
        *error = apr_psprintf(p, "pid file %s names the running process %ld", path, pid);
        return APR_EEXIST;
    }
    return APR_SUCCESS;
}

apr_status_t kz_pidfile_write(const char *path, const char **error, apr_pool_t *p)
{
    char *tmp = apr_pstrcat(p, path, ".XXXXXX", NULL);
    char text[32];
    int fd, len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    apr_status_t rv;

    if ((fd = mkstemp(tmp)) < 0) {
        rv = errno;
        *error = apr_psprintf(p, "cannot write pid file %s: %s", path, strerror(rv));
        return rv;
    }
    fchmod(fd, 0644);
    if (write(fd, text, (size_t)len) != len || fsync(fd) != 0 || close(fd) != 0 ||
        rename(tmp, path) != 0) {
        rv = errno ? errno : APR_EGENERAL;
        unlink(tmp);
        *error = apr_psprintf(p, "cannot write pid file %s: %s", path, strerror(rv));
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t kz_pidfile_remove(const char *path, apr_pool_t *p)
{
    if (pidfile_read(path) != (long)getpid()) {
        return APR_EINVAL; /* another process's file (or none): not ours to remove */
    }
    return unlink(path) == 0 ? APR_SUCCESS : errno;
}

/* ---- detaching ------------------------------------------------------------------------ */

struct kz_daemon {
    int status_fd; /* to the waiting original process; -1 once told */
    const char *out_path;
};

const char *kz_unix_daemon_out_path(const kz_daemon_t *d)
{
    return d ? d->out_path : NULL;
}

apr_status_t kz_unix_redirect_output(const char *out_path)
{
    int fd = -1;

    if (out_path) {
        fd = open(out_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    }
    if (fd < 0) {
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        return errno;
    }
    fflush(stdout);
    fflush(stderr);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return APR_SUCCESS;
}

/* The original process: waits for the verdict of the detached one, then exits with it. */
static void detach_wait(pid_t first, int status_fd)
{
    char buf[1024];
    apr_size_t len = 0;
    ssize_t n;
    int st;

    while (waitpid(first, &st, 0) < 0 && errno == EINTR) {
    }
    while (len < sizeof(buf) - 1 && ((n = read(status_fd, buf + len, sizeof(buf) - 1 - len)) > 0 ||
                                     (n < 0 && errno == EINTR))) {
        len += n > 0 ? (apr_size_t)n : 0;
    }
    buf[len] = '\0';
    if (len > 0 && buf[0] == 'R') {
        printf("karpacz: started in the background (supervisor pid %s)\n", buf + 1);
        exit(0);
    }
    fprintf(stderr, "karpacz: %s\n",
            len > 1 ? buf + 1 : "the background process ended before it was ready");
    exit(1);
}

apr_status_t kz_daemon_detach(kz_daemon_t **out, const char *out_path, apr_pool_t *p)
{
    int fds[2], null_fd;
    pid_t pid;

    if (pipe(fds) != 0) {
        return errno;
    }
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        return errno;
    }
    if (pid > 0) {
        close(fds[1]);
        detach_wait(pid, fds[0]); /* never returns */
    }
    close(fds[0]);
    /* A new session without a controlling terminal; the second fork makes sure the daemon,
     * not being a session leader, can never acquire one again. */
    if (setsid() < 0 || (pid = fork()) < 0) {
        _exit(1);
    }
    if (pid > 0) {
        _exit(0);
    }
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    if (chdir("/") != 0 || (null_fd = open("/dev/null", O_RDONLY)) < 0) {
        return errno;
    }
    dup2(null_fd, STDIN_FILENO);
    close(null_fd);
    kz_unix_redirect_output(out_path);
    *out = apr_pcalloc(p, sizeof(**out));
    (*out)->status_fd = fds[1];
    (*out)->out_path = out_path ? apr_pstrdup(p, out_path) : NULL;
    return APR_SUCCESS;
}

void kz_daemon_started(kz_daemon_t *d, int ok, const char *msg)
{
    char buf[1024];
    int len;

    if (!d || d->status_fd < 0) {
        return;
    }
    if (ok) {
        len = snprintf(buf, sizeof(buf), "R%ld", (long)getpid());
    } else {
        len = snprintf(buf, sizeof(buf), "F%s", msg ? msg : "the server did not start");
    }
    if (len > (int)sizeof(buf) - 1) {
        len = (int)sizeof(buf) - 1;
    }
    if (write(d->status_fd, buf, (size_t)len) < 0) {
        /* The original process is gone: nobody to tell. */
    }
    close(d->status_fd);
    d->status_fd = -1;
}

/* ---- privileges ----------------------------------------------------------------------- */

static apr_status_t lookup_ids(const char *user, const char *group, uid_t *uid, gid_t *gid,
                               const char **error, apr_pool_t *p)
{
    struct passwd *pw = NULL;
    struct group *gr;

    *uid = geteuid();
    *gid = getegid();
    if (user) {
        errno = 0;
        if (!(pw = getpwnam(user))) {
            *error = apr_psprintf(p, "user '%s' does not exist", user);
            return errno ? errno : APR_ENOENT;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (group) {
        errno = 0;
        if (!(gr = getgrnam(group))) {
            *error = apr_psprintf(p, "group '%s' does not exist", group);
            return errno ? errno : APR_ENOENT;
        }
        *gid = gr->gr_gid;
    }
    return APR_SUCCESS;
}

static apr_status_t switch_ids(const char *user, uid_t uid, gid_t gid)
{
    if (user ? initgroups(user, gid) != 0 : setgroups(1, &gid) != 0) {
        return errno;
    }
    if (setgid(gid) != 0 || setuid(uid) != 0) {
        return errno;
    }
    /* Nothing must give root back (a saved set-user-ID left behind would). */
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t kz_daemon_drop_privileges(const char *user, const char *group, const char **error,
                                       apr_pool_t *p)
{
    uid_t uid;
    gid_t gid;
    apr_status_t rv;

    if (!user && !group) {
        return APR_SUCCESS;
    }
    if ((rv = lookup_ids(user, group, &uid, &gid, error, p)) != APR_SUCCESS) {
        return rv;
    }
    if (geteuid() != 0) {
        if (uid == geteuid() && gid == getegid()) {
            return APR_SUCCESS; /* already that user: nothing to drop */
        }
        *error = apr_psprintf(p, "only root can switch to user '%s' group '%s'", user ? user : "-",
                              group ? group : "-");
        return EPERM;
    }
    if ((rv = switch_ids(user, uid, gid)) != APR_SUCCESS) {
        *error = apr_psprintf(p, "cannot switch to user '%s' group '%s': %s", user ? user : "-",
                              group ? group : "-", strerror(rv));
    }
    return rv;
}

/* ---- the serving process's side ------------------------------------------------------- */

int kz_daemon_supervised(void)
{
    return getenv(KZ_ENV_READY_FD) != NULL;
}

/* Whether the entry "FD INDEX PORT HOST" at s matches; sets *fd. */
static int listen_entry_matches(const char *s, const char *host, apr_port_t port, int index,
                                int *fd)
{
    int efd, eindex, eport, hoff = 0;
    size_t hlen;

    if (sscanf(s, "%d %d %d %n", &efd, &eindex, &eport, &hoff) != 3 || hoff == 0) {
        return 0;
    }
    s += hoff;
    hlen = strcspn(s, ";");
    if (eindex != index || eport != (int)port) {
        return 0;
    }
    if (host ? (strlen(host) != hlen || strncmp(s, host, hlen) != 0) : (hlen != 1 || *s != '*')) {
        return 0;
    }
    *fd = efd;
    return 1;
}

/* Every socket handed over stays the supervisor's: none is passed on to this process's own
 * children (CGI and the like), taken or not. */
static void listen_fds_cloexec(const char *s)
{
    for (; s && *s; s = strchr(s, ';') ? strchr(s, ';') + 1 : "") {
        int fd;
        if (sscanf(s, "%d ", &fd) == 1 && fd > STDERR_FILENO) {
            fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
}

apr_status_t kz_daemon_listener(apr_socket_t **out, const char *host, apr_port_t port, int index,
                                apr_pool_t *p)
{
    const char *s = getenv(KZ_ENV_LISTEN_FDS);
    apr_os_sock_t fd = -1;
    apr_status_t rv;

    listen_fds_cloexec(s);
    for (; s && *s; s = strchr(s, ';') ? strchr(s, ';') + 1 : "") {
        if (listen_entry_matches(s, host, port, index, &fd)) {
            break;
        }
    }
    /* Standard streams are never listening sockets, whatever the environment says. */
    if (fd <= STDERR_FILENO || fcntl(fd, F_GETFD) < 0) {
        return APR_NOTFOUND;
    }
    *out = NULL;
    if ((rv = apr_os_sock_put(out, &fd, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_socket_opt_set(*out, APR_SO_NONBLOCK, 1);
    apr_socket_timeout_set(*out, 0);
    return APR_SUCCESS;
}

void kz_daemon_ready(void)
{
    static int done; /* the environment stays as it is: other threads may read it */
    const char *s = getenv(KZ_ENV_READY_FD);
    int fd;

    if (!s || done) {
        return;
    }
    done = 1;
    fd = atoi(s);
    if (fd > STDERR_FILENO && fcntl(fd, F_GETFD) >= 0) {
        if (write(fd, "R", 1) < 0) {
            /* The supervisor is gone; it would not read it anyway. */
        }
        close(fd);
    }
}

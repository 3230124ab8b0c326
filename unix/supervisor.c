/*
 * POSIX implementation of kz_daemon_supervise() (runtime/kz_daemon.h): the supervising parent
 * of `karpacz -d`. It binds the listening sockets once and hands them to each serving process
 * it starts (a new execution of this program, see unix/daemon.c for the protocol), so the
 * accept queues outlive any one process: on SIGHUP a new serving process starts on the same
 * sockets, says it is ready, and only then the old one gets SIGTERM and drains. A serving
 * process that dies is started again at once, with a growing delay while it keeps dying.
 * Single-threaded: one loop polls the readiness pipe, takes signals, reaps children.
 */
#include "kz_daemon.h"
#include "kz_listen.h"
#include "unix_daemon.h"

#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SV_POLL_MS       50
#define SV_START_TIMEOUT apr_time_from_sec(60)
#define SV_STABLE        apr_time_from_sec(10) /* alive this long: the next death is no failure */
#define SV_FIRST_DELAY   apr_time_from_msec(500)
#define SV_MAX_DELAY     apr_time_from_sec(30)
#define SV_MAX_OLD       32

/* A listening socket, shared by every configuration that lists its address. */
typedef struct sv_sock {
    const char *host; /* NULL: every address */
    apr_port_t port;  /* as configured (0: the system chose) */
    int index;
    int fd;
    apr_port_t actual; /* the port bound */
    int refs;          /* generations holding it */
    apr_pool_t *pool;  /* its own: destroying it closes the socket */
} sv_sock_t;

/* A configuration with its sockets. */
typedef struct sv_gen {
    apr_pool_t *pool;
    kz_daemon_conf_t conf;
    apr_array_header_t *socks; /* sv_sock_t * */
} sv_gen_t;

typedef struct sv_child {
    pid_t pid; /* 0: none */
    int ready_fd;
    apr_time_t started, ready_at, kill_at;
    sv_gen_t *gen;
} sv_child_t;

typedef struct sv {
    const kz_daemon_spec_t *spec;
    apr_pool_t *pool;
    char exe[4096];
    sigset_t old_mask;
    sv_gen_t *gen;      /* the configuration in force */
    sv_child_t current; /* serving */
    sv_child_t pending; /* starting: first start, restart or reload */
    sv_child_t old[SV_MAX_OLD];
    int failures;          /* deaths in a row without SV_STABLE of service */
    apr_time_t restart_at; /* 0: no restart due */
    int reload_wanted, stopping, started, exit_code;
} sv_t;

/* ---- messages ------------------------------------------------------------------------- */

/* A line in the error log's format: stderr is that file once detached. */
static void sv_log(const char *level, int msgid, const char *fmt, ...)
{
    apr_time_exp_t x;
    char text[1024];
    va_list ap;

    apr_time_exp_lt(&x, apr_time_now());
    va_start(ap, fmt);
    apr_vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%04d-%02d-%02d %02d:%02d:%02d] [%s] [KZ%04d] supervisor: %s\n",
            x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec, level, msgid,
            text);
    fflush(stderr);
}

static const char *exit_text(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status)) {
        snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    }
    return buf;
}

/* ---- sockets and generations ---------------------------------------------------------- */

static int same_host(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static sv_sock_t *gen_find(const sv_gen_t *gen, const char *host, apr_port_t port, int index)
{
    for (int i = 0; gen && i < gen->socks->nelts; i++) {
        sv_sock_t *s = APR_ARRAY_IDX(gen->socks, i, sv_sock_t *);
        if (s->port == port && s->index == index && same_host(s->host, host)) {
            return s;
        }
    }
    return NULL;
}

static apr_status_t sock_bind(sv_t *sv, sv_sock_t **out, const kz_daemon_listen_t *a, int index,
                              apr_port_t bind_port, const char **error, apr_pool_t *ep)
{
    apr_pool_t *sp;
    apr_socket_t *sock;
    sv_sock_t *s;
    apr_status_t rv;
    char msg[256];

    apr_pool_create(&sp, sv->pool);
    if ((rv = kz_listen_open(&sock, a->host, bind_port, 1, sp)) != APR_SUCCESS) {
        *error = apr_psprintf(ep, "cannot listen on %s:%u: %s", a->host ? a->host : "*", bind_port,
                              apr_strerror(rv, msg, sizeof(msg)));
        apr_pool_destroy(sp);
        return rv;
    }
    s = apr_pcalloc(sp, sizeof(*s));
    s->host = a->host ? apr_pstrdup(sp, a->host) : NULL;
    s->port = a->port;
    s->index = index;
    s->pool = sp;
    s->actual = kz_listen_port(sock);
    apr_os_sock_get(&s->fd, sock);
    *out = s;
    return APR_SUCCESS;
}

static void gen_release(sv_gen_t *gen)
{
    for (int i = 0; i < gen->socks->nelts; i++) {
        sv_sock_t *s = APR_ARRAY_IDX(gen->socks, i, sv_sock_t *);
        if (--s->refs == 0) {
            apr_pool_destroy(s->pool);
        }
    }
    apr_pool_destroy(gen->pool);
}

/* Gives gen its sockets: the ones of `from` with the same address, new ones for the rest. */
static apr_status_t gen_bind(sv_t *sv, sv_gen_t *gen, const sv_gen_t *from, const char **error)
{
    for (int i = 0; i < gen->conf.listen->nelts; i++) {
        const kz_daemon_listen_t *a = &APR_ARRAY_IDX(gen->conf.listen, i, kz_daemon_listen_t);
        apr_port_t bind_port = a->port;

        for (int j = 0; j < (a->count < 1 ? 1 : a->count); j++) {
            sv_sock_t *s = gen_find(from, a->host, a->port, j);
            apr_status_t rv;

            if (!s && (s = gen_find(gen, a->host, a->port, j)) != NULL) {
                continue; /* the same address listed twice */
            }
            if (!s && (rv = sock_bind(sv, &s, a, j, bind_port, error, gen->pool)) != APR_SUCCESS) {
                return rv;
            }
            s->refs++;
            APR_ARRAY_PUSH(gen->socks, sv_sock_t *) = s;
            if (j == 0 && bind_port == 0) {
                bind_port = s->actual; /* the port the system chose, for the others */
            }
        }
    }
    return APR_SUCCESS;
}

static apr_status_t gen_load(sv_t *sv, sv_gen_t **out, const sv_gen_t *from, const char **error)
{
    apr_pool_t *gp;
    sv_gen_t *gen;
    apr_status_t rv;

    apr_pool_create(&gp, sv->pool);
    gen = apr_pcalloc(gp, sizeof(*gen));
    gen->pool = gp;
    gen->socks = apr_array_make(gp, 4, sizeof(sv_sock_t *));
    if ((rv = sv->spec->load(&gen->conf, sv->spec->baton, gp)) != APR_SUCCESS) {
        *error = "the configuration cannot be loaded; see the error log";
        apr_pool_destroy(gp);
        return rv;
    }
    if ((rv = gen_bind(sv, gen, from, error)) != APR_SUCCESS) {
        *error = apr_pstrdup(sv->pool, *error);
        gen_release(gen);
        return rv;
    }
    *out = gen;
    return APR_SUCCESS;
}

/* ---- serving processes ---------------------------------------------------------------- */

static const char *listen_env(const sv_gen_t *gen, apr_pool_t *p)
{
    const char *env = "";

    for (int i = 0; i < gen->socks->nelts; i++) {
        const sv_sock_t *s = APR_ARRAY_IDX(gen->socks, i, sv_sock_t *);
        env = apr_psprintf(p, "%s%d %d %u %s;", env, s->fd, s->index, s->port,
                           s->host ? s->host : "*");
    }
    return env;
}

/* In the forked child: hand over the sockets and the pipe, then run the server afresh. */
static void exec_server(const sv_t *sv, const sv_gen_t *gen, int ready_fd, const char *env)
{
    char num[16];
    struct sigaction dfl = {0};

    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, NULL);
    sigprocmask(SIG_SETMASK, &sv->old_mask, NULL);
    for (int i = 0; i < gen->socks->nelts; i++) {
        fcntl(APR_ARRAY_IDX(gen->socks, i, sv_sock_t *)->fd, F_SETFD, 0);
    }
    fcntl(ready_fd, F_SETFD, 0);
    snprintf(num, sizeof(num), "%d", ready_fd);
    setenv(KZ_ENV_LISTEN_FDS, env, 1);
    setenv(KZ_ENV_READY_FD, num, 1);
    execl(sv->exe, "karpacz", "-c", gen->conf.config_file, (char *)NULL);
    fprintf(stderr, "karpacz: cannot run %s: %s\n", sv->exe, strerror(errno));
    _exit(127);
}

static apr_status_t spawn(sv_t *sv, sv_gen_t *gen)
{
    const char *env = listen_env(gen, gen->pool);
    int fds[2];
    pid_t pid;

    if (pipe(fds) != 0) {
        return errno;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    if ((pid = fork()) < 0) {
        apr_status_t rv = errno;
        close(fds[0]);
        close(fds[1]);
        return rv;
    }
    if (pid == 0) {
        close(fds[0]);
        exec_server(sv, gen, fds[1], env);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    sv->pending.pid = pid;
    sv->pending.ready_fd = fds[0];
    sv->pending.started = apr_time_now();
    sv->pending.gen = gen;
    return APR_SUCCESS;
}

static void close_ready(sv_child_t *c)
{
    if (c->ready_fd >= 0) {
        close(c->ready_fd);
        c->ready_fd = -1;
    }
}

/* Sends sig to c and gives it until the stop timeout, then SIGKILL. */
static void retire(sv_t *sv, sv_child_t *c, int sig)
{
    close_ready(c);
    kill(c->pid, sig);
    for (int i = 0; i < SV_MAX_OLD; i++) {
        if (sv->old[i].pid == 0) {
            sv->old[i] = *c;
            sv->old[i].kill_at = apr_time_now() + sv->gen->conf.stop_timeout;
            c->pid = 0;
            return;
        }
    }
    kill(c->pid, SIGKILL); /* too many draining at once: no room to wait for this one */
    c->pid = 0;
}

/* The pending serving process is ready: it takes over, the previous one drains. */
static void promote(sv_t *sv)
{
    if (sv->current.pid) {
        retire(sv, &sv->current, SIGTERM);
    }
    if (sv->pending.gen != sv->gen) {
        gen_release(sv->gen);
        sv->gen = sv->pending.gen;
        sv_log("notice", 602, "configuration %s loaded by the new serving process %ld",
               sv->gen->conf.config_file, (long)sv->pending.pid);
    }
    close_ready(&sv->pending);
    sv->current = sv->pending;
    sv->current.ready_at = apr_time_now();
    sv->pending.pid = 0;
    if (!sv->started) {
        sv->started = 1;
        kz_daemon_started(sv->spec->detached, 1, NULL);
        sv_log("notice", 600, "started; serving process %ld", (long)sv->current.pid);
    }
}

static void schedule_restart(sv_t *sv)
{
    apr_time_t delay = 0;

    sv->failures++;
    for (int i = 1; i < sv->failures && delay < SV_MAX_DELAY; i++) {
        delay = delay ? delay * 2 : SV_FIRST_DELAY;
    }
    sv->restart_at = apr_time_now() + (delay > SV_MAX_DELAY ? SV_MAX_DELAY : delay);
    if (delay) {
        sv_log("warn", 604, "restarting in %ld ms (%d failures in a row)",
               (long)apr_time_as_msec(delay), sv->failures);
    }
}

/* ---- events --------------------------------------------------------------------------- */

static void pending_died(sv_t *sv, const char *how)
{
    close_ready(&sv->pending);
    sv->pending.pid = 0;
    if (sv->pending.gen != sv->gen) {
        gen_release(sv->pending.gen);
        sv_log("error", 603,
               "the new serving process %s before it was ready; the running one "
               "keeps serving",
               how);
    } else {
        sv_log("error", 603, "the serving process %s before it was ready", how);
    }
    if (!sv->started) {
        kz_daemon_started(sv->spec->detached, 0,
                          "the server did not start; see the error log for why");
        sv->stopping = 1;
        sv->exit_code = 1;
    } else if (!sv->current.pid && !sv->stopping) {
        schedule_restart(sv);
    }
}

static void reap(sv_t *sv)
{
    pid_t pid;
    int status;
    char how[64];

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        exit_text(status, how, sizeof(how));
        if (pid == sv->current.pid) {
            sv->current.pid = 0;
            sv_log("error", 601, "serving process %ld %s", (long)pid, how);
            if (!sv->stopping && !sv->pending.pid) {
                schedule_restart(sv);
            }
        } else if (pid == sv->pending.pid) {
            pending_died(sv, how);
        }
        for (int i = 0; i < SV_MAX_OLD; i++) {
            if (sv->old[i].pid == pid) {
                sv->old[i].pid = 0;
            }
        }
    }
}

static void check_ready(sv_t *sv)
{
    struct pollfd pfd = {.fd = sv->pending.ready_fd, .events = POLLIN};
    char c;
    ssize_t n;

    if (!sv->pending.pid || pfd.fd < 0) {
        poll(NULL, 0, SV_POLL_MS);
        return;
    }
    if (poll(&pfd, 1, SV_POLL_MS) <= 0) {
        return;
    }
    n = read(pfd.fd, &c, 1);
    if (n == 1) {
        promote(sv);
    } else if (n == 0) {
        close_ready(&sv->pending); /* it ends without being ready: reap() tells the rest */
    }
}

static void reload(sv_t *sv)
{
    sv_gen_t *gen;
    const char *error = NULL;
    apr_status_t rv;

    sv_log("notice", 605, "reloading %s", sv->gen->conf.config_file);
    if (gen_load(sv, &gen, sv->gen, &error) != APR_SUCCESS) {
        sv_log("error", 606, "reload failed (%s); the running configuration stays", error);
        return;
    }
    if ((rv = spawn(sv, gen)) != APR_SUCCESS) {
        gen_release(gen);
        sv_log("error", 606, "reload failed: cannot start a process (error %d)", rv);
    }
}

static void stop_all(sv_t *sv)
{
    sv->stopping = 1;
    sv->restart_at = 0;
    if (sv->current.pid) {
        retire(sv, &sv->current, SIGTERM);
    }
    if (sv->pending.pid) {
        if (sv->pending.gen != sv->gen) {
            gen_release(sv->pending.gen);
        }
        retire(sv, &sv->pending, SIGTERM);
    }
}

static void forward(sv_t *sv, int sig)
{
    if (sv->current.pid) {
        kill(sv->current.pid, sig);
    }
    if (sv->pending.pid) {
        kill(sv->pending.pid, sig);
    }
}

static void take_signals(sv_t *sv, const sigset_t *set)
{
    struct timespec zero = {0, 0};
    int sig;

    while ((sig = sigtimedwait(set, NULL, &zero)) > 0) {
        if ((sig == SIGTERM || sig == SIGINT) && !sv->stopping) {
            sv_log("notice", 607, "stopping");
            stop_all(sv);
        } else if (sig == SIGHUP && !sv->stopping) {
            sv->reload_wanted = 1;
        } else if (sig == SIGUSR1) {
            kz_unix_redirect_output(kz_unix_daemon_out_path(sv->spec->detached));
            forward(sv, SIGUSR1);
        }
    }
}

static void timers(sv_t *sv)
{
    apr_time_t now = apr_time_now();

    if (sv->pending.pid && now - sv->pending.started > SV_START_TIMEOUT) {
        kill(sv->pending.pid, SIGKILL); /* reap() takes it as a failed start */
    }
    for (int i = 0; i < SV_MAX_OLD; i++) {
        if (sv->old[i].pid && now >= sv->old[i].kill_at) {
            sv_log("warn", 608, "process %ld did not stop in time: killed", (long)sv->old[i].pid);
            kill(sv->old[i].pid, SIGKILL);
            sv->old[i].kill_at = APR_INT64_MAX;
        }
    }
    if (sv->current.pid && sv->failures && now - sv->current.ready_at >= SV_STABLE) {
        sv->failures = 0;
    }
    if (sv->stopping || sv->pending.pid) {
        return;
    }
    if (sv->reload_wanted) {
        sv->reload_wanted = 0;
        reload(sv);
    } else if (!sv->current.pid && sv->restart_at && now >= sv->restart_at) {
        sv->restart_at = 0;
        if (spawn(sv, sv->gen) != APR_SUCCESS) {
            schedule_restart(sv);
        }
    }
}

static int children_left(const sv_t *sv)
{
    int n = sv->current.pid != 0 || sv->pending.pid != 0;

    for (int i = 0; i < SV_MAX_OLD; i++) {
        n += sv->old[i].pid != 0;
    }
    return n;
}

/* ---- the whole ------------------------------------------------------------------------ */

static void signals_setup(sv_t *sv, sigset_t *set)
{
    struct sigaction sa = {0};

    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGCHLD);
    sigprocmask(SIG_BLOCK, set, &sv->old_mask);
    sa.sa_handler = SIG_DFL; /* an inherited SIG_IGN would reap the children behind our back */
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static apr_status_t sv_init(sv_t *sv, const char **error)
{
    ssize_t n = readlink("/proc/self/exe", sv->exe, sizeof(sv->exe) - 1);
    apr_status_t rv;

    if (n <= 0) {
        *error = "cannot find the program's own file (/proc/self/exe)";
        return APR_ENOENT;
    }
    sv->exe[n] = '\0';
    sv->current.ready_fd = sv->pending.ready_fd = -1;
    if ((rv = gen_load(sv, &sv->gen, NULL, error)) != APR_SUCCESS) {
        return rv;
    }
    if (sv->spec->pid_file &&
        ((rv = kz_pidfile_check(sv->spec->pid_file, error, sv->pool)) != APR_SUCCESS ||
         (rv = kz_pidfile_write(sv->spec->pid_file, error, sv->pool)) != APR_SUCCESS)) {
        gen_release(sv->gen);
        return rv;
    }
    if ((rv = spawn(sv, sv->gen)) != APR_SUCCESS) {
        *error = apr_psprintf(sv->pool, "cannot start the serving process (error %d)", rv);
        if (sv->spec->pid_file) {
            kz_pidfile_remove(sv->spec->pid_file, sv->pool);
        }
        gen_release(sv->gen);
    }
    return rv;
}

int kz_daemon_supervise(const kz_daemon_spec_t *spec, apr_pool_t *p)
{
    sv_t *sv = apr_pcalloc(p, sizeof(*sv));
    const char *error = NULL;
    sigset_t set;

    sv->spec = spec;
    apr_pool_create(&sv->pool, p);
    signals_setup(sv, &set);
    if (sv_init(sv, &error) != APR_SUCCESS) {
        sv_log("error", 609, "%s", error);
        kz_daemon_started(spec->detached, 0, error);
        apr_pool_destroy(sv->pool);
        return 1;
    }
    while (!sv->stopping || children_left(sv)) {
        check_ready(sv);
        take_signals(sv, &set);
        reap(sv);
        timers(sv);
    }
    if (spec->pid_file) {
        kz_pidfile_remove(spec->pid_file, sv->pool);
    }
    sv_log("notice", 607, "stopped");
    gen_release(sv->gen);
    apr_pool_destroy(sv->pool);
    return sv->exit_code;
}

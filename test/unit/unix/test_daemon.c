/*
 * Tests of unix/daemon.c (runtime/kz_daemon.h): the pid file (missing, stale, zombie, live,
 * garbage; written atomically, removed only by its owner), the inherited-listener table a
 * supervisor passes in KZ_LISTEN_FDS, the readiness pipe, and the privilege drop (in a forked
 * child, so this process keeps its identity).
 */
#include "kz_daemon.h"
#include "kz_test.h"

#include <apr_portable.h>
#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *temp_path(const char *name)
{
    return apr_psprintf(kz_test_pool, "/tmp/kz-unit-daemon-%ld-%s", (long)getpid(), name);
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* A child of this process: running (a sleeper running this same program), or exited and
 * reaped (its pid now names nobody), or exited and not reaped (a zombie), or running another
 * program (the pid was reused). */
typedef enum { CHILD_LIVE, CHILD_DEAD, CHILD_ZOMBIE, CHILD_OTHER } child_kind_e;

static pid_t make_child(child_kind_e kind)
{
    pid_t pid = fork();

    if (pid == 0) {
        if (kind == CHILD_LIVE) {
            sleep(30);
        } else if (kind == CHILD_OTHER) {
            execl("/bin/sleep", "sleep", "30", (char *)NULL);
        }
        _exit(0);
    }
    if (kind == CHILD_DEAD) {
        waitpid(pid, NULL, 0);
    } else if (kind == CHILD_ZOMBIE || kind == CHILD_OTHER) {
        usleep(200 * 1000); /* time to exit, or to run the other program */
    }
    return pid;
}

static void end_child(pid_t pid, child_kind_e kind)
{
    if (kind == CHILD_LIVE || kind == CHILD_OTHER) {
        kill(pid, SIGKILL);
    }
    if (kind != CHILD_DEAD) {
        waitpid(pid, NULL, 0);
    }
}

typedef struct pid_row {
    const char *label;
    const char *content; /* NULL: no file; "%d": the child's pid; "self": this pid */
    child_kind_e kind;
    apr_status_t expect;
} pid_row_t;

static const pid_row_t pid_rows[] = {
    {"no pid file", NULL, CHILD_DEAD, APR_SUCCESS},
    {"stale: the process is gone", "%d\n", CHILD_DEAD, APR_SUCCESS},
    {"zombie: killed, not yet reaped, counts as gone", "%d\n", CHILD_ZOMBIE, APR_SUCCESS},
    {"live process of this program", "%d\n", CHILD_LIVE, APR_EEXIST},
    {"live, no newline", "%d", CHILD_LIVE, APR_EEXIST},
    {"reused pid: another program runs there", "%d\n", CHILD_OTHER, APR_SUCCESS},
    {"our own pid (a restart of the same process)", "self", CHILD_DEAD, APR_SUCCESS},
    {"garbage does not block", "not a pid\n", CHILD_DEAD, APR_SUCCESS},
    {"trailing garbage does not block", "%d1x\n", CHILD_LIVE, APR_SUCCESS},
    {"empty file", "", CHILD_DEAD, APR_SUCCESS},
    {"negative", "-5\n", CHILD_DEAD, APR_SUCCESS},
};

static void test_pidfile_check(void)
{
    const char *path = temp_path("check.pid");

    for (size_t i = 0; i < sizeof(pid_rows) / sizeof(pid_rows[0]); i++) {
        const pid_row_t *row = &pid_rows[i];
        pid_t child = make_child(row->kind);
        const char *error = NULL;
        apr_status_t rv;

        unlink(path);
        if (row->content && !strcmp(row->content, "self")) {
            put_file(path, apr_psprintf(kz_test_pool, "%ld\n", (long)getpid()));
        } else if (row->content) {
            put_file(path, apr_psprintf(kz_test_pool, row->content, (int)child));
        }
        rv = kz_pidfile_check(path, &error, kz_test_pool);
        if (rv != row->expect) {
            fprintf(stderr, "\n  %s: got %d\n", row->label, rv);
        }
        CU_ASSERT_EQUAL(rv, row->expect);
        if (row->expect == APR_EEXIST) {
            CU_ASSERT_STRING_EQUAL(error, apr_psprintf(kz_test_pool,
                                                       "pid file %s names the running process %d",
                                                       path, (int)child));
        }
        end_child(child, row->kind);
    }
    unlink(path);
}

static void test_pidfile_write_remove(void)
{
    const char *path = temp_path("write.pid");
    const char *error = NULL;
    char buf[64] = {0};
    FILE *f;

    put_file(path, "999999999\n"); /* stale: replaced */
    CU_ASSERT_EQUAL(kz_pidfile_write(path, &error, kz_test_pool), APR_SUCCESS);
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(fgets(buf, sizeof(buf), f) != NULL);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, apr_psprintf(kz_test_pool, "%ld\n", (long)getpid()));
    CU_ASSERT_EQUAL(kz_pidfile_remove(path, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    /* Another process's file is left alone. */
    put_file(path, "1\n");
    CU_ASSERT_EQUAL(kz_pidfile_remove(path, kz_test_pool), APR_EINVAL);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    unlink(path);
    /* A directory that does not exist: an error with the path in the message. */
    CU_ASSERT_NOT_EQUAL(kz_pidfile_write("/nonexistent-kz-dir/x.pid", &error, kz_test_pool),
                        APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(error, "cannot write pid file /nonexistent-kz-dir/x.pid"));
}

typedef struct listen_row {
    const char *label;
    const char *host;
    apr_port_t port;
    int index;
    int expect; /* which of the sockets (0..3), or -1 for APR_NOTFOUND */
} listen_row_t;

static const listen_row_t listen_rows[] = {
    {"every address, first socket", NULL, 8080, 0, 0},
    {"every address, second socket", NULL, 8080, 1, 1},
    {"no third socket", NULL, 8080, 2, -1},
    {"named address", "127.0.0.1", 80, 0, 2},
    {"IPv6 address with colons", "::1", 443, 0, 3},
    {"named address, other port", "127.0.0.1", 8080, 0, -1},
    {"wildcard is not a named address", NULL, 80, 0, -1},
    {"named address is not the wildcard", "127.0.0.1", 8080, 1, -1},
    {"a prefix of a listed address", "127.0.0.10", 80, 0, -1},
    {"a listed address's prefix", "127.0.0", 80, 0, -1},
    {"port 0 as configured", "127.0.0.2", 0, 0, -1},
};

static void test_inherited_listeners(void)
{
    int fds[4];
    apr_socket_t *sock;
    apr_os_sock_t got;

    for (int i = 0; i < 4; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        CU_ASSERT_FATAL(fds[i] >= 0);
    }
    unsetenv("KZ_LISTEN_FDS");
    CU_ASSERT_EQUAL(kz_daemon_listener(&sock, NULL, 8080, 0, kz_test_pool), APR_NOTFOUND);
    setenv("KZ_LISTEN_FDS",
           apr_psprintf(kz_test_pool, "%d 0 8080 *;%d 1 8080 *;%d 0 80 127.0.0.1;%d 0 443 ::1;",
                        fds[0], fds[1], fds[2], fds[3]),
           1);
    for (size_t i = 0; i < sizeof(listen_rows) / sizeof(listen_rows[0]); i++) {
        const listen_row_t *row = &listen_rows[i];
        apr_status_t rv = kz_daemon_listener(&sock, row->host, row->port, row->index, kz_test_pool);
        if (row->expect < 0) {
            CU_ASSERT_EQUAL(rv, APR_NOTFOUND);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
        apr_os_sock_get(&got, sock);
        CU_ASSERT_EQUAL(got, fds[row->expect]);
        CU_ASSERT(fcntl(got, F_GETFD) & FD_CLOEXEC); /* not passed on to this process's children */
    }
    /* A listed descriptor that is not open is not taken. */
    close(fds[3]);
    CU_ASSERT_EQUAL(kz_daemon_listener(&sock, "::1", 443, 0, kz_test_pool), APR_NOTFOUND);
    setenv("KZ_LISTEN_FDS", "garbage;;7 x 80 *;", 1);
    CU_ASSERT_EQUAL(kz_daemon_listener(&sock, NULL, 80, 0, kz_test_pool), APR_NOTFOUND);
    /* A hostile environment naming standard output: never taken as a listener. */
    setenv("KZ_LISTEN_FDS", "1 0 81 *;", 1);
    CU_ASSERT_EQUAL(kz_daemon_listener(&sock, NULL, 81, 0, kz_test_pool), APR_NOTFOUND);
    unsetenv("KZ_LISTEN_FDS");
    for (int i = 0; i < 3; i++) {
        close(fds[i]);
    }
}

static void test_ready_pipe(void)
{
    int fds[2];
    char buf[4];

    unsetenv("KZ_READY_FD");
    CU_ASSERT_EQUAL(kz_daemon_supervised(), 0);
    kz_daemon_ready(); /* no supervisor: nothing happens */
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    setenv("KZ_READY_FD", apr_itoa(kz_test_pool, fds[1]), 1);
    CU_ASSERT_EQUAL(kz_daemon_supervised(), 1);
    kz_daemon_ready();
    kz_daemon_ready(); /* idempotent: one byte, and the write end is closed */
    CU_ASSERT_EQUAL(read(fds[0], buf, sizeof(buf)), 1);
    CU_ASSERT_EQUAL(buf[0], 'R');
    CU_ASSERT_EQUAL(read(fds[0], buf, sizeof(buf)), 0);
    CU_ASSERT_EQUAL(fcntl(fds[1], F_GETFD), -1);
    close(fds[0]);
    unsetenv("KZ_READY_FD");
}

/* In a child: drop to nobody, then report whether root is really gone. */
static int drop_in_child(const char *user, const char *group)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        const char *error = NULL;
        if (kz_daemon_drop_privileges(user, group, &error, kz_test_pool) != APR_SUCCESS) {
            _exit(2);
        }
        _exit(getuid() == 65534 && geteuid() == 65534 && getgid() == 65534 && setuid(0) != 0 ? 0
                                                                                             : 1);
    }
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_drop_privileges(void)
{
    const char *error = NULL;

    CU_ASSERT_EQUAL(kz_daemon_drop_privileges(NULL, NULL, &error, kz_test_pool), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(kz_daemon_drop_privileges("kz-no-such-user", NULL, &error, kz_test_pool),
                        APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(error, "user 'kz-no-such-user' does not exist");
    CU_ASSERT_NOT_EQUAL(kz_daemon_drop_privileges(NULL, "kz-no-such-group", &error, kz_test_pool),
                        APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(error, "group 'kz-no-such-group' does not exist");
    if (geteuid() != 0) {
        return; /* the switch itself needs root */
    }
    CU_ASSERT_EQUAL(drop_in_child("nobody", NULL), 0);
    CU_ASSERT_EQUAL(drop_in_child("nobody", "nogroup"), 0);
    CU_ASSERT_EQUAL(getuid(), 0); /* this process is untouched */
}

static const kz_test_case_t cases[] = {
    {"pid file check: missing, stale, zombie, live, garbage", test_pidfile_check},
    {"pid file write (atomic, replaces stale) and remove (owner only)", test_pidfile_write_remove},
    {"inherited listeners by address, port and index", test_inherited_listeners},
    {"readiness pipe", test_ready_pipe},
    {"privilege drop", test_drop_privileges},
    {NULL, NULL},
};

KZ_TEST_SUITE(daemon, cases)

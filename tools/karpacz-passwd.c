/*
 * karpacz-passwd USER: asks for a password twice without echo (apr_password_get) and prints the
 * `users` entry for the configuration, with an Argon2id PHC hash (passwd.h), as the original's
 * passwd tool does (karpacz-behaviour.md §5). `--stdin` reads one line from standard input
 * instead, for scripts and tests. Exit status 1 on a mismatch, an empty password or bad usage.
 */
#include "passwd.h"

#include <apr_cstr.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KZ_PASSWD_MAX 1024

static void usage(FILE *out)
{
    fprintf(out, "usage: karpacz-passwd [--stdin] [--] USER\n"
                 "Prints a `users` entry for the Karpacz configuration with an Argon2id hash\n"
                 "of the password, asked twice without echo (or one line from standard input\n"
                 "with --stdin).\n");
}

/* Basic authentication cannot carry a ':' in the user name (RFC 7617 §2). */
static const char *name_problem(const char *name)
{
    if (!*name) {
        return "the user name is empty";
    }
    if (strchr(name, ':')) {
        return "the user name must not contain ':'";
    }
    for (const char *s = name; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7F) {
            return "the user name must not contain control characters";
        }
    }
    return NULL;
}

/* A plain YAML scalar when that is safe, else a double-quoted one. */
static const char *yaml_name(const char *name, apr_pool_t *p)
{
    const char *s = name;
    char *q, *o;

    if (apr_isalpha(*s)) {
        while (apr_isalnum(*s) || (*s && strchr("._@-", *s))) {
            s++;
        }
        if (!*s && apr_cstr_casecmp(name, "true") && apr_cstr_casecmp(name, "false") &&
            apr_cstr_casecmp(name, "null")) {
            return name;
        }
    }
    q = o = apr_palloc(p, 2 * strlen(name) + 3);
    *o++ = '"';
    for (s = name; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *o++ = '\\';
        }
        *o++ = *s;
    }
    *o++ = '"';
    *o = '\0';
    return q;
}

/* One line of standard input without its line end; 0 when it is too long or missing. */
static int read_line(char *buf, apr_size_t size)
{
    apr_size_t len;

    if (!fgets(buf, (int)size, stdin)) {
        buf[0] = '\0';
        return feof(stdin) != 0;
    }
    len = strlen(buf);
    if (len && buf[len - 1] == '\n') {
        buf[--len] = '\0';
    } else if (len == size - 1 && !feof(stdin)) {
        return 0;
    }
    if (len && buf[len - 1] == '\r') {
        buf[--len] = '\0';
    }
    return 1;
}

static int read_twice(char *buf, char *again, apr_size_t size)
{
    apr_size_t n = size;
    apr_status_t rv = apr_password_get("Password: ", buf, &n);

    if (rv == APR_SUCCESS) {
        n = size;
        rv = apr_password_get("Confirm password: ", again, &n);
    }
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "karpacz-passwd: cannot read the password%s\n",
                APR_STATUS_IS_ENAMETOOLONG(rv) ? " (too long)" : " (no terminal? try --stdin)");
        return 0;
    }
    if (strcmp(buf, again) != 0) {
        fprintf(stderr, "karpacz-passwd: the passwords do not match\n");
        return 0;
    }
    return 1;
}

static int run(const char *user, int from_stdin, apr_pool_t *p)
{
    static char buf[KZ_PASSWD_MAX], again[KZ_PASSWD_MAX];
    const char *hash, *problem = name_problem(user);
    int ok = 0;

    if (problem) {
        fprintf(stderr, "karpacz-passwd: %s\n", problem);
    } else if (from_stdin && !read_line(buf, sizeof(buf))) {
        fprintf(stderr, "karpacz-passwd: the password line is too long\n");
    } else if (!from_stdin && !read_twice(buf, again, sizeof(buf))) {
        /* reported */
    } else if (!buf[0]) {
        fprintf(stderr, "karpacz-passwd: the password is empty\n");
    } else if (kz_passwd_hash(&hash, buf, strlen(buf), p) != APR_SUCCESS) {
        fprintf(stderr, "karpacz-passwd: hashing failed\n");
    } else {
        printf("- name: %s\n  pass: %s\n", yaml_name(user, p), hash);
        ok = 1;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(again, sizeof(again));
    return ok ? 0 : 1;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    const char *user = NULL;
    int from_stdin = 0, options = 1, rc;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS ||
        apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "karpacz-passwd: cannot initialize APR\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (!options || argv[i][0] != '-') {
            if (user) {
                user = NULL;
                break;
            }
            user = argv[i];
        } else if (!strcmp(argv[i], "--")) {
            options = 0;
        } else if (!strcmp(argv[i], "--stdin")) {
            from_stdin = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            apr_terminate();
            return 0;
        } else {
            user = NULL;
            break;
        }
    }
    if (!user) {
        usage(stderr);
        apr_terminate();
        return 1;
    }
    rc = run(user, from_stdin, pool);
    apr_terminate();
    return rc;
}

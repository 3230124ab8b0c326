/*
 * POSIX implementation of runtime/kz_fs.h. On Linux, openat2(2) with RESOLVE_BENEATH makes the
 * kernel refuse any resolution that leaves the root (EXDEV), in the same call that opens the
 * file. Where openat2 is missing (older kernels, other systems) the file is opened normally and
 * its real path is compared with the root's.
 */
#include "kz_fs.h"

#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

struct kz_root {
    int fd;
    apr_uint32_t id;
    const char *real; /* the root's real path, for the fallback check */
    apr_size_t real_len;
};

static int have_openat2 = 1; /* cleared for good at the first ENOSYS */
static apr_uint32_t last_root_id;

static apr_status_t root_cleanup(void *data)
{
    kz_root_t *root = data;

    if (root->fd >= 0) {
        close(root->fd);
        root->fd = -1;
    }
    return APR_SUCCESS;
}

apr_status_t kz_root_open(kz_root_t **out, const char *path, apr_pool_t *p)
{
    kz_root_t *root = apr_pcalloc(p, sizeof(*root));
    char real[PATH_MAX];

    root->id = apr_atomic_inc32(&last_root_id) + 1;
    root->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root->fd < 0) {
        return errno;
    }
    apr_pool_cleanup_register(p, root, root_cleanup, apr_pool_cleanup_null);
    if (!realpath(path, real)) {
        return errno;
    }
    root->real = apr_pstrdup(p, real);
    root->real_len = strlen(real);
    *out = root;
    return APR_SUCCESS;
}

apr_uint32_t kz_root_id(const kz_root_t *root)
{
    return root->id;
}

static int open_beneath(kz_root_t *root, const char *rel, int allow_escape)
{
    const char *name = *rel ? rel : ".";
#ifdef __linux__
    if (have_openat2 && !allow_escape) {
        struct open_how how = {0};
        long fd;

        how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        fd = syscall(SYS_openat2, root->fd, name, &how, sizeof(how));
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
            if (fd < 0 && errno == EXDEV) {
                errno = EXDEV;
            }
            return (int)fd;
        }
        have_openat2 = 0;
    }
#endif
    return openat(root->fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
}

/* The fallback containment check: the opened file's real path must lie under the root. */
static int escapes(kz_root_t *root, const char *rel)
{
    char path[PATH_MAX], real[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", root->real, rel);

    if (n < 0 || (size_t)n >= sizeof(path) || !realpath(path, real)) {
        return 1;
    }
    return strncmp(real, root->real, root->real_len) != 0 ||
           (real[root->real_len] != '/' && real[root->real_len] != '\0' &&
            !(root->real_len == 1 && root->real[0] == '/'));
}

static apr_status_t file_cleanup(void *data)
{
    return apr_file_close(data);
}

apr_status_t kz_root_open_file(apr_file_t **out, apr_finfo_t *finfo, kz_root_t *root,
                               const char *rel, int allow_escape, apr_pool_t *p)
{
    apr_os_file_t fd = open_beneath(root, rel, allow_escape);
    apr_file_t *file = NULL;
    apr_status_t rv;

    if (fd < 0) {
        return errno == EXDEV ? KZ_STATUS_ESCAPE : errno;
    }
    if (!allow_escape && !have_openat2 && escapes(root, rel)) {
        close(fd);
        return KZ_STATUS_ESCAPE;
    }
    /* O_NONBLOCK only keeps a FIFO from blocking the open; regular files ignore it. */
    rv = apr_os_file_put(&file, &fd, APR_FOPEN_READ, p);
    if (rv == APR_SUCCESS) {
        apr_pool_cleanup_register(p, file, file_cleanup, apr_pool_cleanup_null);
        rv = apr_file_info_get(finfo,
                               APR_FINFO_TYPE | APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_INODE |
                                   APR_FINFO_DEV,
                               file);
        if (rv == APR_INCOMPLETE) {
            rv = APR_SUCCESS;
        }
    } else {
        close(fd);
    }
    *out = file;
    return rv;
}

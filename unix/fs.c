/*
 * POSIX implementation of runtime/kz_fs.h. On Linux, openat2(2) with RESOLVE_BENEATH makes the
 * kernel refuse any resolution that leaves the root (EXDEV), in the same call that opens the
 * file. Where openat2 is missing (older kernels, other systems) the file is opened normally and
 * its real path is compared with the root's. Directories are read with readdir(3) on a
 * descriptor opened the same way, and symbolic links among their entries are resolved from the
 * root under the same rule.
 */
#include "kz_fs.h"

#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <dirent.h>
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

/* flags must suit openat2 too: with O_PATH, nothing but O_PATH (O_CLOEXEC is added here). */
static int open_beneath(kz_root_t *root, const char *rel, int allow_escape, int flags)
{
    const char *name = *rel ? rel : ".";
#ifdef __linux__
    if (have_openat2 && !allow_escape) {
        struct open_how how = {0};
        long fd;

        how.flags = (apr_uint64_t)(flags | O_CLOEXEC);
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
    return openat(root->fd, name, flags | O_CLOEXEC);
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

/* open_beneath, then the fallback check where the kernel could not enforce the rule itself. */
static apr_status_t open_contained(int *fd, kz_root_t *root, const char *rel, int allow_escape,
                                   int flags)
{
    if ((*fd = open_beneath(root, rel, allow_escape, flags)) < 0) {
        return errno == EXDEV ? KZ_STATUS_ESCAPE : errno;
    }
    if (!allow_escape && !have_openat2 && escapes(root, rel)) {
        close(*fd);
        *fd = -1;
        return KZ_STATUS_ESCAPE;
    }
    return APR_SUCCESS;
}

static apr_status_t file_cleanup(void *data)
{
    return apr_file_close(data);
}

apr_status_t kz_root_open_file(apr_file_t **out, apr_finfo_t *finfo, kz_root_t *root,
                               const char *rel, int allow_escape, apr_pool_t *p)
{
    apr_os_file_t fd;
    apr_file_t *file = NULL;
    apr_status_t rv = open_contained(&fd, root, rel, allow_escape, O_RDONLY | O_NONBLOCK);

    if (rv != APR_SUCCESS) {
        return rv;
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

/* ---- directories ---------------------------------------------------------------------- */

struct kz_dir {
    DIR *d;
    kz_root_t *root;
    const char *rel; /* the directory, relative to the root, ending in '/' unless "" */
    int allow_escape;
    apr_pool_t *pool;
};

static apr_status_t dir_cleanup(void *data)
{
    kz_dir_t *dir = data;

    if (dir->d) {
        closedir(dir->d);
        dir->d = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t kz_root_open_dir(kz_dir_t **out, kz_root_t *root, const char *rel, int allow_escape,
                              apr_pool_t *p)
{
    kz_dir_t *dir = apr_pcalloc(p, sizeof(*dir));
    apr_size_t len = strlen(rel);
    struct stat st;
    int err, fd;

    if ((err = open_contained(&fd, root, rel, allow_escape, O_RDONLY | O_NONBLOCK)) != 0) {
        return err;
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
    } else if (!S_ISDIR(st.st_mode)) {
        err = ENOTDIR;
    } else if (!(dir->d = fdopendir(fd))) {
        err = errno;
    }
    if (err) {
        close(fd);
        return err;
    }
    apr_pool_cleanup_register(p, dir, dir_cleanup, apr_pool_cleanup_null);
    dir->root = root;
    dir->rel = len && rel[len - 1] != '/' ? apr_pstrcat(p, rel, "/", NULL) : rel;
    dir->allow_escape = allow_escape;
    dir->pool = p;
    *out = dir;
    return APR_SUCCESS;
}

static apr_filetype_e type_of_mode(mode_t mode)
{
    if (S_ISREG(mode)) {
        return APR_REG;
    }
    if (S_ISDIR(mode)) {
        return APR_DIR;
    }
    if (S_ISLNK(mode)) {
        return APR_LNK;
    }
    if (S_ISCHR(mode)) {
        return APR_CHR;
    }
    if (S_ISBLK(mode)) {
        return APR_BLK;
    }
    if (S_ISFIFO(mode)) {
        return APR_PIPE;
    }
    return S_ISSOCK(mode) ? APR_SOCK : APR_UNKFILE;
}

#ifdef DT_UNKNOWN
static apr_filetype_e type_of_dirent(const struct dirent *e)
{
    switch (e->d_type) {
    case DT_REG:
        return APR_REG;
    case DT_DIR:
        return APR_DIR;
    case DT_LNK:
        return APR_LNK;
    case DT_CHR:
        return APR_CHR;
    case DT_BLK:
        return APR_BLK;
    case DT_FIFO:
        return APR_PIPE;
    case DT_SOCK:
        return APR_SOCK;
    default:
        return APR_UNKFILE;
    }
}
#else
#define type_of_dirent(e) APR_UNKFILE /* no d_type here: every entry needs a stat */
#endif

apr_status_t kz_dir_read(const char **name, apr_filetype_e *type, kz_dir_t *dir)
{
    for (;;) {
        struct dirent *e;

        errno = 0;
        if (!(e = readdir(dir->d))) {
            return errno ? errno : APR_ENOENT;
        }
        if (e->d_name[0] == '.' &&
            (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) {
            continue;
        }
        *name = e->d_name;
        *type = type_of_dirent(e);
        return APR_SUCCESS;
    }
}

/*
 * Where a symbolic link leads, under the root's rule: resolved from the root itself (a link to
 * "../sibling" may well stay inside it), as files are opened; O_PATH needs no permission to
 * read the target, as a stat does not.
 */
static apr_status_t stat_link_beneath(struct stat *st, kz_dir_t *dir, const char *name)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s%s", dir->rel, name);

    if (n < 0 || (size_t)n >= sizeof(path)) {
        return ENAMETOOLONG;
    }
#ifdef O_PATH
    apr_status_t rv;
    int fd;

    if ((rv = open_contained(&fd, dir->root, path, 0, O_PATH)) != APR_SUCCESS) {
        return rv;
    }
    rv = fstat(fd, st) == 0 ? APR_SUCCESS : errno;
    close(fd);
    return rv;
#else
    if (fstatat(dirfd(dir->d), name, st, 0) != 0) {
        return errno;
    }
    return escapes(dir->root, path) ? KZ_STATUS_ESCAPE : APR_SUCCESS;
#endif
}

apr_status_t kz_dir_stat(apr_finfo_t *finfo, kz_dir_t *dir, const char *name)
{
    struct stat st;
    apr_status_t rv = APR_SUCCESS;

    if (fstatat(dirfd(dir->d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno;
    }
    if (S_ISLNK(st.st_mode)) {
        if (dir->allow_escape) {
            rv = fstatat(dirfd(dir->d), name, &st, 0) == 0 ? APR_SUCCESS : errno;
        } else {
            rv = stat_link_beneath(&st, dir, name);
        }
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    memset(finfo, 0, sizeof(*finfo));
    finfo->valid = APR_FINFO_TYPE | APR_FINFO_SIZE | APR_FINFO_MTIME;
    finfo->filetype = type_of_mode(st.st_mode);
    finfo->size = (apr_off_t)st.st_size;
    finfo->mtime = apr_time_from_sec(st.st_mtime);
    return APR_SUCCESS;
}

/*
 * Windows implementation of runtime/kz_fs.h. Windows has no openat2: a file is opened by its
 * full path (CreateFileW; directories with FILE_FLAG_BACKUP_SEMANTICS), then the path the
 * system actually opened (GetFinalPathNameByHandleW: symbolic links and junctions resolved) is
 * compared with the root's own final path, case-insensitively as NTFS names are; outside it
 * the handle is closed and KZ_STATUS_ESCAPE returned. Before that, a relative path is refused
 * when Windows would read it differently from the URL it came from: a backslash (a separator
 * here that the URL sanitizer did not see), ':' (drive letters and alternate data streams
 * such as "file::$DATA"), segments ending in '.' or ' ' (which Windows strips), and device
 * names (CON, NUL, COM1, ...), which open devices in any directory.
 */
#include "kz_win32.h"

#include "kz_fs.h"

#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <string.h>

#include <windows.h>

struct kz_root {
    const char *path;    /* as given, '/' separated, no trailing '/' */
    const wchar_t *real; /* final path of the root directory */
    apr_size_t real_len;
    apr_uint32_t id;
};

static apr_uint32_t last_root_id;

/* Whether name (len bytes, one path segment) is a DOS device name, with or without extension. */
static int is_device_name(const char *name, apr_size_t len)
{
    static const char *const devices[] = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", NULL};
    apr_size_t base = 0;

    while (base < len && name[base] != '.') {
        base++;
    }
    while (base > 0 && name[base - 1] == ' ') {
        base--;
    }
    for (int i = 0; devices[i]; i++) {
        if (base == strlen(devices[i]) && strncasecmp(name, devices[i], base) == 0) {
            return 1;
        }
    }
    return base == 4 && (strncasecmp(name, "COM", 3) == 0 || strncasecmp(name, "LPT", 3) == 0) &&
           name[3] >= '0' && name[3] <= '9';
}

/* Whether every segment of rel names a plain file the way the URL spelled it. */
static int rel_is_plain(const char *rel)
{
    const char *s = rel;

    if (strchr(rel, '\\') || strchr(rel, ':')) {
        return 0;
    }
    while (*s) {
        const char *end = strchr(s, '/');
        apr_size_t len = end ? (apr_size_t)(end - s) : strlen(s);

        if (len > 0 && (s[len - 1] == '.' || s[len - 1] == ' ' || is_device_name(s, len))) {
            return 0;
        }
        s += len;
        while (*s == '/') {
            s++;
        }
    }
    return 1;
}

/* The final path of an open handle, in p; NULL on failure. */
static wchar_t *final_path(HANDLE h, apr_pool_t *p)
{
    DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    wchar_t *buf;

    if (n == 0) {
        return NULL;
    }
    buf = apr_palloc(p, (n + 1) * sizeof(wchar_t));
    if (GetFinalPathNameByHandleW(h, buf, n + 1, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS) > n) {
        return NULL;
    }
    n = (DWORD)wcslen(buf);
    while (n > 0 && buf[n - 1] == L'\\') {
        buf[--n] = L'\0';
    }
    return buf;
}

/* Opens path (UTF-8) for reading, files and directories alike. */
static apr_status_t open_path(HANDLE *h, const char *path, apr_pool_t *p)
{
    wchar_t *w = kz_win32_wide(path, p);

    if (!w) {
        return APR_EINVAL;
    }
    for (wchar_t *c = w; *c; c++) {
        if (*c == L'/') {
            *c = L'\\';
        }
    }
    *h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                     OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    return *h == INVALID_HANDLE_VALUE ? apr_get_os_error() : APR_SUCCESS;
}

apr_status_t kz_root_open(kz_root_t **out, const char *path, apr_pool_t *p)
{
    kz_root_t *root = apr_pcalloc(p, sizeof(*root));
    apr_size_t len;
    char *canon;
    HANDLE h;
    apr_status_t rv;

    root->id = apr_atomic_inc32(&last_root_id) + 1;
    if ((rv = apr_filepath_merge(&canon, NULL, path, 0, p)) != APR_SUCCESS ||
        (rv = open_path(&h, canon, p)) != APR_SUCCESS) {
        return rv;
    }
    root->real = final_path(h, p);
    rv = root->real ? APR_SUCCESS : apr_get_os_error();
    CloseHandle(h);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    len = strlen(canon);
    while (len > 1 && canon[len - 1] == '/') {
        canon[--len] = '\0';
    }
    root->path = canon;
    root->real_len = wcslen(root->real);
    *out = root;
    return APR_SUCCESS;
}

apr_uint32_t kz_root_id(const kz_root_t *root)
{
    return root->id;
}

/* Whether the handle's final path lies under the root (the root itself included). */
static int within_root(kz_root_t *root, HANDLE h, apr_pool_t *p)
{
    wchar_t *real = final_path(h, p);

    if (!real || wcslen(real) < root->real_len ||
        CompareStringOrdinal(real, (int)root->real_len, root->real, (int)root->real_len, TRUE) !=
            CSTR_EQUAL) {
        return 0;
    }
    return real[root->real_len] == L'\0' || real[root->real_len] == L'\\';
}

/* Opens rel beneath the root under the containment rule; *h is the handle. */
static apr_status_t open_contained(HANDLE *h, kz_root_t *root, const char *rel, int allow_escape,
                                   apr_pool_t *p)
{
    apr_pool_t *tmp;
    apr_status_t rv;

    if (!rel_is_plain(rel)) {
        return APR_ENOENT;
    }
    apr_pool_create(&tmp, p);
    rv = open_path(h, *rel ? apr_pstrcat(tmp, root->path, "/", rel, NULL) : root->path, tmp);
    if (rv == APR_SUCCESS && !allow_escape && !within_root(root, *h, tmp)) {
        CloseHandle(*h);
        rv = KZ_STATUS_ESCAPE;
    }
    apr_pool_destroy(tmp);
    return rv;
}

static apr_status_t file_cleanup(void *data)
{
    return apr_file_close(data);
}

apr_status_t kz_root_open_file(apr_file_t **out, apr_finfo_t *finfo, kz_root_t *root,
                               const char *rel, int allow_escape, apr_pool_t *p)
{
    apr_file_t *file = NULL;
    HANDLE h;
    apr_status_t rv = open_contained(&h, root, rel, allow_escape, p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_os_file_put(&file, &h, APR_FOPEN_READ, p);
    if (rv != APR_SUCCESS) {
        CloseHandle(h);
        return rv;
    }
    apr_pool_cleanup_register(p, file, file_cleanup, apr_pool_cleanup_null);
    rv = apr_file_info_get(
        finfo, APR_FINFO_TYPE | APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_INODE | APR_FINFO_DEV,
        file);
    *out = file;
    return rv == APR_INCOMPLETE ? APR_SUCCESS : rv;
}

/* ---- directories ---------------------------------------------------------------------- */

struct kz_dir {
    apr_dir_t *d;
    kz_root_t *root;
    const char *rel; /* the directory, relative to the root, ending in '/' unless "" */
    int allow_escape;
    apr_pool_t *pool;
};

apr_status_t kz_root_open_dir(kz_dir_t **out, kz_root_t *root, const char *rel, int allow_escape,
                              apr_pool_t *p)
{
    kz_dir_t *dir = apr_pcalloc(p, sizeof(*dir));
    apr_size_t len = strlen(rel);
    BY_HANDLE_FILE_INFORMATION info;
    HANDLE h;
    apr_status_t rv = open_contained(&h, root, rel, allow_escape, p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!GetFileInformationByHandle(h, &info)) {
        rv = apr_get_os_error();
    } else if (!(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        rv = APR_ENOTDIR;
    }
    CloseHandle(h);
    /* apr_dir_open registers its own cleanup in p. */
    if (rv != APR_SUCCESS ||
        (rv = apr_dir_open(&dir->d, *rel ? apr_pstrcat(p, root->path, "/", rel, NULL) : root->path,
                           p)) != APR_SUCCESS) {
        return rv;
    }
    dir->root = root;
    dir->rel = len && rel[len - 1] != '/' ? apr_pstrcat(p, rel, "/", NULL) : rel;
    dir->allow_escape = allow_escape;
    dir->pool = p;
    *out = dir;
    return APR_SUCCESS;
}

apr_status_t kz_dir_read(const char **name, apr_filetype_e *type, kz_dir_t *dir)
{
    for (;;) {
        apr_finfo_t fi;
        apr_status_t rv = apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir->d);

        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            return APR_STATUS_IS_ENOENT(rv) ? APR_ENOENT : rv;
        }
        if (!fi.name || (fi.name[0] == '.' &&
                         (fi.name[1] == '\0' || (fi.name[1] == '.' && fi.name[2] == '\0')))) {
            continue;
        }
        *name = fi.name;
        *type = (fi.valid & APR_FINFO_TYPE) ? fi.filetype : APR_UNKFILE;
        return APR_SUCCESS;
    }
}

apr_status_t kz_dir_stat(apr_finfo_t *finfo, kz_dir_t *dir, const char *name)
{
    apr_pool_t *tmp;
    apr_file_t *file;
    apr_status_t rv;

    /* Links and junctions are followed as a file open would, under the same rule. */
    apr_pool_create(&tmp, dir->pool);
    rv = kz_root_open_file(&file, finfo, dir->root, apr_pstrcat(tmp, dir->rel, name, NULL),
                           dir->allow_escape, tmp);
    if (rv == APR_SUCCESS) {
        finfo->valid &= APR_FINFO_TYPE | APR_FINFO_SIZE | APR_FINFO_MTIME;
        finfo->pool = dir->pool;
        finfo->fname = NULL;
        finfo->name = NULL;
    }
    apr_pool_destroy(tmp);
    return rv;
}

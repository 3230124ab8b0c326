/*
 * GNU C library functions the portable code uses that mingw-w64's C runtime lacks (stpcpy;
 * it has mempcpy), supplied for the Windows build only (cmake/windows.cmake includes this
 * header in every file), so server/ needs no platform conditionals for them.
 */
#ifndef KZ_COMPAT_H
#define KZ_COMPAT_H

#include <string.h>

/** Copies src with its NUL to dst; returns the address of dst's terminating NUL. */
static inline char *stpcpy(char *dst, const char *src)
{
    size_t n = strlen(src);

    memcpy(dst, src, n + 1);
    return dst + n;
}

#endif

/*
 * Windows part of runtime/kz_listen.h's kz_socket_sendfile. APR's apr_socket_sendfile uses
 * TransmitFile and, on a non-blocking socket, waits 0 ms for it: the transfer the kernel has
 * started is reported as not done and sent again later, corrupting the stream. So the file is
 * read at the offset (ReadFile with an OVERLAPPED offset: no shared file position, the cached
 * handle may serve other requests) and sent with a plain non-blocking send; what the socket did
 * not take is read again next time.
 */
#include "kz_listen.h"

#include <apr_portable.h>

#include <windows.h>

#define KZ_SENDFILE_CHUNK 65536

apr_status_t kz_socket_sendfile(apr_socket_t *sock, apr_file_t *file, apr_off_t *off,
                                apr_size_t *len)
{
    char buf[KZ_SENDFILE_CHUNK];
    OVERLAPPED at = {0};
    apr_os_file_t h;
    DWORD got = 0;
    apr_size_t n;

    apr_os_file_get(&h, file);
    at.Offset = (DWORD)(*off & 0xFFFFFFFF);
    at.OffsetHigh = (DWORD)((apr_uint64_t)*off >> 32);
    if (!ReadFile(h, buf, (DWORD)(*len < sizeof(buf) ? *len : sizeof(buf)), &got, &at)) {
        DWORD err = GetLastError();
        /* A handle opened for overlapped I/O elsewhere: wait for this read. */
        if (err == ERROR_IO_PENDING && GetOverlappedResult(h, &at, &got, TRUE)) {
            err = NO_ERROR;
        } else if (err == ERROR_IO_PENDING) {
            err = GetLastError();
        }
        if (err != NO_ERROR && err != ERROR_HANDLE_EOF) {
            *len = 0;
            return APR_FROM_OS_ERROR(err);
        }
    }
    n = got;
    if (n == 0) {
        *len = 0;
        return APR_SUCCESS; /* end of file: the caller sees the file shrank */
    }
    apr_status_t rv = apr_socket_send(sock, buf, &n);
    *len = n;
    return rv;
}

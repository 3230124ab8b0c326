/*
 * libFuzzer target for the request-head path of the server: scan, parse and check a head, then
 * decode whatever follows it as a chunked body, and sanitize the target's path. Any crash,
 * sanitizer report or leak is a bug. Build and run with test/fuzz/run.sh.
 */
#include "http_parse.h"
#include "url.h"

#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static apr_pool_t *pool;
    kz_http_limits_t lim = {8192, 8192, 16384, 100};
    kz_http_scan_t scan = {0};
    kz_http_field_t fields[100];
    kz_http_head_t head;
    kz_http_info_t info;
    apr_size_t head_len = 0, consumed, out;
    kz_chunked_t chunked = {0};
    const char *path;
    char *buf;

    if (!pool) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    buf = malloc(size + 1);
    memcpy(buf, data, size);
    if (kz_http_scan_head(&scan, buf, size, &lim, &head_len) == KZ_PARSE_OK &&
        kz_http_parse_head(&head, buf, head_len, fields, 100) == KZ_PARSE_OK) {
        kz_http_analyze(&info, &head);
        if (head.target[0] == '/') {
            const char *q = strchr(head.target, '?');
            kz_url_sanitize(&path, head.target, q ? (size_t)(q - head.target) : head.target_len, 0,
                            pool);
        }
        kz_chunked_decode(&chunked, buf + head_len, size - head_len, &consumed, &out);
    }
    apr_pool_clear(pool);
    free(buf);
    return 0;
}

/*
 * runtime/kz_net.h: numeric addresses through the system's parser and printer (unix/net.c,
 * win32/net.c give kz_net_pton/kz_net_ntop), with the strictness and the RFC 5952 output made
 * the same on every system.
 */
#include "kz_net.h"

#include <stdio.h>
#include <string.h>

/* Characters of a numeric address; anything else (brackets, "%zone", spaces, NUL) is refused
 * before the system parser, whatever extensions a C library accepts. */
#define KZ_IP_CHARS "0123456789abcdefABCDEF:."

static const unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int kz_ip_is_v4_mapped(const unsigned char addr[16])
{
    return memcmp(addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0;
}

/*
 * A dotted part with a leading zero ("010"): glibc refuses it, POSIX.1-2024 and other systems
 * read it as decimal, inet_aton as octal. Refused here, so it never means two addresses.
 */
static int has_leading_zero(const char *s)
{
    for (const char *p = s;;) {
        apr_size_t n = strcspn(p, ".:");
        int dotted = (p > s && p[-1] == '.') || p[n] == '.';

        if (dotted && n > 1 && p[0] == '0') {
            return 1;
        }
        if (!p[n]) {
            return 0;
        }
        p += n + 1;
    }
}

int kz_ip_parse(const char *text, apr_size_t len, unsigned char out[16], int *is_v4)
{
    char buf[KZ_IP_TEXT_SIZE];
    unsigned char a[16];
    int v4;

    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (strspn(buf, KZ_IP_CHARS) != len || has_leading_zero(buf)) {
        return 0;
    }
    v4 = strchr(buf, ':') == NULL;
    memcpy(a, v4_mapped_prefix, sizeof(v4_mapped_prefix));
    if (kz_net_pton(v4, buf, v4 ? a + 12 : a) != 1) {
        return 0;
    }
    memcpy(out, a, sizeof(a));
    if (is_v4) {
        *is_v4 = v4;
    }
    return 1;
}

/*
 * glibc and the BSDs write some addresses whose first 96 bits are zero with a dotted tail
 * ("::0.2.0.3" for ::2:3, "::255.255.0.0" for ::ffff:0, some BSDs also "::0.0.1.2" for ::102), a
 * habit from the deprecated IPv4-compatible form (RFC 4291 §2.5.5.1); other systems do the same
 * for ISATAP or translated forms. RFC 5952 §5 keeps dotted tails for well-known prefixes, and
 * here only the IPv4-mapped one, so any other tail becomes the hex groups it stands for. The
 * zero run inet_ntop compressed (in the groups before the tail) stays the longest; when it ends
 * right before the tail, it takes in a zero group 6 (and 7).
 */
static apr_size_t undot_tail(char *text, apr_size_t size, const unsigned char a[16])
{
    char *colon = strrchr(text, ':');
    unsigned w6 = (unsigned)a[12] << 8 | a[13], w7 = (unsigned)a[14] << 8 | a[15];
    apr_size_t head;
    int n;

    if (!strchr(text, '.') || kz_ip_is_v4_mapped(a) || !colon) {
        return strlen(text);
    }
    head = (apr_size_t)(colon + 1 - text);
    if (w6 == 0 && head >= 2 && text[head - 2] == ':') {
        /* the compressed run ends right before the tail: group 6 (and a zero 7) join it */
        text[head] = '\0';
        n = w7 ? snprintf(text + head, size - head, "%x", w7) : 0;
    } else {
        n = snprintf(text + head, size - head, "%x:%x", w6, w7);
    }
    return n < 0 ? 0 : head + (apr_size_t)n;
}

apr_size_t kz_ip_format(char *out, apr_size_t size, const unsigned char addr[16], int is_v4)
{
    char buf[KZ_IP_TEXT_SIZE];
    apr_size_t n;

    if (size > 0) {
        out[0] = '\0';
    }
    if (is_v4 && !kz_ip_is_v4_mapped(addr)) {
        return 0;
    }
    if (!kz_net_ntop(is_v4, is_v4 ? addr + 12 : addr, buf, sizeof(buf))) {
        return 0;
    }
    n = is_v4 ? strlen(buf) : undot_tail(buf, sizeof(buf), addr);
    if (n == 0 || n >= size) {
        return 0;
    }
    memcpy(out, buf, n + 1);
    return n;
}

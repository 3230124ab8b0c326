/*
 * Tests of unix/net.c (runtime/kz_net.h): strict numeric IPv4/IPv6 parsing through inet_pton
 * (RFC 4291 §2.2) and canonical text through inet_ntop (RFC 5952 §4, §5), including the inputs
 * where the C library alone would differ from the API (leading zeros, dotted tails).
 */
#include "kz_net.h"
#include "kz_test.h"

#include <stdio.h>
#include <string.h>

typedef struct net_row {
    const char *label;
    const char *text;
    int ok, v4;
    const char *canonical; /* kz_ip_format(addr, v4) of the parsed address */
} net_row_t;

static const net_row_t rows[] = {
    {"IPv4", "192.0.2.1", 1, 1, "192.0.2.1"},
    {"IPv4 zeros", "0.0.0.0", 1, 1, "0.0.0.0"},
    {"IPv4 top", "255.255.255.255", 1, 1, "255.255.255.255"},
    {"IPv6 unspecified", "::", 1, 0, "::"},
    {"IPv6 loopback", "::1", 1, 0, "::1"},
    {"IPv6 uppercase, uncompressed", "2001:DB8:0:0:0:0:0:1", 1, 0, "2001:db8::1"},
    {"IPv6 leading zeros in groups", "2001:0db8:0000:0000:0000:0000:0000:0001", 1, 0,
     "2001:db8::1"},
    {"IPv6 single zero group not compressed", "2001:db8:0:1:1:1:1:1", 1, 0, "2001:db8:0:1:1:1:1:1"},
    {"IPv6 longest run compressed", "1:0:0:2:0:0:0:3", 1, 0, "1:0:0:2::3"},
    {"IPv6 first of equal runs", "1:0:0:2:0:0:3:4", 1, 0, "1::2:0:0:3:4"},
    {"IPv6 :: for one trailing group", "1:2:3:4:5:6:7::", 1, 0, "1:2:3:4:5:6:7:0"},
    {"IPv6 :: for one leading group", "::2:3:4:5:6:7:8", 1, 0, "0:2:3:4:5:6:7:8"},
    {"mapped, dotted", "::ffff:192.0.2.1", 1, 0, "::ffff:192.0.2.1"},
    {"mapped, hex and uppercase", "::FFFF:C000:0201", 1, 0, "::ffff:192.0.2.1"},
    {"mapped, uncompressed", "0:0:0:0:0:ffff:c000:201", 1, 0, "::ffff:192.0.2.1"},
    {"IPv4-compatible in hex (glibc writes ::1.2.3.4)", "::1.2.3.4", 1, 0, "::102:304"},
    {"zero prefix, two groups (glibc writes ::0.2.0.3)", "::2:3", 1, 0, "::2:3"},
    {"::ffff:0 is not mapped (glibc writes ::255.255.0.0)", "::ffff:0", 1, 0, "::ffff:0"},
    {"zero prefix, one group", "::2", 1, 0, "::2"},
    {"translated form in hex", "::ffff:0:1.2.3.4", 1, 0, "::ffff:0:102:304"},
    {"ISATAP form in hex", "fe80::5efe:1.2.3.4", 1, 0, "fe80::5efe:102:304"},
    {"NAT64 prefix with dotted tail", "64:ff9b::192.0.2.33", 1, 0, "64:ff9b::c000:221"},
    {"eight groups ending dotted", "1:2:3:4:5:6:7.8.9.10", 1, 0, "1:2:3:4:5:6:708:90a"},
    {"longest text (45 bytes)", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 1, 0,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    {"empty", "", 0, 0, NULL},
    {"three parts", "1.2.3", 0, 0, NULL},
    {"five parts", "1.2.3.4.5", 0, 0, NULL},
    {"part over 255", "256.1.1.1", 0, 0, NULL},
    {"leading zero (glibc refuses; octal for inet_aton)", "01.2.3.4", 0, 0, NULL},
    {"leading zero, last part", "1.2.3.04", 0, 0, NULL},
    {"double zero part", "00.1.2.3", 0, 0, NULL},
    {"leading zero in a dotted IPv6 tail", "::ffff:01.2.3.4", 0, 0, NULL},
    {"hex IPv4 part", "0x1.2.3.4", 0, 0, NULL},
    {"four digits", "1.2.3.1234", 0, 0, NULL},
    {"empty part", "1..2.3", 0, 0, NULL},
    {"leading space", " 1.2.3.4", 0, 0, NULL},
    {"trailing space", "1.2.3.4 ", 0, 0, NULL},
    {"IPv4 with port", "1.2.3.4:80", 0, 0, NULL},
    {"three colons", ":::", 0, 0, NULL},
    {"two ::", "1::2::3", 0, 0, NULL},
    {"nine groups", "1:2:3:4:5:6:7:8:9", 0, 0, NULL},
    {"seven groups", "1:2:3:4:5:6:7", 0, 0, NULL},
    {"eight groups and ::", "1:2:3:4:5:6:7:8::", 0, 0, NULL},
    {"five hex digits", "12345::", 0, 0, NULL},
    {"not hex", "::g", 0, 0, NULL},
    {"single leading colon", ":1::", 0, 0, NULL},
    {"trailing colon", "1:2:3:4:5:6:7:8:", 0, 0, NULL},
    {"IPv4 before ::", "1.2.3.4::", 0, 0, NULL},
    {"dotted tail not last", "::1.2.3.4:5", 0, 0, NULL},
    {"dotted tail with nine groups", "1:2:3:4:5:6:7:1.2.3.4", 0, 0, NULL},
    {"short dotted tail", "::1.2.3", 0, 0, NULL},
    {"zone id by name", "fe80::1%eth0", 0, 0, NULL},
    {"zone id by number", "fe80::1%1", 0, 0, NULL},
    {"brackets", "[::1]", 0, 0, NULL},
    {"host name", "localhost", 0, 0, NULL},
    {"too long (46 bytes)", "0000:0000:0000:0000:0000:0000:000.000.000.0001", 0, 0, NULL},
};

static void check_row(const net_row_t *row)
{
    unsigned char addr[16];
    char out[KZ_IP_TEXT_SIZE] = "";
    int v4 = -1, ok = kz_ip_parse(row->text, strlen(row->text), addr, &v4);
    apr_size_t n = ok ? kz_ip_format(out, sizeof(out), addr, v4) : 0;

    if (ok != row->ok || (ok && (v4 != row->v4 || strcmp(out, row->canonical)))) {
        fprintf(stderr, "\n  %s: '%s' → %d v4=%d '%s'\n", row->label, row->text, ok, v4, out);
    }
    CU_ASSERT_EQUAL(ok, row->ok);
    if (ok && row->ok) {
        CU_ASSERT_EQUAL(v4, row->v4);
        CU_ASSERT_STRING_EQUAL(out, row->canonical);
        CU_ASSERT_EQUAL(n, strlen(row->canonical));
    }
}

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        check_row(&rows[i]);
    }
}

/* The canonical text parses back to the same bytes. */
static void test_round_trip(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned char a[16], b[16];
        char out[KZ_IP_TEXT_SIZE];
        int v4, v4b;

        if (!rows[i].ok) {
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(kz_ip_parse(rows[i].text, strlen(rows[i].text), a, &v4), 1);
        CU_ASSERT_NOT_EQUAL_FATAL(kz_ip_format(out, sizeof(out), a, v4), 0);
        CU_ASSERT_EQUAL(kz_ip_parse(out, strlen(out), b, &v4b), 1);
        CU_ASSERT_EQUAL(memcmp(a, b, 16), 0);
        CU_ASSERT_EQUAL(v4, v4b);
    }
}

/* An IPv4 address and its mapped spelling give the same bytes; only is_v4 tells them apart. */
static void test_bytes(void)
{
    static const unsigned char mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                             0, 0, 0xff, 0xff, 192, 0, 2, 1};
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 1};
    unsigned char a[16];
    int v4 = -1;

    CU_ASSERT_EQUAL(kz_ip_parse("192.0.2.1", 9, a, &v4), 1);
    CU_ASSERT_EQUAL(memcmp(a, mapped, 16), 0);
    CU_ASSERT_EQUAL(v4, 1);
    CU_ASSERT_EQUAL(kz_ip_is_v4_mapped(a), 1);
    CU_ASSERT_EQUAL(kz_ip_parse("::ffff:192.0.2.1", 16, a, &v4), 1);
    CU_ASSERT_EQUAL(memcmp(a, mapped, 16), 0);
    CU_ASSERT_EQUAL(v4, 0);
    CU_ASSERT_EQUAL(kz_ip_parse("2001:db8::1", 11, a, NULL), 1);
    CU_ASSERT_EQUAL(memcmp(a, v6, 16), 0);
    CU_ASSERT_EQUAL(kz_ip_is_v4_mapped(a), 0);
    /* a refused text leaves out alone */
    CU_ASSERT_EQUAL(kz_ip_parse("1.2.3", 5, a, &v4), 0);
    CU_ASSERT_EQUAL(memcmp(a, v6, 16), 0);
}

/* Only len bytes are read; an embedded NUL or a length over 45 is refused. */
static void test_length(void)
{
    static const char longest[] = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
    char text[64];
    unsigned char a[16];
    int v4;

    CU_ASSERT_EQUAL(kz_ip_parse("10.0.0.1,10.0.0.2", 8, a, &v4), 1);
    CU_ASSERT_EQUAL(a[15], 1);
    CU_ASSERT_EQUAL(kz_ip_parse("10.0.0.1,10.0.0.2", 7, a, &v4), 0);
    CU_ASSERT_EQUAL(kz_ip_parse("::1 junk", 3, a, &v4), 1);
    CU_ASSERT_EQUAL(kz_ip_parse("1.2.3.4\0", 8, a, &v4), 0);
    CU_ASSERT_EQUAL(kz_ip_parse("::1\0:2", 6, a, &v4), 0);
    CU_ASSERT_EQUAL(kz_ip_parse("1.2\0.3.4", 8, a, &v4), 0);
    CU_ASSERT_EQUAL(kz_ip_parse("1.2.3.4", 0, a, &v4), 0);
    snprintf(text, sizeof(text), "%s,", longest);
    CU_ASSERT_EQUAL(kz_ip_parse(text, 45, a, &v4), 1);
    CU_ASSERT_EQUAL(kz_ip_parse(text, 46, a, &v4), 0);
    memset(text, '1', sizeof(text));
    CU_ASSERT_EQUAL(kz_ip_parse(text, sizeof(text), a, &v4), 0);
}

/* Output bounds: the exact size needed, one byte less, and is_v4 for an unmapped address. */
static void test_format_bounds(void)
{
    unsigned char a[16];
    char out[KZ_IP_TEXT_SIZE];

    CU_ASSERT_EQUAL_FATAL(kz_ip_parse("::ffff:198.51.100.7", 19, a, NULL), 1);
    CU_ASSERT_EQUAL(kz_ip_format(out, 13, a, 1), 12);
    CU_ASSERT_STRING_EQUAL(out, "198.51.100.7");
    CU_ASSERT_EQUAL(kz_ip_format(out, 12, a, 1), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(kz_ip_format(out, 20, a, 0), 19);
    CU_ASSERT_STRING_EQUAL(out, "::ffff:198.51.100.7");
    CU_ASSERT_EQUAL(kz_ip_format(out, 0, a, 0), 0);

    CU_ASSERT_EQUAL_FATAL(kz_ip_parse("2001:db8::1", 11, a, NULL), 1);
    CU_ASSERT_EQUAL(kz_ip_format(out, sizeof(out), a, 1), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(kz_ip_format(out, 11, a, 0), 0);
    CU_ASSERT_EQUAL(kz_ip_format(out, 12, a, 0), 11);
    CU_ASSERT_STRING_EQUAL(out, "2001:db8::1");

    CU_ASSERT_EQUAL_FATAL(kz_ip_parse("::2:3", 5, a, NULL), 1);
    CU_ASSERT_EQUAL(kz_ip_format(out, 5, a, 0), 0);
    CU_ASSERT_EQUAL(kz_ip_format(out, 6, a, 0), 5);
    CU_ASSERT_STRING_EQUAL(out, "::2:3");
}

static const kz_test_case_t cases[] = {
    {"parse and canonical rows", test_rows}, {"canonical text round trip", test_round_trip},
    {"bytes and IPv4-mapped", test_bytes},   {"length-bounded input", test_length},
    {"format bounds", test_format_bounds},   {NULL, NULL},
};

KZ_TEST_SUITE(net, cases)

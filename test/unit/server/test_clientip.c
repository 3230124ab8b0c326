/*
 * Tests of server/clientip.c: strict IPv4 / IPv6 parsing with canonical output (RFC 4291 §2.2,
 * RFC 5952 §4), and the client address an X-Forwarded-For value gives (enableIPSpoofing).
 */
#include "rewrite.h"
#include "kz_test.h"

#include <string.h>

typedef struct ip_row {
    const char *label;
    const char *text;
    const char *canonical; /* NULL: not an address */
} ip_row_t;

static const ip_row_t ip_rows[] = {
    {"IPv4", "192.0.2.1", "192.0.2.1"},
    {"IPv4 zeros", "0.0.0.0", "0.0.0.0"},
    {"IPv4 top", "255.255.255.255", "255.255.255.255"},
    {"IPv6 loopback", "::1", "::1"},
    {"IPv6 unspecified", "::", "::"},
    {"IPv6 uppercase", "2001:DB8::1", "2001:db8::1"},
    {"IPv6 full form", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
    {"IPv6 single zero group kept", "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
    {"IPv6 longest run compressed", "1:0:0:2:0:0:0:3", "1:0:0:2::3"},
    {"IPv6 first of equal runs", "1:0:0:2:0:0:3:4", "1::2:0:0:3:4"},
    {"IPv6 :: for one trailing group", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
    {"IPv6 leading ::", "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
    {"IPv6 link-local", "fe80::1:2:3:4", "fe80::1:2:3:4"},
    {"IPv4-mapped as IPv4", "::ffff:192.0.2.1", "192.0.2.1"},
    {"IPv4-mapped in hex", "::FFFF:c000:0201", "192.0.2.1"},
    {"IPv4-compatible tail", "::1.2.3.4", "::102:304"},
    {"IPv6 with IPv4 tail", "64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
    {"empty", "", NULL},
    {"three parts", "1.2.3", NULL},
    {"five parts", "1.2.3.4.5", NULL},
    {"part over 255", "256.1.1.1", NULL},
    {"leading zero (octal elsewhere)", "01.2.3.4", NULL},
    {"four digits", "1.2.3.1234", NULL},
    {"trailing space", "1.2.3.4 ", NULL},
    {"leading space", " 1.2.3.4", NULL},
    {"empty part", "1..2.3", NULL},
    {"letters", "a.b.c.d", NULL},
    {"two ::", "1::2::3", NULL},
    {"trailing :: twice", "::1::", NULL},
    {"nine groups", "1:2:3:4:5:6:7:8:9", NULL},
    {"seven groups", "1:2:3:4:5:6:7", NULL},
    {"eight groups and ::", "1:2:3:4:5:6:7:8::", NULL},
    {"five hex digits", "12345::", NULL},
    {"brackets", "[::1]", NULL},
    {"zone", "fe80::1%eth0", NULL},
    {"IPv4 before ::", "1.2.3.4::", NULL},
    {"port after IPv4 tail", "::1.2.3.4:5", NULL},
    {"single leading colon", ":1::", NULL},
    {"trailing colon", "1:2:3:4:5:6:7:8:", NULL},
    {"not hex", "::g", NULL},
    {"name", "localhost", NULL},
    {"IPv4 with port", "1.2.3.4:80", NULL},
};

static void test_ip_canonical(void)
{
    for (size_t i = 0; i < sizeof(ip_rows) / sizeof(ip_rows[0]); i++) {
        const ip_row_t *row = &ip_rows[i];
        char out[46] = "";
        int ok = kz_ip_canonical(out, row->text, strlen(row->text));

        if (ok != (row->canonical != NULL) || (ok && strcmp(out, row->canonical))) {
            fprintf(stderr, "\n  %s: %s → %d %s\n", row->label, row->text, ok, out);
        }
        CU_ASSERT_EQUAL(ok, row->canonical != NULL);
        if (ok && row->canonical) {
            CU_ASSERT_STRING_EQUAL(out, row->canonical);
        }
    }
}

/* Only len bytes are read: the text need not end there. */
static void test_ip_canonical_len(void)
{
    char out[46];

    CU_ASSERT_EQUAL(kz_ip_canonical(out, "10.0.0.1,10.0.0.2", 8), 1);
    CU_ASSERT_STRING_EQUAL(out, "10.0.0.1");
    CU_ASSERT_EQUAL(kz_ip_canonical(out, "::1 junk", 3), 1);
    CU_ASSERT_STRING_EQUAL(out, "::1");
    CU_ASSERT_EQUAL(kz_ip_canonical(out, "10.0.0.1", 7), 0);
}

static const ip_row_t xff_rows[] = {
    {"one address", "203.0.113.7", "203.0.113.7"},
    {"first of a list, trimmed", " 203.0.113.7 , 10.0.0.1", "203.0.113.7"},
    {"tab trimmed", "\t198.51.100.1\t,x", "198.51.100.1"},
    {"IPv6 canonical", "2001:DB8:0:0::7, 192.0.2.1", "2001:db8::7"},
    {"IPv4-mapped", "::ffff:192.0.2.9", "192.0.2.9"},
    {"later elements not checked", "192.0.2.1, unknown", "192.0.2.1"},
    {"empty value", "", NULL},
    {"spaces only", "   ", NULL},
    {"empty first element", ", 192.0.2.1", NULL},
    {"obfuscated identifier (RFC 7239 style)", "unknown", NULL},
    {"with a port", "192.0.2.1:8080", NULL},
    {"bracketed IPv6", "[2001:db8::1]", NULL},
    {"two words", "192.0.2.1 192.0.2.2", NULL},
    {"semicolon", "192.0.2.1;x", NULL},
    {"host name", "proxy.example", NULL},
};

static void test_forwarded_for(void)
{
    for (size_t i = 0; i < sizeof(xff_rows) / sizeof(xff_rows[0]); i++) {
        const ip_row_t *row = &xff_rows[i];
        const char *got = kz_forwarded_for(row->text, kz_test_pool);

        if (row->canonical ? !got || strcmp(got, row->canonical) : got != NULL) {
            fprintf(stderr, "\n  %s: got %s\n", row->label, got ? got : "(NULL)");
        }
        if (row->canonical) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            CU_ASSERT_STRING_EQUAL(got, row->canonical);
        } else {
            CU_ASSERT_PTR_NULL(got);
        }
    }
}

static const kz_test_case_t cases[] = {
    {"canonical addresses", test_ip_canonical},
    {"length-bounded parsing", test_ip_canonical_len},
    {"X-Forwarded-For", test_forwarded_for},
    {NULL, NULL},
};

KZ_TEST_SUITE(clientip, cases)

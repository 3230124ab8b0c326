/*
 * Tests of server/ipset.c: parsing of IPv4/IPv6 addresses and CIDR ranges, matching, IPv4-mapped
 * IPv6 addresses matched as IPv4, edge prefixes (/0, /32, /128) and refused input.
 */
#include "kz_test.h"

#include "ipset.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *entries[4]; /* NULL-terminated */
    const char *ip;
    int expect;
    const char *why;
} match_case_t;

static const match_case_t match_cases[] = {
    {{"192.168.1.10", NULL}, "192.168.1.10", 1, "v4 exact"},
    {{"192.168.1.10", NULL}, "192.168.1.11", 0, "v4 exact, other address"},
    {{"10.0.0.0/8", NULL}, "10.255.3.4", 1, "v4 /8 inside"},
    {{"10.0.0.0/8", NULL}, "11.0.0.0", 0, "v4 /8 outside"},
    {{"10.0.0.0/8", NULL}, "9.255.255.255", 0, "v4 /8 just below"},
    {{"172.16.0.0/12", NULL}, "172.31.255.255", 1, "v4 /12 last address"},
    {{"172.16.0.0/12", NULL}, "172.32.0.0", 0, "v4 /12 just above"},
    {{"192.168.1.7/32", NULL}, "192.168.1.7", 1, "v4 /32 is one address"},
    {{"192.168.1.7/32", NULL}, "192.168.1.6", 0, "v4 /32 neighbour"},
    {{"10.1.2.3/8", NULL}, "10.200.0.1", 1, "host bits below the prefix are ignored"},
    {{"0.0.0.0/0", NULL}, "203.0.113.9", 1, "v4 /0 matches every IPv4"},
    {{"0.0.0.0/0", NULL}, "2001:db8::1", 0, "v4 /0 does not match IPv6"},
    {{"0.0.0.0/0", NULL}, "::ffff:198.51.100.1", 1, "v4 /0 matches a mapped address"},
    {{"::/0", NULL}, "2001:db8::1", 1, "v6 /0 matches every IPv6"},
    {{"::/0", NULL}, "127.0.0.1", 1, "v6 /0 covers IPv4 too (mapped space)"},
    {{"2001:db8::/32", NULL}, "2001:db8:ffff::1", 1, "v6 /32 inside"},
    {{"2001:db8::/32", NULL}, "2001:db9::1", 0, "v6 /32 outside"},
    {{"2001:db8::/64", NULL}, "2001:db8::ffff:1", 1, "v6 /64 inside (prefix on a word edge)"},
    {{"2001:db8::/64", NULL}, "2001:db8:0:1::", 0, "v6 /64 outside"},
    {{"2001:db8::/65", NULL}, "2001:db8::7fff:0:0:1", 1, "v6 /65 inside"},
    {{"2001:db8::/65", NULL}, "2001:db8::8000:0:0:1", 0, "v6 /65 outside"},
    {{"::1/128", NULL}, "::1", 1, "v6 /128 exact"},
    {{"::1/128", NULL}, "::2", 0, "v6 /128 neighbour"},
    {{"2001:DB8::A", NULL}, "2001:db8:0:0:0:0:0:a", 1, "v6 case and zero compression"},
    {{"[2001:db8::1]", NULL}, "2001:db8::1", 1, "brackets around v6"},
    {{"[2001:db8::]/48", NULL}, "2001:db8:0:5::1", 1, "brackets with a prefix"},
    {{"fe80::/10", NULL}, "fe80::1%eth0", 1, "a peer's zone index is ignored"},
    {{"192.0.2.1", NULL}, "::ffff:192.0.2.1", 1, "mapped peer matches an IPv4 entry"},
    {{"::ffff:192.0.2.1", NULL}, "192.0.2.1", 1, "mapped entry matches an IPv4 peer"},
    {{"::ffff:c000:201", NULL}, "192.0.2.1", 1, "mapped entry in hex groups"},
    {{"::ffff:192.0.2.0/120", NULL}, "192.0.2.77", 1, "mapped range in v6 bits"},
    {{"192.0.2.0/24", NULL}, "::192.0.2.1", 0, "IPv4-compatible (not mapped) is IPv6"},
    {{"1:2:3:4:5:6:7.8.9.10", NULL}, "1:2:3:4:5:6:708:90a", 1, "v6 ending in dotted IPv4"},
    {{"10.0.0.0/8", "192.168.0.0/16", "::1", NULL}, "192.168.4.4", 1, "several prefixes"},
    {{"10.0.0.0/8", "192.168.0.0/16", "::1", NULL}, "::1", 1, "several prefixes, v6"},
    {{"10.0.0.0/8", "192.168.0.0/16", "::1", NULL}, "172.16.0.1", 0, "several, none"},
    {{"10.0.0.0/8", NULL}, "10.0.0", 0, "an invalid peer never matches"},
    {{"::/0", NULL}, "", 0, "an empty peer never matches"},
    {{"0.0.0.0/0", NULL}, "010.0.0.1", 0, "a leading zero is refused"},
    {{NULL}, "127.0.0.1", 0, "an empty set"},
};

static void test_match(void)
{
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(*match_cases); i++) {
        const match_case_t *c = &match_cases[i];
        kz_ipset_t *set = kz_ipset_make(kz_test_pool);
        int got;

        for (int k = 0; c->entries[k]; k++) {
            const char *err = kz_ipset_add(set, c->entries[k], kz_test_pool);
            if (err) {
                fprintf(stderr, "\n  %s: add %s: %s\n", c->why, c->entries[k], err);
            }
            CU_ASSERT_PTR_NULL(err);
        }
        got = kz_ipset_contains(set, c->ip);
        if (got != c->expect) {
            fprintf(stderr, "\n  %s: %s → %d, expected %d\n", c->why, c->ip, got, c->expect);
        }
        CU_ASSERT_EQUAL(got, c->expect);
    }
}

static const struct {
    const char *text;
    const char *expect; /* the message, or NULL when valid */
} check_cases[] = {
    {"127.0.0.1", NULL},
    {"0.0.0.0/0", NULL},
    {"255.255.255.255/32", NULL},
    {"::", NULL},
    {"::/0", NULL},
    {"::1/128", NULL},
    {"[::1]", NULL},
    {"1:2:3:4:5:6:7:8", NULL},
    {"1::", NULL},
    {"", "invalid IP address ''"},
    {"localhost", "invalid IP address 'localhost'"},
    {"1.2.3", "invalid IP address '1.2.3'"},
    {"1.2.3.4.5", "invalid IP address '1.2.3.4.5'"},
    {"256.1.1.1", "invalid IP address '256.1.1.1'"},
    {"1.2.3.04", "invalid IP address '1.2.3.04'"},
    {" 1.2.3.4", "invalid IP address ' 1.2.3.4'"},
    {"1.2.3.4 ", "invalid IP address '1.2.3.4 '"},
    {"[1.2.3.4]", "invalid IP address '[1.2.3.4]'"},
    {"1.2.3.4/33", "invalid prefix length in '1.2.3.4/33' (0 to 32)"},
    {"1.2.3.4/", "invalid prefix length in '1.2.3.4/' (0 to 32)"},
    {"1.2.3.4/08", "invalid prefix length in '1.2.3.4/08' (0 to 32)"},
    {"1.2.3.4/-1", "invalid prefix length in '1.2.3.4/-1' (0 to 32)"},
    {"1.2.3.4/8/8", "invalid prefix length in '1.2.3.4/8/8' (0 to 32)"},
    {"::1/129", "invalid prefix length in '::1/129' (0 to 128)"},
    {"::1/1000", "invalid prefix length in '::1/1000' (0 to 128)"},
    {"1:2:3:4:5:6:7:8:9", "invalid IP address '1:2:3:4:5:6:7:8:9'"},
    {"1:2:3:4:5:6:7", "invalid IP address '1:2:3:4:5:6:7'"},
    {"1::2::3", "invalid IP address '1::2::3'"},
    {":1::", "invalid IP address ':1::'"},
    {"1:", "invalid IP address '1:'"},
    {"12345::", "invalid IP address '12345::'"},
    {"g::1", "invalid IP address 'g::1'"},
    {"1:2:3:4:5:6:7:1.2.3.4", "invalid IP address '1:2:3:4:5:6:7:1.2.3.4'"},
    {"::1.2.3.4:5", "invalid IP address '::1.2.3.4:5'"},
    {"fe80::1%eth0", "invalid IP address 'fe80::1%eth0'"},
};

static void test_check(void)
{
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(*check_cases); i++) {
        const char *got = kz_ipset_check(check_cases[i].text, kz_test_pool);

        if (check_cases[i].expect == NULL) {
            if (got) {
                fprintf(stderr, "\n  '%s': unexpected error %s\n", check_cases[i].text, got);
            }
            CU_ASSERT_PTR_NULL(got);
        } else {
            CU_ASSERT_PTR_NOT_NULL_FATAL(got);
            if (strcmp(got, check_cases[i].expect) != 0) {
                fprintf(stderr, "\n  '%s': got %s\n", check_cases[i].text, got);
            }
            CU_ASSERT_STRING_EQUAL(got, check_cases[i].expect);
        }
    }
}

/* A refused entry leaves the set as it was; duplicates (even written differently) count once. */
static void test_add_and_count(void)
{
    kz_ipset_t *set = kz_ipset_make(kz_test_pool);

    CU_ASSERT_EQUAL(kz_ipset_count(set), 0);
    CU_ASSERT_PTR_NULL(kz_ipset_add(set, "10.0.0.0/8", kz_test_pool));
    CU_ASSERT_PTR_NULL(kz_ipset_add(set, "10.9.9.9/8", kz_test_pool));
    CU_ASSERT_PTR_NULL(kz_ipset_add(set, "::ffff:10.0.0.0/104", kz_test_pool));
    CU_ASSERT_EQUAL(kz_ipset_count(set), 1);
    CU_ASSERT_PTR_NOT_NULL(kz_ipset_add(set, "10.0.0.0/99", kz_test_pool));
    CU_ASSERT_EQUAL(kz_ipset_count(set), 1);
    CU_ASSERT_PTR_NULL(kz_ipset_add(set, "2001:db8::1", kz_test_pool));
    CU_ASSERT_EQUAL(kz_ipset_count(set), 2);
    CU_ASSERT_EQUAL(kz_ipset_contains(set, "10.1.1.1"), 1);
    CU_ASSERT_EQUAL(kz_ipset_contains(set, "2001:db8::1"), 1);
    CU_ASSERT_EQUAL(kz_ipset_contains(set, NULL), 0);
    CU_ASSERT_EQUAL(kz_ipset_count(NULL), 0);
    CU_ASSERT_EQUAL(kz_ipset_contains(NULL, "10.1.1.1"), 0);
}

/* Many entries of one prefix length make the table grow; every one must still be found. */
static void test_many(void)
{
    kz_ipset_t *set = kz_ipset_make(kz_test_pool);
    char ip[64];

    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 256, i % 256);
        CU_ASSERT_PTR_NULL_FATAL(kz_ipset_add(set, ip, kz_test_pool));
        snprintf(ip, sizeof(ip), "2001:db8:%x::/48", i);
        CU_ASSERT_PTR_NULL_FATAL(kz_ipset_add(set, ip, kz_test_pool));
    }
    CU_ASSERT_EQUAL(kz_ipset_count(set), 10000);
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 256, i % 256);
        CU_ASSERT_EQUAL(kz_ipset_contains(set, ip), 1);
        snprintf(ip, sizeof(ip), "10.%d.%d.2", i / 256, i % 256);
        CU_ASSERT_EQUAL(kz_ipset_contains(set, ip), 0);
        snprintf(ip, sizeof(ip), "2001:db8:%x:ffff::9", i);
        CU_ASSERT_EQUAL(kz_ipset_contains(set, ip), 1);
    }
    CU_ASSERT_EQUAL(kz_ipset_contains(set, "2001:db8:ffff::1"), 0);
}

static const kz_test_case_t cases[] = {
    {"match", test_match}, {"check", test_check}, {"add_and_count", test_add_and_count},
    {"many", test_many},   {NULL, NULL},
};

KZ_TEST_SUITE(ipset, cases)

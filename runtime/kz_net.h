/*
 * Numeric IP addresses as text, through the system's inet_pton/inet_ntop: strict parsing of an
 * IPv4 dotted quad or an IPv6 address (RFC 4291 §2.2), and canonical text (RFC 5952).
 * runtime/net.c, over the two system calls of unix/net.c or win32/net.c.
 */
#ifndef KZ_NET_H
#define KZ_NET_H

#include <apr.h>

/** Bytes kz_ip_format() needs at most, the NUL included (as INET6_ADDRSTRLEN). */
#define KZ_IP_TEXT_SIZE 46

/**
 * Parses len bytes of text (no NUL needed) as a numeric address: an IPv4 dotted quad of four
 * decimal parts 0-255 without leading zeros (as inet_pton(AF_INET)), or an IPv6 address in any
 * RFC 4291 §2.2 form (as inet_pton(AF_INET6)). Brackets, zone ids ("%eth0"), spaces, an embedded
 * NUL and text longer than 45 bytes are refused. out receives 16 bytes in network order, an
 * IPv4 address in its IPv4-mapped form ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), so both spellings of
 * one IPv4 address give the same bytes. *is_v4 (when not NULL) tells whether the text was a
 * dotted quad (0 for "::ffff:a.b.c.d"). Returns 1, or 0 when text is not an address (out and
 * *is_v4 are then left alone).
 */
int kz_ip_parse(const char *text, apr_size_t len, unsigned char out[16], int *is_v4);

/** 1 when addr is an IPv4-mapped IPv6 address (::ffff:0:0/96), 0 otherwise. */
int kz_ip_is_v4_mapped(const unsigned char addr[16]);

/**
 * Writes the canonical text of addr to out (size bytes; KZ_IP_TEXT_SIZE is always enough): when
 * is_v4, the dotted quad of an IPv4-mapped addr; otherwise the RFC 5952 §4 form (lowercase, no
 * leading zeros, the longest run of two or more zero groups as "::", the first of equal runs),
 * an IPv4-mapped address as "::ffff:a.b.c.d" (RFC 5952 §5). Returns the length written, or 0
 * (out holding "" if size > 0) when size is too small or is_v4 is set for an unmapped addr.
 */
apr_size_t kz_ip_format(char *out, apr_size_t size, const unsigned char addr[16], int is_v4);

/* The platform's part: inet_pton/inet_ntop for IPv4 (v4) or IPv6, NUL-terminated text.
 * kz_net_pton returns 1 when text is an address; kz_net_ntop 1 when out was written. */
int kz_net_pton(int v4, const char *text, void *out);
int kz_net_ntop(int v4, const void *addr, char *out, apr_size_t size);

#endif

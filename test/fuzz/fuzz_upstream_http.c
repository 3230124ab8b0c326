/*
 * libFuzzer target for the backend response path (server/upstream_http.c): scan a response
 * stream whole and in pieces (both must agree), parse and frame each head, skip interim
 * responses as the proxy does, build the hop-by-hop set and decode a chunked body; the parser is
 * also run alone on the whole input. Any crash, sanitizer report, leak or broken invariant is a
 * bug. The first input byte selects HEAD (bit 0), CONNECT (bit 1) and the piece size (the rest).
 * Build and run with test/fuzz/run.sh.
 */
#include "fuzz_common.h"
#include "upstream_http.h"

#define MAX_HEAD   8192
#define MAX_FIELDS 64
#define MAX_HEADS  9 /* the proxy gives up after 8 interim responses */

/* Scans buf[0..len) fed step bytes at a time. */
static int scan_pieces(const char *buf, apr_size_t len, apr_size_t step, apr_size_t *head_len)
{
    kz_http_scan_t scan = {0};
    apr_size_t have = 0;
    int rc = KZ_PARSE_AGAIN;

    *head_len = 0;
    while (rc == KZ_PARSE_AGAIN && have < len) {
        have = len - have > step ? have + step : len;
        rc = kz_resp_scan(&scan, buf, have, MAX_HEAD, MAX_FIELDS, head_len);
    }
    return len == 0 ? kz_resp_scan(&scan, buf, 0, MAX_HEAD, MAX_FIELDS, head_len) : rc;
}

static void check_head(const kz_resp_head_t *head)
{
    KZ_FUZZ_ASSERT(head->version == 10 || head->version == 11);
    KZ_FUZZ_ASSERT(head->status >= 100 && head->status <= 599);
    KZ_FUZZ_ASSERT(head->nfields >= 0 && head->nfields <= MAX_FIELDS);
    KZ_FUZZ_ASSERT(strpbrk(head->reason, "\r\n") == NULL);
    for (int i = 0; i < head->nfields; i++) {
        const kz_http_field_t *f = &head->fields[i];
        KZ_FUZZ_ASSERT(f->name_len > 0 && strlen(f->name) == f->name_len);
        KZ_FUZZ_ASSERT(strlen(f->value) == f->value_len);
        for (apr_size_t j = 0; j < f->name_len; j++) {
            KZ_FUZZ_ASSERT(kz_http_is_tchar((unsigned char)f->name[j]));
        }
        for (apr_size_t j = 0; j < f->value_len; j++) {
            unsigned char c = (unsigned char)f->value[j];
            KZ_FUZZ_ASSERT(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        KZ_FUZZ_ASSERT(f->value_len == 0 ||
                       (f->value[0] != ' ' && f->value[0] != '\t' &&
                        f->value[f->value_len - 1] != ' ' && f->value[f->value_len - 1] != '\t'));
    }
}

static void check_info(const kz_resp_info_t *info, const kz_resp_head_t *head)
{
    KZ_FUZZ_ASSERT(info->body != KZ_RESP_BODY_CLOSE || !info->keep_alive);
    KZ_FUZZ_ASSERT(!info->upgrade ||
                   (head->status == 101 && info->body == KZ_RESP_BODY_NONE && !info->keep_alive));
    KZ_FUZZ_ASSERT(!info->interim || (head->status < 200 && info->body == KZ_RESP_BODY_NONE));
    KZ_FUZZ_ASSERT(info->body == KZ_RESP_BODY_LENGTH ? info->length >= 0 : info->length == -1);
}

/* Every field a Connection field names is hop-by-hop, and so are the fixed ones. */
static void check_hop(const kz_resp_head_t *head)
{
    kz_hop_t hop;
    int over = kz_hop_init(&hop, head->fields, head->nfields);

    KZ_FUZZ_ASSERT(hop.n >= 0 && hop.n <= KZ_HOP_MAX && (!over || hop.n == KZ_HOP_MAX));
    for (int i = 0; i < hop.n; i++) {
        KZ_FUZZ_ASSERT(kz_hop_is(&hop, hop.names[i], hop.lens[i]));
    }
    KZ_FUZZ_ASSERT(kz_hop_is(&hop, "Transfer-Encoding", 17));
    for (int i = 0; i < head->nfields; i++) {
        int is = kz_hop_is(&hop, head->fields[i].name, head->fields[i].name_len);
        KZ_FUZZ_ASSERT(is == 0 || is == 1);
    }
}

/* Scans, parses and frames one head at buf; returns its length, or 0 to stop. */
static apr_size_t one_head(char *buf, apr_size_t len, unsigned sel, int *interim)
{
    kz_http_field_t fields[MAX_FIELDS];
    kz_resp_head_t head;
    kz_resp_info_t info;
    kz_http_scan_t scan = {0};
    apr_size_t head_len = 0, piece_len = 0;
    int rc = kz_resp_scan(&scan, buf, len, MAX_HEAD, MAX_FIELDS, &head_len);

    KZ_FUZZ_ASSERT(rc == KZ_PARSE_OK || rc == KZ_PARSE_AGAIN || rc == 502);
    KZ_FUZZ_ASSERT(scan_pieces(buf, len, 1 + (sel >> 2), &piece_len) == rc);
    if (rc != KZ_PARSE_OK) {
        return 0;
    }
    KZ_FUZZ_ASSERT(piece_len == head_len && head_len <= len && head_len <= MAX_HEAD);
    KZ_FUZZ_ASSERT(head_len >= 4 && memcmp(buf + head_len - 4, "\r\n\r\n", 4) == 0);
    if (kz_resp_parse(&head, buf, head_len, fields, MAX_FIELDS) != KZ_PARSE_OK) {
        return 0;
    }
    check_head(&head);
    check_hop(&head);
    rc = kz_resp_analyze(&info, &head, sel & 1, (sel >> 1) & 1);
    KZ_FUZZ_ASSERT(rc == KZ_PARSE_OK || (rc == 502 && !info.keep_alive));
    if (rc != KZ_PARSE_OK) {
        return 0;
    }
    check_info(&info, &head);
    *interim = info.interim;
    if (info.body == KZ_RESP_BODY_CHUNKED) {
        kz_chunked_t st = {0};
        apr_size_t consumed, out;
        kz_chunked_decode(&st, buf + head_len, len - head_len, &consumed, &out);
        KZ_FUZZ_ASSERT(consumed <= len - head_len && out <= consumed);
    }
    return head_len;
}

/* The parser alone on the whole input: what it accepts, the scanner finds whole too. */
static void parse_alone(const uint8_t *data, size_t size)
{
    kz_http_field_t fields[MAX_FIELDS];
    kz_resp_head_t head;
    kz_http_scan_t scan = {0};
    apr_size_t head_len = 0;
    char *buf = kz_fuzz_cstr(data, size);

    if (kz_resp_parse(&head, buf, size, fields, MAX_FIELDS) == KZ_PARSE_OK) {
        check_head(&head);
        KZ_FUZZ_ASSERT(kz_resp_scan(&scan, (const char *)data, size, size, head.nfields,
                                    &head_len) == KZ_PARSE_OK);
        KZ_FUZZ_ASSERT(head_len == size);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    unsigned sel = data[0];
    char *buf = kz_fuzz_cstr(data + 1, size - 1);
    apr_size_t at = 0, len = size - 1;

    for (int i = 0; i < MAX_HEADS && at < len; i++) {
        int interim = 0;
        apr_size_t n = one_head(buf + at, len - at, sel, &interim);
        if (n == 0 || !interim) {
            break;
        }
        at += n;
    }
    free(buf);
    parse_alone(data + 1, size - 1);
    return 0;
}

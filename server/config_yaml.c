/*
 * The YAML reader of the configuration: libyaml's event parser turned into a kz_value_t tree
 * whose every node keeps its file, line and column. Only the first document is read. Plain
 * scalars follow YAML 1.2's core schema for null, booleans and decimal integers; aliases are
 * refused outright, which rules out "billion laughs" expansion without any bound to tune.
 */
#include "config.h"

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <yaml.h>

#include <string.h>

#define KZ_YAML_MAX_DEPTH 64

typedef struct yaml_reader {
    yaml_parser_t parser;
    yaml_event_t event;
    int parser_ready;
    int have_event;
    const char *name;
    const char *text;
    apr_size_t len;
    kz_diag_t *diag;
    apr_pool_t *p;       /* the values */
    apr_pool_t *scratch; /* duplicate-key indexes; destroyed with the parser */
} yaml_reader_t;

/* libyaml allocates with malloc: this cleanup frees it on every path, errors included. */
static apr_status_t reader_cleanup(void *data)
{
    yaml_reader_t *r = data;

    if (r->have_event) {
        yaml_event_delete(&r->event);
        r->have_event = 0;
    }
    if (r->parser_ready) {
        yaml_parser_delete(&r->parser);
        r->parser_ready = 0;
    }
    return APR_SUCCESS;
}

static void add_msg(yaml_reader_t *r, int error, int line, int col, const char *fmt, ...)
{
    apr_array_header_t *arr = error ? r->diag->errors : r->diag->warnings;
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(arr->pool, fmt, ap);
    va_end(ap);
    APR_ARRAY_PUSH(arr, const char *) = apr_psprintf(arr->pool, "%s:%d:%d: %s: %s", r->name, line,
                                                     col, error ? "error" : "warning", msg);
}

/* Reader errors (bad encoding) carry only a byte offset: turn it into a line and column. */
static void offset_position(const yaml_reader_t *r, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < r->len; i++) {
        if (r->text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)r->text[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static apr_status_t syntax_error(yaml_reader_t *r)
{
    const yaml_parser_t *ps = &r->parser;
    const char *problem = ps->problem ? ps->problem : "invalid YAML";
    int line = (int)ps->problem_mark.line + 1;
    int col = (int)ps->problem_mark.column + 1;

    if (ps->error == YAML_READER_ERROR) {
        offset_position(r, ps->problem_offset, &line, &col);
    }
    if (ps->context) {
        add_msg(r, 1, line, col, "%s %s", ps->context, problem);
    } else {
        add_msg(r, 1, line, col, "%s", problem);
    }
    return APR_EINVAL;
}

static apr_status_t next_event(yaml_reader_t *r)
{
    if (r->have_event) {
        yaml_event_delete(&r->event);
        r->have_event = 0;
    }
    if (!yaml_parser_parse(&r->parser, &r->event)) {
        return syntax_error(r);
    }
    r->have_event = 1;
    return APR_SUCCESS;
}

static kz_value_t *new_value(yaml_reader_t *r, kz_vtype_e type)
{
    kz_value_t *v = apr_pcalloc(r->p, sizeof(*v));

    v->type = type;
    v->file = r->name;
    v->line = (int)r->event.start_mark.line + 1;
    v->col = (int)r->event.start_mark.column + 1;
    return v;
}

/* Decimal integer with an optional sign that fits in 64 bits. */
static int parse_int(const char *s, apr_int64_t *out)
{
    int neg = (*s == '-');
    apr_uint64_t limit = neg ? (apr_uint64_t)APR_INT64_MAX + 1 : (apr_uint64_t)APR_INT64_MAX;
    apr_uint64_t n = 0;

    if (*s == '-' || *s == '+') {
        s++;
    }
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isdigit(*s) || n > (limit - (apr_uint64_t)(*s - '0')) / 10) {
            return 0;
        }
        n = n * 10 + (apr_uint64_t)(*s - '0');
    }
    *out = neg ? (apr_int64_t)(0 - n) : (apr_int64_t)n;
    return 1;
}

static void type_plain_scalar(kz_value_t *v)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE"};
    static const char *const falses[] = {"false", "False", "FALSE"};

    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        if (strcmp(v->text, nulls[i]) == 0) {
            v->type = KZ_V_NULL;
            return;
        }
    }
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(v->text, trues[i]) == 0 || strcmp(v->text, falses[i]) == 0) {
            v->type = KZ_V_BOOL;
            v->b = strcmp(v->text, trues[i]) == 0;
            return;
        }
    }
    if (parse_int(v->text, &v->i)) {
        v->type = KZ_V_INT;
    }
}

static apr_status_t read_scalar(yaml_reader_t *r, kz_value_t **out)
{
    const char *value = (const char *)r->event.data.scalar.value;
    size_t length = r->event.data.scalar.length;
    kz_value_t *v = new_value(r, KZ_V_STR);

    if (memchr(value, '\0', length)) {
        add_msg(r, 1, v->line, v->col, "a NUL character is not allowed in a string");
        return APR_EINVAL;
    }
    v->text = apr_pstrmemdup(r->p, value, length);
    if (r->event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        r->event.data.scalar.plain_implicit) {
        type_plain_scalar(v);
    }
    *out = v;
    return APR_SUCCESS;
}

static apr_status_t read_node(yaml_reader_t *r, int depth, kz_value_t **out);

static apr_status_t read_list(yaml_reader_t *r, int depth, kz_value_t **out)
{
    kz_value_t *v = new_value(r, KZ_V_LIST);
    apr_status_t rv;

    v->items = apr_array_make(r->p, 4, sizeof(kz_value_t *));
    for (;;) {
        kz_value_t *item;

        if ((rv = next_event(r)) != APR_SUCCESS) {
            return rv;
        }
        if (r->event.type == YAML_SEQUENCE_END_EVENT) {
            break;
        }
        if ((rv = read_node(r, depth + 1, &item)) != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(v->items, kz_value_t *) = item;
    }
    *out = v;
    return APR_SUCCESS;
}

/* Reads one key of a map; a repeated key keeps its first place and takes the later value. */
static apr_status_t read_pair(yaml_reader_t *r, int depth, kz_value_t *map, apr_hash_t *seen)
{
    kz_pair_t pair;
    kz_value_t *key;
    int *index;
    apr_status_t rv;

    if (r->event.type != YAML_SCALAR_EVENT) {
        add_msg(r, 1, (int)r->event.start_mark.line + 1, (int)r->event.start_mark.column + 1,
                "a map key must be a scalar");
        return APR_EINVAL;
    }
    if ((rv = read_scalar(r, &key)) != APR_SUCCESS) {
        return rv;
    }
    pair.key = key->text;
    pair.line = key->line;
    pair.col = key->col;
    if ((rv = next_event(r)) != APR_SUCCESS || (rv = read_node(r, depth + 1, &pair.value))) {
        return rv;
    }
    index = apr_hash_get(seen, pair.key, APR_HASH_KEY_STRING);
    if (index) {
        add_msg(r, 0, pair.line, pair.col, "key '%s' is repeated; the later value wins", pair.key);
        APR_ARRAY_IDX(map->items, *index, kz_pair_t).value = pair.value;
        return APR_SUCCESS;
    }
    /* The array moves as it grows, so the index keeps positions, not pointers. */
    index = apr_palloc(r->scratch, sizeof(*index));
    *index = map->items->nelts;
    APR_ARRAY_PUSH(map->items, kz_pair_t) = pair;
    apr_hash_set(seen, pair.key, APR_HASH_KEY_STRING, index);
    return APR_SUCCESS;
}

static apr_status_t read_map(yaml_reader_t *r, int depth, kz_value_t **out)
{
    kz_value_t *v = new_value(r, KZ_V_MAP);
    apr_hash_t *seen = apr_hash_make(r->scratch);
    apr_status_t rv;

    v->items = apr_array_make(r->p, 8, sizeof(kz_pair_t));
    for (;;) {
        if ((rv = next_event(r)) != APR_SUCCESS) {
            return rv;
        }
        if (r->event.type == YAML_MAPPING_END_EVENT) {
            break;
        }
        if ((rv = read_pair(r, depth, v, seen)) != APR_SUCCESS) {
            return rv;
        }
    }
    *out = v;
    return APR_SUCCESS;
}

/* Reads the node whose first event is the current one. */
static apr_status_t read_node(yaml_reader_t *r, int depth, kz_value_t **out)
{
    int line = (int)r->event.start_mark.line + 1;
    int col = (int)r->event.start_mark.column + 1;

    if (depth > KZ_YAML_MAX_DEPTH) {
        add_msg(r, 1, line, col, "nesting deeper than %d levels", KZ_YAML_MAX_DEPTH);
        return APR_EINVAL;
    }
    switch (r->event.type) {
    case YAML_SCALAR_EVENT:
        return read_scalar(r, out);
    case YAML_SEQUENCE_START_EVENT:
        return read_list(r, depth, out);
    case YAML_MAPPING_START_EVENT:
        return read_map(r, depth, out);
    case YAML_ALIAS_EVENT:
        add_msg(r, 1, line, col, "YAML aliases (*%s) are not supported",
                (const char *)r->event.data.alias.anchor);
        return APR_EINVAL;
    default:
        add_msg(r, 1, line, col, "unexpected YAML event");
        return APR_EINVAL;
    }
}

static apr_status_t read_document(yaml_reader_t *r, kz_value_t **out)
{
    apr_status_t rv;

    *out = NULL;
    if ((rv = next_event(r)) != APR_SUCCESS) { /* STREAM-START */
        return rv;
    }
    if ((rv = next_event(r)) != APR_SUCCESS) {
        return rv;
    }
    if (r->event.type != YAML_DOCUMENT_START_EVENT) { /* an empty stream */
        return APR_SUCCESS;
    }
    if ((rv = next_event(r)) != APR_SUCCESS) {
        return rv;
    }
    /* Later documents are never parsed, so their syntax does not matter either. */
    return read_node(r, 0, out);
}

apr_status_t kz_yaml_parse(kz_value_t **out, kz_diag_t *diag, const char *name, const char *text,
                           apr_size_t len, apr_pool_t *p)
{
    yaml_reader_t *r;
    apr_pool_t *scratch;
    apr_status_t rv;

    apr_pool_create(&scratch, p);
    r = apr_pcalloc(scratch, sizeof(*r));
    r->name = name;
    r->text = text;
    r->len = len;
    r->diag = diag;
    r->p = p;
    r->scratch = scratch;
    apr_pool_cleanup_register(scratch, r, reader_cleanup, apr_pool_cleanup_null);
    if (!yaml_parser_initialize(&r->parser)) {
        apr_pool_destroy(scratch);
        return APR_ENOMEM;
    }
    r->parser_ready = 1;
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
    rv = read_document(r, out);
    if (rv == APR_SUCCESS && !*out) {
        *out = apr_pcalloc(p, sizeof(kz_value_t));
        (*out)->type = KZ_V_NULL;
        (*out)->file = name;
        (*out)->line = 1;
        (*out)->col = 1;
        (*out)->text = "";
    }
    apr_pool_destroy(scratch);
    if (rv != APR_SUCCESS) {
        *out = NULL;
    }
    return rv;
}

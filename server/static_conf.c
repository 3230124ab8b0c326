/*
 * The static-file settings of one scope, compiled from its properties at load (stages.h), and
 * the checks of defaultCharset (a token, RFC 9110 §8.3.2) and extraMimeTypes (media types,
 * RFC 9110 §8.3.1).
 */
#include "http_parse.h"
#include "stages.h"
#include "static.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#define KZ_EXT_MAX 31

/* The length of the token at s. */
static apr_size_t token_len(const char *s)
{
    apr_size_t n = 0;

    while (kz_http_is_tchar((unsigned char)s[n])) {
        n++;
    }
    return n;
}

const char *kz_static_check_charset(const kz_value_t *v, apr_pool_t *p)
{
    return v->text[token_len(v->text)] ? "expected a charset name such as utf-8, or \"\"" : NULL;
}

/* type "/" subtype *( OWS ";" OWS parameter ), parameters without control characters. */
static const char *check_media_type(const char *s)
{
    apr_size_t n = token_len(s);

    if (n == 0 || s[n] != '/' || token_len(s + n + 1) == 0) {
        return "is not a media type (type/subtype)";
    }
    s += n + 1 + token_len(s + n + 1);
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s && *s != ';') {
        return "has something other than parameters after the subtype";
    }
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return "has a control character";
        }
    }
    return NULL;
}

static const char *check_extension(const char *s)
{
    apr_size_t n;

    s += *s == '.';
    n = strlen(s);
    if (n == 0 || n > KZ_EXT_MAX) {
        return "is not an extension of 1 to 31 bytes";
    }
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '/' || *s == '.') {
            return "is not a single extension (no '/', '.', space or control character)";
        }
    }
    return NULL;
}

const char *kz_static_check_mime_map(const kz_value_t *v, apr_pool_t *p)
{
    for (int i = 0; v->type == KZ_V_MAP && i < v->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(v->items, i, kz_pair_t);
        const char *why = check_extension(pair->key);

        if (why) {
            return apr_psprintf(p, "key '%s' %s", pair->key, why);
        }
        if ((why = check_media_type(pair->value->text)) != NULL) {
            return apr_psprintf(p, "type '%s' of '%s' %s", pair->value->text, pair->key, why);
        }
    }
    return NULL;
}

/* ---- compiling ---------------------------------------------------------------------------- */

/* The value of a property in c, else the registry's default (the one `karpacz -p` prints). */
static const char *default_of(const char *name)
{
    const kz_property_t *prop = kz_property_find(name);

    return prop ? prop->def : "-";
}

static int conf_bool(const kz_conf_t *c, const char *name)
{
    const kz_value_t *v = kz_conf_get(c, name);

    return v && v->type == KZ_V_BOOL ? v->b : strcmp(default_of(name), "true") == 0;
}

static apr_int64_t conf_int(const kz_conf_t *c, const char *name)
{
    const kz_value_t *v = kz_conf_get(c, name);

    return v && v->type == KZ_V_INT ? v->i : apr_atoi64(default_of(name));
}

static const char *conf_str(const kz_conf_t *c, const char *name)
{
    const kz_value_t *v = kz_conf_get(c, name);

    return v && v->type != KZ_V_NULL && v->text ? v->text : default_of(name);
}

static apr_hash_t *compile_mime(const kz_value_t *v, apr_pool_t *p)
{
    apr_hash_t *map;

    if (!v || v->type != KZ_V_MAP || v->items->nelts == 0) {
        return NULL;
    }
    map = apr_hash_make(p);
    for (int i = 0; i < v->items->nelts; i++) {
        const kz_pair_t *pair = &APR_ARRAY_IDX(v->items, i, kz_pair_t);
        char *ext = apr_pstrdup(p, pair->key + (pair->key[0] == '.'));

        for (char *s = ext; *s; s++) {
            *s = (char)apr_tolower(*s);
        }
        apr_hash_set(map, ext, APR_HASH_KEY_STRING, pair->value->text);
    }
    return map;
}

const struct kz_static_conf *kz_static_compile(const kz_conf_t *c, apr_pool_t *p)
{
    struct kz_static_conf *sc = apr_pcalloc(p, sizeof(*sc));
    const char *charset = conf_str(c, "defaultCharset");

    /* Every scope gets settings, even with none of the properties set: their defaults differ
     * from "off", and the request path then never tests for NULL. */
    sc->etag = conf_bool(c, "enableETag");
    sc->compression = conf_bool(c, "enableCompression");
    sc->precompressed = conf_bool(c, "enablePrecompressedFiles");
    sc->slash_redirects = !conf_bool(c, "disableTrailingSlashRedirects");
    sc->max_ranges = (int)conf_int(c, "maximumRanges");
    sc->compress_min = (apr_off_t)conf_int(c, "compressionMinimumSize");
    sc->cache_bytes = (apr_size_t)conf_int(c, "compressionCacheSize");
    sc->charset = *charset && *charset != '-' ? apr_pstrcat(p, "; charset=", charset, NULL) : NULL;
    sc->charset_len = sc->charset ? strlen(sc->charset) : 0;
    sc->mime = compile_mime(kz_conf_get(c, "extraMimeTypes"), p);
    return sc;
}

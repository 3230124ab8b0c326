/*
 * The example module: answers "Hello World!" (200, text/plain) on /hello and passes every
 * other request on. It is also the template for module authors — everything a module needs is
 * here: the exported kz_module_t, a property of its own (validated by the server at load, with
 * file and line in every error), per-scope settings built once at load, and a handler.
 *
 * Build it beside the server (CMake does), or alone against the installed headers:
 *   cc -shared -fPIC -I/usr/local/include/karpacz $(pkg-config --cflags apr-1) \
 *      -o mod_example.so example.c
 * then list it in the configuration:  global: { loadModules: [example] }
 */
#include <kz_module.h>

#include <apr_strings.h>
#include <string.h>

/* Checks the value of exampleGreeting; the server has checked its type (a string) already. */
static const char *check_greeting(const kz_value_t *value, apr_pool_t *p)
{
    if (!*value->text) {
        return "must not be empty";
    }
    if (strlen(value->text) > 1024) {
        return "must be at most 1024 bytes";
    }
    return NULL;
}

/* The properties this module owns: name, type, where it may appear, default, owner (the server
 * fills in the module's name), range for integers, one line of documentation, check. */
static const kz_property_t example_properties[] = {
    {"exampleGreeting", KZ_PT_STRING, KZ_SCOPE_ANY, "Hello World!", NULL, 0, 0,
     "Body of the example module's answer on /hello", check_greeting},
};

/* What a scope (global, a host, a location) says, resolved once per configuration load. */
typedef struct example_conf {
    const char *greeting;
    apr_size_t len;
} example_conf_t;

static void *example_create_conf(const kz_module_t *self, const kz_conf_t *conf, apr_pool_t *p)
{
    const kz_value_t *v = kz_conf_get(conf, "exampleGreeting");
    example_conf_t *c = apr_palloc(p, sizeof(*c));

    c->greeting = v ? v->text : "Hello World!";
    c->len = strlen(c->greeting);
    return c;
}

extern const kz_module_t kz_module_example;

/* Runs on an event loop: it must not block (see kz_module.h for waiting without blocking). */
static int example_handle(kz_request_t *r)
{
    const example_conf_t *c = kz_request_module_conf(r, &kz_module_example);

    if (strcmp(kz_request_path(r), "/hello") != 0) {
        return KZ_DECLINED; /* not ours: the next module, or static files, get it */
    }
    kz_response_status(r, 200);
    kz_response_header(r, "Content-Type", "text/plain");
    kz_response_body_mem(r, c->greeting, c->len); /* lives in the configuration's pool */
    return KZ_DONE;
}

KZ_MODULE_EXPORT const kz_module_t kz_module_example = {
    KZ_MODULE_HEADER_INIT("example", "1.0.0"),
    .properties = example_properties,
    .nproperties = sizeof(example_properties) / sizeof(example_properties[0]),
    .create_conf = example_create_conf,
    .handle = example_handle,
};

/*
 * Tests of server/module.c and of the module steps of server/request.c: the registry (built-in
 * and library modules, every refusal of the loader, properties taken over with the module as
 * owner) and the order of hooks (handlers in loadModules order, response hooks in reverse for
 * the modules that ran, CONNECT/upgrade hooks first, a module's status or invalid answer).
 */
#include "config.h"
#include "core.h"
#include "kz_os.h"
#include "kz_test.h"
#include "kz_test_core.h"
#include "module.h"

#include <apr_strings.h>
#include <string.h>

/* ---- fake modules that record what ran ---------------------------------------------- */

static char trace[256];

static void mark(const char *what)
{
    apr_cpystrn(trace + strlen(trace), what, sizeof(trace) - strlen(trace));
}

static int path_is(kz_request_t *r, const char *p)
{
    return kz_request_path(r) && strcmp(kz_request_path(r), p) == 0;
}

static int ua_handle(kz_request_t *r)
{
    mark("A ");
    return path_is(r, "/status") ? 418 : path_is(r, "/bad") ? 299 : KZ_DECLINED;
}

static int ub_handle(kz_request_t *r)
{
    mark("B ");
    if (path_is(r, "/b")) {
        kz_response_status(r, 200);
        kz_response_body_mem(r, "from B", 6);
        return KZ_DONE;
    }
    return KZ_DECLINED;
}

static int uc_handle(kz_request_t *r)
{
    mark("C ");
    return KZ_DECLINED;
}

static int uc_connect(kz_request_t *r)
{
    mark("c ");
    return path_is(r, "host:1") ? 403 : KZ_DECLINED;
}

static void ua_resp(kz_request_t *r)
{
    mark("a ");
}

static void ub_resp(kz_request_t *r)
{
    mark("b ");
}

static void uc_resp(kz_request_t *r)
{
    mark("c! ");
}

static const kz_property_t ub_props[] = {
    {"utestB", KZ_PT_INT, KZ_SCOPE_ANY, "1", "whoever", 0, 9, "a property of ub", NULL},
};

static const kz_module_t ua = {KZ_MODULE_HEADER_INIT("ua", "1"), .handle = ua_handle,
                               .on_response = ua_resp};
static const kz_module_t ub = {KZ_MODULE_HEADER_INIT("ub", "1"), .properties = ub_props,
                               .nproperties = 1, .handle = ub_handle, .on_response = ub_resp};
static const kz_module_t uc = {KZ_MODULE_HEADER_INIT("uc", "1"), .handle = uc_handle,
                               .on_response = uc_resp, .handle_connect = uc_connect};
static const kz_module_t bad_abi = {KZ_MODULE_MAGIC, KZ_MODULE_ABI + 1, "ubad", "1",
                                    .handle = NULL};
static const kz_property_t clash_props[] = {
    {"wwwroot", KZ_PT_STRING, KZ_SCOPE_ANY, "-", NULL, 0, 0, "mine", NULL},
};
static const kz_module_t clash = {KZ_MODULE_HEADER_INIT("uclash", "1"), .properties = clash_props,
                                  .nproperties = 1};

static void add_fakes(void)
{
    CU_ASSERT_PTR_NULL(kz_module_add(&ua, kz_test_pool));
    CU_ASSERT_PTR_NULL(kz_module_add(&ub, kz_test_pool));
    CU_ASSERT_PTR_NULL(kz_module_add(&uc, kz_test_pool));
}

static void test_registry(void)
{
    const kz_module_t *m;
    const kz_property_t *prop;

    add_fakes();
    CU_ASSERT_PTR_NULL(kz_module_add(&ua, kz_test_pool)); /* again: the same object is fine */
    CU_ASSERT_PTR_EQUAL(kz_module_find("ub"), &ub);
    CU_ASSERT(kz_module_index(&ub) >= 0 && kz_module_index(&ub) < kz_module_count());
    prop = kz_property_find("utestB");
    CU_ASSERT_PTR_NOT_NULL_FATAL(prop);
    CU_ASSERT_STRING_EQUAL(prop->owner, "ub"); /* whatever the table said */
    CU_ASSERT_STRING_EQUAL(kz_module_add(&bad_abi, kz_test_pool),
                           "module 'ubad' was built for module ABI 2; this server has ABI 1 "
                           "(rebuild it against this server's headers)");
    CU_ASSERT_STRING_EQUAL(kz_module_add(&clash, kz_test_pool),
                           "module 'uclash' declares property 'wwwroot', which 'core' owns");
    CU_ASSERT_PTR_NULL(kz_module_find("uclash"));
    CU_ASSERT_EQUAL(kz_module_is_planned("fproxy"), 1);
    CU_ASSERT_EQUAL(kz_module_is_planned("rproxy"), 0); /* built in */
    CU_ASSERT_EQUAL(kz_module_is_planned("ua"), 0);
    CU_ASSERT_PTR_NULL(kz_module_load(&m, "ub", NULL, kz_test_pool));
    CU_ASSERT_PTR_EQUAL(m, &ub);
}

static void test_libraries(void)
{
    const kz_module_t *m;
    const char *err;

    CU_ASSERT_PTR_NULL(kz_module_load(&m, "example", KZ_MODULES_BUILD_DIR, kz_test_pool));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_STRING_EQUAL(m->name, "example");
    CU_ASSERT_STRING_EQUAL(kz_property_find("exampleGreeting")->owner, "example");
    err = kz_module_load(&m, "badabi", KZ_MODULES_BUILD_DIR, kz_test_pool);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "was built for module ABI 999"));
    err = kz_module_load(&m, "nothere", "/nonexistent", kz_test_pool);
    /* The platform's library name (mod_nothere.so, mod_nothere.dll) from the runtime layer. */
    CU_ASSERT_STRING_EQUAL(err, apr_pstrcat(kz_test_pool, "module 'nothere': no library ",
                                            kz_os_module_file("nothere", kz_test_pool),
                                            " in /nonexistent", NULL));
}

/* ---- a request run through the pipeline ----------------------------------------------- */

typedef kz_test_fixture_t fixture_t;

static kz_request_t *request(fixture_t *f, const kz_config_t *cfg, const char *head)
{
    kz_test_fixture_link(f);
    f->rc.config = (kz_config_t *)cfg;
    f->r.pool = kz_test_pool;
    f->r.rc = &f->rc;
    f->r.conf = cfg->global_conf;
    f->r.headers = apr_array_make(kz_test_pool, 4, sizeof(kz_header_pair_t));
    f->r.client_ip = "127.0.0.1";
    apr_cpystrn(f->buf, head, sizeof(f->buf));
    CU_ASSERT_EQUAL(kz_http_parse_head(&f->r.head, f->buf, strlen(f->buf), f->fields, 8), 0);
    CU_ASSERT_EQUAL(kz_http_analyze(&f->r.info, &f->r.head), 0);
    f->r.method = f->r.head.method;
    f->r.target = f->r.head.target;
    return &f->r;
}

static kz_config_t *load(const char *modules)
{
    kz_config_t *cfg;
    kz_diag_t *diag;
    const char *text = apr_psprintf(kz_test_pool, "global:\n  loadModules: [%s]\n", modules);

    add_fakes();
    CU_ASSERT_EQUAL(kz_config_load_string(&cfg, &diag, "t.yaml", text, kz_test_pool), APR_SUCCESS);
    return cfg;
}

static void test_hook_order(void)
{
    static const struct {
        const char *modules, *head, *trace;
        int status;
    } rows[] = {
        {"ua, ub, uc", "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", "A B b a ", 200},
        {"ub, ua, uc", "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", "B b ", 200},
        {"ua, ub, uc", "GET /none HTTP/1.1\r\nHost: x\r\n\r\n", "A B C c! b a ", 404},
        {"uc, ub, ua", "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", "C B A a b c! ", 418},
        {"ua, ub", "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n", "A a ", 500},
        {"ua, uc", "CONNECT host:1 HTTP/1.1\r\nHost: host:1\r\n\r\n", "c c! ", 403},
        {"ua, uc", "CONNECT host:2 HTTP/1.1\r\nHost: host:2\r\n\r\n", "c c! ", 501},
        {"ua, uc, ub", "GET /b HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: z\r\n\r\n",
         "c A C B b c! a ", 200},
    };

    for (apr_size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fixture_t f;
        kz_request_t *r = request(&f, load(rows[i].modules), rows[i].head);

        trace[0] = '\0';
        CU_ASSERT_EQUAL(kz_request_handle(r), KZ_DONE);
        if (strcmp(trace, rows[i].trace) != 0) {
            fprintf(stderr, "\nrow %d: trace '%s', want '%s'\n", (int)i, trace, rows[i].trace);
        }
        CU_ASSERT_STRING_EQUAL(trace, rows[i].trace);
        CU_ASSERT_EQUAL(r->status, rows[i].status);
    }
}

static const kz_test_case_t cases[] = {
    {"registry", test_registry},
    {"libraries", test_libraries},
    {"hook order", test_hook_order},
    {NULL, NULL},
};

KZ_TEST_SUITE(module, cases)

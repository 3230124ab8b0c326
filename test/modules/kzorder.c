/*
 * A second module for the order tests: it answers /hello too, and its response hook leaves a
 * mark, so tests see which module answered and in which order the hooks ran.
 */
#include <kz_module.h>

#include <string.h>

static int kzorder_handle(kz_request_t *r)
{
    static const char text[] = "kzorder says hello";

    if (strcmp(kz_request_path(r), "/hello") != 0) {
        return KZ_DECLINED;
    }
    kz_response_status(r, 200);
    kz_response_header(r, "Content-Type", "text/plain");
    kz_response_body_mem(r, text, sizeof(text) - 1);
    return KZ_DONE;
}

static void kzorder_on_response(kz_request_t *r)
{
    kz_response_header(r, "X-Hook", "kzorder");
}

KZ_MODULE_EXPORT const kz_module_t kz_module_kzorder = {
    KZ_MODULE_HEADER_INIT("kzorder", "0.1"),
    .handle = kzorder_handle,
    .on_response = kzorder_on_response,
};

/*
 * Reason phrases of RFC 9110 §15 (plus RFC 6585, 7725, 8297) and the built-in error pages. One
 * list drives everything: the reason switch, the one-sentence descriptions and a compile-time
 * HTML page per status, so serving a page costs a switch and nothing else. Only the 500 page
 * with the administrator's address and pages for unknown codes are rendered at run time.
 */
#include "errpage.h"

#include <apr_escape.h>
#include <apr_strings.h>

#include <string.h>

/* X(code, reason, description): descriptions are plain text, written for whoever sees the page. */
#define KZ_STATUS_LIST(X)                                                                          \
    X(100, "Continue", "The server has received the request head; the body may follow.")           \
    X(101, "Switching Protocols", "The server is switching to the protocol the client asked for.") \
    X(103, "Early Hints", "The server is sending hints ahead of its final response.")              \
    X(200, "OK", "The request succeeded.")                                                         \
    X(201, "Created", "The request succeeded and a new resource was created.")                     \
    X(202, "Accepted", "The request was accepted; processing has not finished yet.")               \
    X(203, "Non-Authoritative Information",                                                        \
      "The request succeeded; a proxy changed the content on its way.")                            \
    X(204, "No Content", "The request succeeded and there is nothing to send back.")               \
    X(205, "Reset Content", "The request succeeded; the document view should be reset.")           \
    X(206, "Partial Content", "Only the requested part of the resource is being sent.")            \
    X(300, "Multiple Choices", "This resource has several representations to choose from.")        \
    X(301, "Moved Permanently", "This resource has moved to a new address for good.")              \
    X(302, "Found", "This resource is at another address for now.")                                \
    X(303, "See Other", "The answer to this request is at another address.")                       \
    X(304, "Not Modified", "This resource has not changed since the copy the client holds.")       \
    X(305, "Use Proxy", "This resource must be requested through a proxy.")                        \
    X(306, "Unused", "This status code is reserved and no longer used.")                           \
    X(307, "Temporary Redirect",                                                                   \
      "This resource is at another address for now; send the same request there.")                 \
    X(308, "Permanent Redirect",                                                                   \
      "This resource has moved to a new address for good; send the same request there.")           \
    X(400, "Bad Request", "The server could not understand the request: it is malformed.")         \
    X(401, "Unauthorized",                                                                         \
      "This resource needs valid credentials, and none were given or they were refused.")          \
    X(402, "Payment Required", "Payment is needed before this resource can be used.")              \
    X(403, "Forbidden", "You are not allowed to access this resource.")                            \
    X(404, "Not Found",                                                                            \
      "Nothing was found at this address. If you typed it by hand, check it for mistakes.")        \
    X(405, "Method Not Allowed", "This resource does not support the request method used.")        \
    X(406, "Not Acceptable",                                                                       \
      "No representation of this resource matches what the request says it accepts.")              \
    X(407, "Proxy Authentication Required",                                                        \
      "The proxy needs valid credentials before it forwards this request.")                        \
    X(408, "Request Timeout", "The server stopped waiting: the request took too long to arrive.")  \
    X(409, "Conflict", "The request conflicts with the current state of the resource.")            \
    X(410, "Gone", "This resource was removed and will not come back.")                            \
    X(411, "Length Required", "The request has a body but does not say how long it is.")           \
    X(412, "Precondition Failed", "A condition set in the request headers does not hold.")         \
    X(413, "Content Too Large", "The request body is larger than the server accepts.")             \
    X(414, "URI Too Long", "The address in the request is longer than the server accepts.")        \
    X(415, "Unsupported Media Type",                                                               \
      "The request body is in a format this resource does not accept.")                            \
    X(416, "Range Not Satisfiable", "The requested range lies outside of this resource.")          \
    X(417, "Expectation Failed", "The server cannot meet the expectation of the Expect header.")   \
    X(418, "I'm a teapot", "The server is a teapot and will not brew coffee.")                     \
    X(421, "Misdirected Request", "This server cannot answer for the host named in the request.")  \
    X(422, "Unprocessable Content",                                                                \
      "The request is well-formed, but its content cannot be processed.")                          \
    X(426, "Upgrade Required", "The server answers this request only over another protocol.")      \
    X(428, "Precondition Required",                                                                \
      "This request must be conditional, so that it cannot overwrite changes made by others.")     \
    X(429, "Too Many Requests",                                                                    \
      "Too many requests were sent in a short time. Wait a moment and try again.")                 \
    X(431, "Request Header Fields Too Large",                                                      \
      "The request headers are larger than the server accepts.")                                   \
    X(451, "Unavailable For Legal Reasons", "This resource cannot be served for legal reasons.")   \
    X(500, "Internal Server Error",                                                                \
      "The server ran into an unexpected problem and could not complete the request.")             \
    X(501, "Not Implemented", "The server does not support what this request needs.")              \
    X(502, "Bad Gateway",                                                                          \
      "The server, acting as a gateway, got an invalid answer from the server behind it.")         \
    X(503, "Service Unavailable", "The server cannot handle the request right now. Try later.")    \
    X(504, "Gateway Timeout",                                                                      \
      "The server, acting as a gateway, got no answer in time from the server behind it.")         \
    X(505, "HTTP Version Not Supported",                                                           \
      "The server does not support the HTTP version of the request.")                              \
    X(511, "Network Authentication Required",                                                      \
      "You need to sign in to the network before you can use it.")

#define PAGE_CSS                                                                                   \
    "html{color-scheme:light dark}"                                                                \
    "body{font-family:system-ui,sans-serif;line-height:1.5;max-width:40rem;"                       \
    "margin:12vh auto;padding:0 1.25rem}"                                                          \
    "h1{font-size:1.75rem;margin:0 0 .75rem;padding-bottom:.5rem;border-bottom:1px solid #8884}"   \
    "p{margin:.5rem 0}"

#define PAGE_1                                                                                     \
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"                      \
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
#define PAGE_2            "</title>\n<style>" PAGE_CSS "</style>\n</head>\n<body>\n<main>\n<h1>"
#define PAGE_3            "</h1>\n<p>"
#define PAGE_4            "</p>\n</main>\n</body>\n</html>\n"
#define PAGE(title, desc) PAGE_1 title PAGE_2 title PAGE_3 desc PAGE_4

const char *kz_status_reason(int status)
{
    switch (status) {
#define X(code, reason, desc)                                                                      \
    case code:                                                                                     \
        return reason;
        KZ_STATUS_LIST(X)
#undef X
    default:
        return "Unknown";
    }
}

static const char *status_description(int status)
{
    switch (status) {
#define X(code, reason, desc)                                                                      \
    case code:                                                                                     \
        return desc;
        KZ_STATUS_LIST(X)
#undef X
    }
    if (status >= 400 && status < 500) {
        return "The server could not complete the request.";
    }
    if (status >= 500 && status < 600) {
        return "The server ran into a problem and could not complete the request.";
    }
    return "The server answered the request with this status.";
}

/* The compile-time page of a known status, or 0 when there is none. */
static apr_size_t static_page(const char **out, int status)
{
    switch (status) {
#define X(code, reason, desc)                                                                      \
    case code:                                                                                     \
        *out = PAGE(#code " " reason, desc);                                                       \
        return sizeof(PAGE(#code " " reason, desc)) - 1;
        KZ_STATUS_LIST(X)
#undef X
    default:
        return 0;
    }
}

/* The address goes into a mailto: URL (percent-encoded) inside an attribute (entity-escaped). */
static const char *admin_paragraph(const char *email, apr_pool_t *p)
{
    const char *href = apr_pescape_entity(p, apr_pescape_path_segment(p, email), 0);

    return apr_pstrcat(
        p, "</p>\n<p>If the problem persists, contact the administrator at <a href=\"mailto:", href,
        "\">", apr_pescape_entity(p, email, 0), "</a>.", NULL);
}

apr_size_t kz_errpage_render(const char **out, int status, const char *admin_email, apr_pool_t *p)
{
    const char *title, *extra = "";
    char *page;
    apr_size_t len;
    int with_admin = status == 500 && admin_email && *admin_email;

    if (!with_admin && (len = static_page(out, status)) > 0) {
        return len;
    }
    if (with_admin) {
        extra = admin_paragraph(admin_email, p);
    }
    title = apr_psprintf(p, "%d %s", status, kz_status_reason(status));
    page = apr_pstrcat(p, PAGE_1, title, PAGE_2, title, PAGE_3, status_description(status), extra,
                       PAGE_4, NULL);
    *out = page;
    return strlen(page);
}

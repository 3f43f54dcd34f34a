/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The panel's files at /, beside the API. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "integration/harness.h"

static th_server srv;
static char web[256];

static void write_file(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", web, rel);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    th_tmpdir(web);
    char assets[300];
    snprintf(assets, sizeof assets, "%s/assets", web);
    mkdir(assets, 0755);
    write_file("index.html", "<!doctype html><title>panel</title><div id=root></div>");
    write_file("assets/app-3f2a1c.js", "console.log('panel')");
    write_file("favicon.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
    th_opts o = {.web_root = web};
    th_start(&srv, &o);
}

static void teardown(void)
{
    th_stop(&srv);
    th_rmdir(web);
}

TestSuite(panel, .init = setup, .fini = teardown);

Test(panel, index_assets_and_client_routes)
{
    th_response r;
    th_request(&srv, "GET", "/", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "<title>panel</title>"));
    char h[256];
    cr_assert(th_header(&r, "content-type", h, sizeof h) && strstr(h, "text/html"));
    cr_assert(th_header(&r, "cache-control", h, sizeof h) && strcmp(h, "no-cache") == 0);
    cr_assert(th_header(&r, "content-security-policy", h, sizeof h) && strstr(h, "default-src 'self'"));
    cr_assert(th_header(&r, "x-request-id", h, sizeof h));
    th_response_free(&r);

    th_request(&srv, "GET", "/assets/app-3f2a1c.js", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(th_header(&r, "content-type", h, sizeof h) && strstr(h, "text/javascript"));
    cr_assert(th_header(&r, "cache-control", h, sizeof h) && strstr(h, "immutable"));
    th_response_free(&r);

    th_request(&srv, "GET", "/favicon.svg", NULL, NULL, &r);
    cr_assert(th_header(&r, "content-type", h, sizeof h) && strstr(h, "image/svg+xml"));
    th_response_free(&r);

    th_request(&srv, "GET", "/usage/this-month", NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "a page of the panel is index.html");
    cr_assert(strstr(r.body, "<title>panel</title>"));
    th_response_free(&r);
}

Test(panel, the_api_namespace_and_missing_files_stay_404)
{
    const char *paths[] = {"/v1/nope", "/v1/b2b/nope", "/assets/missing-1234.js", "/robots.txt"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        th_response r;
        th_request(&srv, "GET", paths[i], NULL, NULL, &r);
        th_assert_error(&r, 404, "not_found");
        th_response_free(&r);
    }
    th_response r;
    th_request(&srv, "POST", "/", NULL, "x", &r);
    th_assert_error(&r, 404, "not_found");
    th_response_free(&r);
    /* The API still answers beside the panel. */
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    /* A path that climbs out of the root is refused (dot segments are 400): it never reaches a file. */
    const char req[] = "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char *out = th_raw(&srv, req, sizeof req - 1, 2000);
    cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0, "%s", out);
    cr_assert(strstr(out, "bad_request") != NULL, "%s", out);
    cr_assert(strstr(out, "root:") == NULL);
    free(out);
}

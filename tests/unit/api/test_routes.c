/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* docs/openapi.yaml describes every route that exists, with its method. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "api/api.h"
#include "core/embedded.h"

Test(openapi, documents_every_route_and_method)
{
    const char *doc = embedded_openapi[0].bytes;
    for (size_t i = 0; i < api_routes_count; i++) {
        char key[256], method[16];
        snprintf(key, sizeof key, "\n  %s:\n", api_routes[i].path);
        const char *block = strstr(doc, key);
        cr_assert_not_null(block, "%s is not in docs/openapi.yaml", api_routes[i].path);
        const char *end = strstr(block + strlen(key), "\n  /");
        size_t mlen = strlen(api_routes[i].method);
        for (size_t j = 0; j <= mlen; j++)
            method[j] = (char)tolower((unsigned char)api_routes[i].method[j]);
        char mkey[32];
        snprintf(mkey, sizeof mkey, "\n    %s:\n", method);
        const char *m = strstr(block, mkey);
        cr_assert(m != NULL && (end == NULL || m < end), "%s %s is not in docs/openapi.yaml", api_routes[i].method,
                  api_routes[i].path);
    }
}

Test(routes, no_duplicate_method_and_path)
{
    for (size_t i = 0; i < api_routes_count; i++)
        for (size_t j = 0; j < i; j++)
            cr_assert(strcmp(api_routes[i].path, api_routes[j].path) != 0 ||
                          strcmp(api_routes[i].method, api_routes[j].method) != 0,
                      "%s %s twice", api_routes[i].method, api_routes[i].path);
}

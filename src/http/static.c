/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * The panel's files (web/dist), read into memory at start so that serving them never touches the
 * disk from an event loop. Requests that match no API route fall back here (GET only): exact
 * files, "/" and unknown paths outside the API as index.html (the panel routes on the client).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"
#include "http/http_int.h"

#define STATIC_MAX_FILES 512
#define STATIC_MAX_BYTES (64u << 20)

typedef struct static_file {
    char *path;  /* "/assets/index-abc123.js", owned */
    char *bytes; /* owned */
    size_t len;
    const char *content_type;
    const char *cache_control;
} static_file;

struct http_static {
    static_file *files;
    size_t n;
    size_t total;
    const static_file *index;
};

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".webp", "image/webp"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int add_file(http_static *st, const char *full, const char *rel, app_err *err)
{
    FILE *f = fopen(full, "rb");
    if (f == NULL)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot read %s: %s", full, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (size_t)sb.st_size > STATIC_MAX_BYTES - st->total || st->n == STATIC_MAX_FILES) {
        fclose(f);
        return app_err_set(err, APP_INTERNAL_ERROR, "the panel files exceed %d files or %u bytes", STATIC_MAX_FILES,
                           STATIC_MAX_BYTES);
    }
    size_t len = (size_t)sb.st_size;
    char *bytes = xmalloc(len ? len : 1);
    size_t got = len ? fread(bytes, 1, len, f) : 0;
    fclose(f);
    if (got != len) {
        free(bytes);
        return app_err_set(err, APP_INTERNAL_ERROR, "short read of %s", full);
    }
    static_file *sf = &st->files[st->n++];
    size_t rl = strlen(rel);
    sf->path = xmalloc(rl + 2);
    sf->path[0] = '/';
    memcpy(sf->path + 1, rel, rl + 1);
    sf->bytes = bytes;
    sf->len = len;
    sf->content_type = type_of(rel);
    /* Vite names built assets by content hash: they never change, cache them for a year. The
     * entry page must be revalidated so that a new build is picked up. */
    sf->cache_control = strncmp(rel, "assets/", 7) == 0 ? "public, max-age=31536000, immutable" : "no-cache";
    st->total += len;
    return 0;
}

static int walk(http_static *st, const char *root, const char *rel, int depth, app_err *err)
{
    char dirpath[2048];
    snprintf(dirpath, sizeof dirpath, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(dirpath);
    if (d == NULL)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot open %s: %s", dirpath, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", hidden files */
        char childrel[1024], full[3072];
        if (snprintf(childrel, sizeof childrel, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >= (int)sizeof childrel)
            continue;
        snprintf(full, sizeof full, "%s/%s", root, childrel);
        struct stat sb;
        if (lstat(full, &sb) != 0 || S_ISLNK(sb.st_mode))
            continue; /* no symbolic links out of the root */
        if (S_ISDIR(sb.st_mode) && depth < 8)
            rc = walk(st, root, childrel, depth + 1, err);
        else if (S_ISREG(sb.st_mode))
            rc = add_file(st, full, childrel, err);
    }
    closedir(d);
    return rc;
}

http_static *http_static_load(const char *root, app_err *err)
{
    http_static *st = xcalloc(1, sizeof *st);
    st->files = xcalloc(STATIC_MAX_FILES, sizeof *st->files);
    if (walk(st, root, "", 0, err) != 0) {
        http_static_free(st);
        return NULL;
    }
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->files[i].path, "/index.html") == 0)
            st->index = &st->files[i];
    if (st->index == NULL) {
        app_err_set(err, APP_INTERNAL_ERROR, "%s has no index.html", root);
        http_static_free(st);
        return NULL;
    }
    return st;
}

void http_static_free(http_static *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->files[i].path);
        free(st->files[i].bytes);
    }
    free(st->files);
    free(st);
}

size_t http_static_count(const http_static *st)
{
    return st ? st->n : 0;
}

bool http__static_serve(const http_static *st, http_ctx *ctx, slice method, slice path)
{
    if (st == NULL || !slice_eq(method, "GET"))
        return false;
    /* The API's namespace stays the API's: an unknown /v1 path is a 404 envelope, not the panel. */
    if (path.len >= 4 && memcmp(path.ptr, "/v1/", 4) == 0)
        return false;
    const static_file *f = NULL;
    for (size_t i = 0; i < st->n && f == NULL; i++)
        if (slice_eq(path, st->files[i].path))
            f = &st->files[i];
    if (f == NULL) {
        /* A missing asset (with an extension, or under /assets/) is a 404; any other path is a
         * page of the panel. */
        const char *last = memrchr(path.ptr, '/', path.len);
        bool has_ext = last && memchr(last, '.', path.len - (size_t)(last - path.ptr)) != NULL;
        if (has_ext || (path.len >= 8 && memcmp(path.ptr, "/assets/", 8) == 0))
            return false;
        f = st->index;
    }
    http_add_header(ctx, "cache-control", f->cache_control);
    http_add_header(ctx, "x-content-type-options", "nosniff");
    if (f == st->index || strstr(f->content_type, "text/html") != NULL) {
        http_add_header(ctx, "content-security-policy",
                        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                        "frame-ancestors 'none'; base-uri 'none'");
        http_add_header(ctx, "referrer-policy", "no-referrer");
    }
    http_reply_raw(ctx, 200, f->content_type, f->bytes, f->len);
    return true;
}

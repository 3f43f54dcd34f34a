/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_exact(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    uint8_t extra;
    return read(fd, &extra, 1) == 0 ? 0 : -1; /* exactly n bytes, nothing after */
}

int pepper_load_or_create(const char *path, uint8_t out[32], app_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        int rc = read_exact(fd, out, 32);
        close(fd);
        if (rc != 0)
            return app_err_set(err, APP_INTERNAL_ERROR, "pepper file %s is not exactly 32 bytes", path);
        return 0;
    }
    if (errno != ENOENT)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot read pepper file %s: %s", path, strerror(errno));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) /* another process created it first: use theirs */
            return pepper_load_or_create(path, out, err);
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot create pepper file %s: %s", path, strerror(errno));
    }
    randombytes_buf(out, 32);
    bool ok = write(fd, out, 32) == 32 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot write pepper file %s", path);
    }
    return 0;
}

int secret_file_read(const char *path, char *out, size_t cap, app_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return app_err_set(err, APP_INTERNAL_ERROR, "cannot read %s: %s", path, strerror(errno));
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        n--;
    out[n] = '\0';
    if (n == cap - 1)
        return app_err_set(err, APP_INTERNAL_ERROR, "%s is too long for a token", path);
    return 0;
}

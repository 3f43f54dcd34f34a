/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "infra/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/str.h"

/*
 * A record on disk, 48 bytes: an 8-byte keyed hash (SipHash) of the 40 bytes that follow, then
 * account, credential and day (int64), requests, overage, blocked (int32) and a magic number, in
 * the machine's byte order (a journal is replayed by the machine that wrote it).
 */
#define RECORD_SIZE 48
#define RECORD_MAGIC 0x314a4d53u /* "SMJ1" */
/* A segment moves on past this size, so folded files can be removed while a loop keeps appending. */
#define SEGMENT_MAX (4 * 1024 * 1024)
#define SUFFIX ".journal"
/* A segment being created (segment_new): never replayed; removed at start if a crash left one. */
#define NEW_SUFFIX ".new"

/* The hash only tells a torn record from a whole one; the key needs no secrecy. */
static const unsigned char record_key[crypto_shorthash_KEYBYTES] = "starmeter-usage!";

struct journal {
    char *dir;
    int dir_fd;
    pthread_mutex_t mu;      /* the list of segments */
    pthread_mutex_t sync_mu; /* one journal_sync at a time (segments' `synced`) */
    journal_segment *head, *tail;
    unsigned long seq;
    uint64_t id;            /* random, in every segment's name: see segment_new */
    _Atomic bool dir_dirty; /* a segment was created since the directory was last fsynced */
};

struct journal_leftover {
    journal *j;
    const char *name;
    int fd;
    int64_t size;
};

static void encode(const journal_entry *e, unsigned char out[RECORD_SIZE])
{
    unsigned char *p = out + 8;
    uint32_t magic = RECORD_MAGIC;
    memcpy(p, &e->account_id, 8);
    memcpy(p + 8, &e->credential_id, 8);
    memcpy(p + 16, &e->day, 8);
    memcpy(p + 24, &e->requests, 4);
    memcpy(p + 28, &e->overage, 4);
    memcpy(p + 32, &e->blocked, 4);
    memcpy(p + 36, &magic, 4);
    crypto_shorthash(out, p, RECORD_SIZE - 8, record_key);
}

static bool decode(const unsigned char in[RECORD_SIZE], journal_entry *e)
{
    unsigned char check[crypto_shorthash_BYTES];
    const unsigned char *p = in + 8;
    uint32_t magic;
    crypto_shorthash(check, p, RECORD_SIZE - 8, record_key);
    memcpy(&magic, p + 36, 4);
    if (sodium_memcmp(check, in, sizeof check) != 0 || magic != RECORD_MAGIC)
        return false;
    memcpy(&e->account_id, p, 8);
    memcpy(&e->credential_id, p + 8, 8);
    memcpy(&e->day, p + 16, 8);
    memcpy(&e->requests, p + 24, 4);
    memcpy(&e->overage, p + 28, 4);
    memcpy(&e->blocked, p + 32, 4);
    return true;
}

static int io_fail(app_err *err, const char *what, const char *name)
{
    return app_err_set(err, APP_STORE_UNAVAILABLE, "usage journal: %s %s: %s", what, name, strerror(errno));
}

journal *journal_open(const char *dir, app_err *err)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        io_fail(err, "cannot create", dir);
        return NULL;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        io_fail(err, "cannot open", dir);
        return NULL;
    }
    journal *j = xcalloc(1, sizeof *j);
    j->dir = xstrdup(dir);
    j->dir_fd = dfd;
    if (sodium_init() < 0) {
        close(dfd);
        free(j->dir);
        free(j);
        app_err_set(err, APP_INTERNAL_ERROR, "libsodium cannot start");
        return NULL;
    }
    randombytes_buf(&j->id, sizeof j->id);
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->sync_mu, NULL);
    return j;
}

void journal_close(journal *j)
{
    if (j == NULL)
        return;
    for (journal_segment *s = j->head, *next; s; s = next) {
        next = s->next;
        close(s->fd);
        free(s);
    }
    close(j->dir_fd);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->sync_mu);
    free(j->dir);
    free(j);
}

/* Creates, locks and lists a new segment. */
static journal_segment *segment_new(journal *j, app_err *err)
{
    journal_segment *s = xcalloc(1, sizeof *s);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&j->mu);
    unsigned long seq = ++j->seq;
    pthread_mutex_unlock(&j->mu);
    /* Time first, so a listing sorts them in order of creation; then this journal's random id: a
     * name is the key of its mark in the ledger, which every node shares, and two nodes can have
     * the same process id (containers) and create a segment in the same millisecond. */
    snprintf(s->name, sizeof s->name, "%013lld-%016llx-%lu" SUFFIX, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
             (unsigned long long)j->id, seq);
    /* Created and locked under a name recovery ignores, then named: another process's recovery
     * never takes a segment this one is about to write for a dead one's, between open and flock. */
    char fresh[JOURNAL_NAME_MAX + sizeof NEW_SUFFIX];
    snprintf(fresh, sizeof fresh, "%s" NEW_SUFFIX, s->name);
    s->fd = openat(j->dir_fd, fresh, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (s->fd < 0) {
        io_fail(err, "cannot create", fresh);
        free(s);
        return NULL;
    }
    if (flock(s->fd, LOCK_EX | LOCK_NB) != 0 || renameat(j->dir_fd, fresh, j->dir_fd, s->name) != 0) {
        io_fail(err, "cannot lock and name", fresh);
        close(s->fd);
        unlinkat(j->dir_fd, fresh, 0);
        free(s);
        return NULL;
    }
    atomic_init(&s->end, 0);
    atomic_init(&s->sealed, false);
    pthread_mutex_lock(&j->mu);
    if (j->tail)
        j->tail->next = s;
    else
        j->head = s;
    j->tail = s;
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->dir_dirty, true);
    return s;
}

int journal_append(journal *j, journal_segment **seg, const journal_entry *e, size_t n, app_err *err)
{
    if (*seg != NULL && atomic_load_explicit(&(*seg)->end, memory_order_relaxed) >= SEGMENT_MAX) {
        atomic_store(&(*seg)->sealed, true);
        *seg = NULL;
    }
    if (*seg == NULL && (*seg = segment_new(j, err)) == NULL)
        return APP_STORE_UNAVAILABLE;
    journal_segment *s = *seg;
    unsigned char small[8 * RECORD_SIZE], *bytes = n <= 8 ? small : xmalloc(n * RECORD_SIZE);
    for (size_t i = 0; i < n; i++)
        encode(&e[i], bytes + i * RECORD_SIZE);
    /* Only this thread appends to the segment: its end is ours to read without ordering. */
    int64_t at = atomic_load_explicit(&s->end, memory_order_relaxed);
    size_t len = n * RECORD_SIZE, done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t w = pwrite(s->fd, bytes + done, len - done, at + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            rc = io_fail(err, "cannot write", s->name);
            /* Nothing half-written may be folded or replayed: cut back to the last whole record. */
            if (ftruncate(s->fd, at) != 0)
                atomic_store(&s->sealed, true), *seg = NULL; /* never append after garbage */
            break;
        }
        done += (size_t)w;
    }
    if (bytes != small)
        free(bytes);
    if (rc == 0) /* release: a reader that sees the new end sees the bytes */
        atomic_store_explicit(&s->end, at + (int64_t)len, memory_order_release);
    return rc;
}

size_t journal_segments(journal *j, journal_segment **out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&j->mu);
    for (journal_segment *s = j->head; s && n < cap; s = s->next)
        out[n++] = s;
    pthread_mutex_unlock(&j->mu);
    return n;
}

/* Reads whole records of fd from `from` to `end`, stopping at a torn one. */
static int read_records(int fd, const char *name, int64_t from, int64_t end, journal_entry *out, size_t cap, size_t *n,
                        int64_t *next, app_err *err)
{
    *n = 0;
    *next = from;
    if (end <= from) /* a leftover folded past what its file kept (its tail lost with the power) */
        return 0;
    int64_t avail = (end - from) / RECORD_SIZE;
    size_t want = avail < (int64_t)cap ? (size_t)avail : cap;
    if (want == 0)
        return 0;
    unsigned char *buf = xmalloc(want * RECORD_SIZE);
    size_t got = 0, len = want * RECORD_SIZE;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, from + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int rc = io_fail(err, "cannot read", name);
            free(buf);
            return rc;
        }
        if (r == 0) /* the file is shorter than its end says (a leftover's torn tail) */
            break;
        got += (size_t)r;
    }
    size_t k = 0;
    while (k < got / RECORD_SIZE && decode(buf + k * RECORD_SIZE, &out[k]))
        k++;
    free(buf);
    *n = k;
    *next = from + (int64_t)k * RECORD_SIZE;
    return 0;
}

int journal_read(journal_segment *seg, int64_t from, journal_entry *out, size_t cap, size_t *n, int64_t *next,
                 app_err *err)
{
    int64_t end = atomic_load_explicit(&seg->end, memory_order_acquire);
    int rc = read_records(seg->fd, seg->name, from, end, out, cap, n, next, err);
    if (rc == 0 && *n < cap && *next < end) /* a record this process wrote whole does not verify */
        return app_err_set(err, APP_STORE_UNAVAILABLE, "usage journal: %s: damaged record at byte %lld", seg->name,
                           (long long)*next);
    return rc;
}

static int sync_locked(journal *j, bool *synced, app_err *err);

/* Not a segment: its name lacks SUFFIX, so recovery never takes it for one. */
#define PROBE_NAME "write-probe.tmp"

int journal_probe(journal *j, app_err *err)
{
    static const char block[4096];
    int fd = openat(j->dir_fd, PROBE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(err, "open", PROBE_NAME);
    ssize_t w = write(fd, block, sizeof block);
    int rc = w == (ssize_t)sizeof block && fsync(fd) == 0 ? 0 : io_fail(err, "write", PROBE_NAME);
    if (w >= 0 && w < (ssize_t)sizeof block)
        app_err_set(err, APP_STORE_UNAVAILABLE, "usage journal: write %s: %s", PROBE_NAME, strerror(ENOSPC));
    close(fd);
    unlinkat(j->dir_fd, PROBE_NAME, 0);
    return rc;
}

int journal_sync(journal *j, bool *synced, app_err *err)
{
    pthread_mutex_lock(&j->sync_mu);
    int rc = sync_locked(j, synced, err);
    pthread_mutex_unlock(&j->sync_mu);
    return rc;
}

static int sync_locked(journal *j, bool *synced, app_err *err)
{
    *synced = false;
    if (atomic_exchange(&j->dir_dirty, false) && fsync(j->dir_fd) != 0) {
        atomic_store(&j->dir_dirty, true);
        return io_fail(err, "cannot sync", j->dir);
    }
    journal_segment *segs[64];
    size_t n;
    int rc = 0;
    int64_t done = 0;
    /* In batches of 64: a journal holds a couple of segments per event loop. */
    do {
        n = 0;
        pthread_mutex_lock(&j->mu);
        int64_t k = 0;
        for (journal_segment *s = j->head; s && n < 64; s = s->next)
            if (k++ >= done)
                segs[n++] = s;
        pthread_mutex_unlock(&j->mu);
        for (size_t i = 0; i < n && rc == 0; i++) {
            int64_t end = atomic_load_explicit(&segs[i]->end, memory_order_acquire);
            if (end <= segs[i]->synced)
                continue;
            if (fdatasync(segs[i]->fd) != 0)
                rc = io_fail(err, "cannot sync", segs[i]->name);
            else {
                segs[i]->synced = end;
                *synced = true;
            }
        }
        done += (int64_t)n;
    } while (n == 64 && rc == 0);
    return rc;
}

/*
 * Removes a segment's file durably: unlinked, then the directory fsynced, so that the file cannot
 * come back after a power loss once its mark in the ledger is forgotten (it would be replayed from
 * its start, every call counted twice).
 */
static int remove_durably(journal *j, const char *name, app_err *err)
{
    if (unlinkat(j->dir_fd, name, 0) != 0 && errno != ENOENT)
        return io_fail(err, "cannot remove", name);
    if (fsync(j->dir_fd) != 0)
        return io_fail(err, "cannot sync the directory after removing", name);
    return 0;
}

int journal_retire(journal *j, journal_segment *seg, app_err *err)
{
    pthread_mutex_lock(&j->sync_mu); /* a sync in progress may hold the segment */
    pthread_mutex_lock(&j->mu);
    journal_segment **pp = &j->head, *prev = NULL;
    while (*pp && *pp != seg) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == seg) {
        *pp = seg->next;
        if (j->tail == seg)
            j->tail = prev;
    }
    pthread_mutex_unlock(&j->mu);
    pthread_mutex_unlock(&j->sync_mu);
    int rc = remove_durably(j, seg->name, err);
    close(seg->fd);
    free(seg);
    return rc;
}

int journal_leftover_remove(journal_leftover *lo, app_err *err)
{
    return remove_durably(lo->j, lo->name, err);
}

int journal_leftover_read(journal_leftover *lo, int64_t from, journal_entry *out, size_t cap, size_t *n, int64_t *next,
                          app_err *err)
{
    return read_records(lo->fd, "leftover", from, lo->size, out, cap, n, next, err);
}

/* A segment a crash left between its creation and its naming holds nothing: removed, unless live. */
static void remove_stale_new(journal *j, const char *name)
{
    int fd = openat(j->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat sb;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &sb) == 0 && sb.st_size == 0 && sb.st_nlink > 0)
        unlinkat(j->dir_fd, name, 0);
    close(fd);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int journal_recover(journal *j, journal_leftover_fn fn, void *arg, app_err *err)
{
    int dfd = dup(j->dir_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        if (dfd >= 0)
            close(dfd);
        return io_fail(err, "cannot list", j->dir);
    }
    rewinddir(d);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    size_t slen = strlen(SUFFIX);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name), nlen = strlen(SUFFIX NEW_SUFFIX);
        if (len > nlen && strcmp(de->d_name + len - nlen, SUFFIX NEW_SUFFIX) == 0) {
            remove_stale_new(j, de->d_name);
            continue;
        }
        if (len <= slen || strcmp(de->d_name + len - slen, SUFFIX) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            journal_leftover lo = {.j = j, .name = names[i], .fd = openat(j->dir_fd, names[i], O_RDONLY | O_CLOEXEC)};
            struct stat sb;
            if (lo.fd < 0 && errno == ENOENT) {
                /* its live writer removed it since the listing */
            } else if (lo.fd < 0) {
                rc = io_fail(err, "cannot open", names[i]);
            } else if (flock(lo.fd, LOCK_EX | LOCK_NB) != 0) {
                close(lo.fd); /* a live process writes it: not ours to replay */
            } else if (fstat(lo.fd, &sb) != 0) {
                rc = io_fail(err, "cannot stat", names[i]);
                close(lo.fd);
            } else if (sb.st_nlink == 0) {
                close(lo.fd); /* its live writer removed it between our open and our lock */
            } else {
                lo.size = (int64_t)sb.st_size;
                rc = fn(arg, names[i], &lo, err);
                close(lo.fd);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

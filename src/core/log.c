/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "core/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"

#define SLOT_BYTES 1024    /* a request line is about 200 bytes; longer lines are written directly */
#define DEFAULT_SLOTS 4096 /* 4 MB: 100 ms of lines at 40k/s if writing them stalls */
#define BATCH_BYTES 65536  /* what the log thread hands write(2) at once */
#define IDLE_SLEEP_MAX_NS 10000000L

/*
 * A bounded multi-producer, single-consumer queue of lines (D. Vyukov's bounded queue): a producer
 * claims a position with one compare-and-swap on `tail`, fills the slot, then publishes it
 * through the slot's sequence number; the log thread reads slots in order. Producers never sleep
 * and never make a system call; the log thread polls (see ring_main), so nobody has to wake it.
 */
typedef struct slot {
    _Atomic size_t seq; /* == position: free for it; == position + 1: holds its line */
    uint32_t len;
    char line[SLOT_BYTES];
} slot;

struct log_ring {
    int fd;
    size_t mask;
    slot *slots;
    _Alignas(64) _Atomic size_t tail; /* next position producers claim */
    _Alignas(64) size_t head;         /* next position the log thread reads; its own */
    _Atomic unsigned long dropped;
    pthread_t thread;
    pthread_mutex_t mu; /* only for the stop signal and the idle sleep */
    pthread_cond_t cv;
    bool stop;
    char batch[BATCH_BYTES];
};

static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_init(app_log *lg, log_level level, int fd)
{
    lg->level = level;
    lg->fd = fd;
    lg->ring = NULL;
}

bool log_level_parse(const char *s, log_level *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    return false;
}

const char *log_level_name(log_level l)
{
    return l <= LOG_OFF ? names[l] : "unknown";
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Queues one line; false when the ring is full. */
static bool ring_put(log_ring *r, const char *p, size_t n)
{
    size_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
    slot *sl;
    for (;;) {
        sl = &r->slots[pos & r->mask];
        size_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return false; /* the slot still holds the line of a lap ago: full */
        } else {
            pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
        }
    }
    memcpy(sl->line, p, n);
    sl->len = (uint32_t)n;
    atomic_store_explicit(&sl->seq, pos + 1, memory_order_release);
    return true;
}

/* Moves the queued lines to the fd, a batch per write; returns how many lines it wrote. */
static size_t ring_drain(log_ring *r)
{
    size_t lines = 0, used = 0;
    for (;;) {
        slot *sl = &r->slots[r->head & r->mask];
        if (atomic_load_explicit(&sl->seq, memory_order_acquire) != r->head + 1)
            break;
        if (used + sl->len > sizeof r->batch) {
            write_all(r->fd, r->batch, used);
            used = 0;
        }
        memcpy(r->batch + used, sl->line, sl->len);
        used += sl->len;
        atomic_store_explicit(&sl->seq, r->head + r->mask + 1, memory_order_release);
        r->head++;
        lines++;
    }
    write_all(r->fd, r->batch, used);
    return lines;
}

/*
 * Drains, then sleeps: 1 ms after lines (so a busy server's lines leave in batches of a
 * millisecond, not one write each), doubling up to 10 ms while idle; at once when half the
 * ring filled meanwhile. log_close wakes it.
 */
static void *ring_main(void *arg)
{
    log_ring *r = arg;
    long sleep_ns = 1000000L;
    for (;;) {
        size_t lines = ring_drain(r);
        pthread_mutex_lock(&r->mu);
        if (!r->stop && lines <= r->mask / 2) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += sleep_ns;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->cv, &r->mu, &until);
        }
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) {
            ring_drain(r); /* producers are done: this is the last of their lines */
            return NULL;
        }
        sleep_ns = lines > 0 ? 1000000L : (sleep_ns * 2 > IDLE_SLEEP_MAX_NS ? IDLE_SLEEP_MAX_NS : sleep_ns * 2);
    }
}

void log_async_start(app_log *lg, unsigned slots)
{
    if (lg->ring != NULL)
        return;
    size_t cap = 2;
    while (cap < (slots ? slots : DEFAULT_SLOTS))
        cap *= 2;
    log_ring *r = aligned_alloc(64, (sizeof *r + 63) / 64 * 64);
    if (r == NULL)
        abort();
    memset(r, 0, sizeof *r);
    r->fd = lg->fd;
    r->mask = cap - 1;
    r->slots = xmalloc(cap * sizeof *r->slots);
    for (size_t i = 0; i < cap; i++)
        atomic_init(&r->slots[i].seq, i);
    atomic_init(&r->tail, 0);
    atomic_init(&r->dropped, 0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->mu, NULL);
    /* The log thread takes no signal: the process's stop signals are for whoever waits on them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&r->thread, NULL, ring_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        abort(); /* at start-up, like an allocation failure */
    lg->ring = r;
}

void log_close(app_log *lg)
{
    log_ring *r = lg->ring;
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    lg->ring = NULL;
    unsigned long dropped = atomic_load(&r->dropped);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->slots);
    free(r);
    if (dropped > 0)
        log_write(lg, LOG_WARN, "log lines dropped: the log ring was full", "{s:I}", "dropped", (json_int_t)dropped);
}

unsigned long log_dropped(const app_log *lg)
{
    return lg->ring ? atomic_load_explicit(&lg->ring->dropped, memory_order_relaxed) : 0;
}

/* Queues the line when asynchronous (or drops it if the ring is full), else writes it. */
static void emit(const app_log *lg, log_level level, const char *p, size_t n)
{
    log_ring *r = lg->ring;
    if (r != NULL && n <= SLOT_BYTES) {
        if (ring_put(r, p, n))
            return;
        if (level < LOG_ERROR) {
            atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
            return;
        }
    }
    write_all(lg->fd, p, n); /* synchronous logger, an overlong line, or an error that must not be lost */
}

void log_write(const app_log *lg, log_level level, const char *msg, const char *fields_fmt, ...)
{
    if (!log_enabled(lg, level))
        return;
    char ts[32];
    clock_format_rfc3339_ms(clock_now_ms(clock_system()), ts);
    json_t *line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", log_level_name(level), "msg", msg);
    if (line != NULL && fields_fmt != NULL) {
        va_list ap;
        va_start(ap, fields_fmt);
        json_error_t jerr;
        json_t *fields = json_vpack_ex(&jerr, 0, fields_fmt, ap);
        va_end(ap);
        if (fields != NULL)
            json_object_update(line, fields);
        json_decref(fields);
    }
    char out[4096];
    size_t n = line ? json_dumpb(line, out, sizeof out - 1, JSON_COMPACT | JSON_REAL_PRECISION(6)) : 0;
    json_decref(line);
    if (n == 0 || n > sizeof out - 1) {
        static const char notice[] = "{\"level\":\"error\",\"msg\":\"log line too long or unbuildable\"}\n";
        emit(lg, LOG_ERROR, notice, sizeof notice - 1);
        return;
    }
    out[n++] = '\n';
    emit(lg, level, out, n);
}

bool log_every_pass(log_every *e, int64_t now_ms, int64_t interval_ms, int64_t *held)
{
    int64_t next = atomic_load(&e->next_ms);
    if (now_ms < next || !atomic_compare_exchange_strong(&e->next_ms, &next, now_ms + interval_ms)) {
        atomic_fetch_add(&e->held, 1);
        return false;
    }
    *held = atomic_exchange(&e->held, 0);
    return true;
}

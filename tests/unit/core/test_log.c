/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define THREADS 4

/* A fresh file for the log; returns its fd and leaves its path in `path`. */
static int log_file(char path[64])
{
    snprintf(path, 64, "/tmp/starmeter-test-log-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    return fd;
}

static char *slurp(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    char *text = calloc(1, (size_t)st.st_size + 1);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_eq(fread(text, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    return text;
}

typedef struct writer {
    app_log *lg;
    int thread;
    int lines;
} writer;

static void *write_lines(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < w->lines; i++)
        log_write(w->lg, LOG_INFO, "request", "{s:i, s:i}", "thread", w->thread, "seq", i);
    return NULL;
}

/*
 * Checks the file holds whole JSON lines, each thread's in order; returns how many "request"
 * lines it holds, and the "dropped" count of a drop notice in *dropped.
 */
static int count_lines(const char *path, int lines_per_thread, long *dropped)
{
    char *text = slurp(path);
    int next[THREADS] = {0}, n = 0;
    *dropped = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "not a JSON line: %s", line);
        const char *msg = json_string_value(json_object_get(j, "msg"));
        cr_assert_not_null(msg);
        if (strcmp(msg, "request") == 0) {
            int t = (int)json_integer_value(json_object_get(j, "thread"));
            int seq = (int)json_integer_value(json_object_get(j, "seq"));
            cr_assert(t >= 0 && t < THREADS && seq < lines_per_thread);
            cr_assert_geq(seq, next[t], "thread %d: line %d after %d", t, seq, next[t]);
            next[t] = seq + 1;
            n++;
        } else {
            cr_assert_str_eq(msg, "log lines dropped: the log ring was full");
            *dropped = (long)json_integer_value(json_object_get(j, "dropped"));
        }
        json_decref(j);
    }
    free(text);
    return n;
}

static void run_writers(app_log *lg, int lines_per_thread)
{
    writer w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (writer){.lg = lg, .thread = i, .lines = lines_per_thread};
        cr_assert_eq(pthread_create(&t[i], NULL, write_lines, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

/* Within the ring's capacity nothing is dropped, and log_close writes every queued line. */
Test(log, async_ring_loses_nothing_on_clean_close)
{
    char path[64];
    int fd = log_file(path);
    app_log lg;
    log_init(&lg, LOG_INFO, fd);
    log_async_start(&lg, 4 * 1024);
    log_async_start(&lg, 4 * 1024); /* a no-op */
    run_writers(&lg, 1000);
    cr_assert_eq(log_dropped(&lg), 0);
    log_close(&lg);
    log_close(&lg); /* a no-op */
    long dropped;
    cr_assert_eq(count_lines(path, 1000, &dropped), THREADS * 1000);
    cr_assert_eq(dropped, 0);
    /* Synchronous again: a line is in the file as soon as log_write returns. */
    log_write(&lg, LOG_INFO, "request", "{s:i, s:i}", "thread", 0, "seq", 1000);
    cr_assert_eq(count_lines(path, 1001, &dropped), THREADS * 1000 + 1);
    close(fd);
    unlink(path);
}

/* Lines beyond a full ring are dropped, not waited for; every line is either written or counted. */
Test(log, full_ring_drops_and_counts)
{
    char path[64];
    int fd = log_file(path);
    app_log lg;
    log_init(&lg, LOG_INFO, fd);
    log_async_start(&lg, 4);
    run_writers(&lg, 20000);
    unsigned long counted = log_dropped(&lg);
    log_close(&lg);
    long dropped;
    int written = count_lines(path, 20000, &dropped);
    cr_assert_eq((long)written + dropped, (long)THREADS * 20000, "written %d dropped %ld", written, dropped);
    cr_assert_eq((unsigned long)dropped, counted, "the notice reports what log_dropped counted");
    cr_assert_gt(dropped, 0, "4 slots cannot hold 80000 lines written at once");
    close(fd);
    unlink(path);
}

/* A line longer than a slot still arrives (written directly), and levels below the logger's are skipped. */
Test(log, long_lines_and_levels)
{
    char path[64];
    int fd = log_file(path);
    app_log lg;
    log_init(&lg, LOG_WARN, fd);
    log_async_start(&lg, 0);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_write(&lg, LOG_WARN, "big", "{s:s}", "text", big);
    log_write(&lg, LOG_INFO, "hidden", NULL);
    log_write(&lg, LOG_ERROR, "shown", NULL);
    log_close(&lg);
    char *text = slurp(path);
    cr_assert_not_null(strstr(text, big));
    cr_assert_null(strstr(text, "hidden"));
    cr_assert_not_null(strstr(text, "\"msg\":\"shown\""));
    free(text);
    close(fd);
    unlink(path);
}

Test(log_every, one_line_per_interval_with_the_count_held_back)
{
    log_every e = {0};
    int64_t held = -1;
    cr_assert(log_every_pass(&e, 1000, 10000, &held));
    cr_assert_eq(held, 0);
    for (int i = 0; i < 5; i++)
        cr_assert_not(log_every_pass(&e, 1000 + i * 1000, 10000, &held));
    cr_assert_not(log_every_pass(&e, 10999, 10000, &held));
    cr_assert(log_every_pass(&e, 11000, 10000, &held));
    cr_assert_eq(held, 6);
    cr_assert_not(log_every_pass(&e, 11001, 10000, &held));
    cr_assert(log_every_pass(&e, 50000, 10000, &held));
    cr_assert_eq(held, 1);
}

/* Threads racing at the same instant: exactly one line passes, and every other is counted. */
static log_every race;
static atomic_int passed;
static void *race_main(void *arg)
{
    (void)arg;
    int64_t held;
    for (int i = 0; i < 1000; i++)
        if (log_every_pass(&race, 5, 1000000, &held))
            atomic_fetch_add(&passed, 1);
    return NULL;
}

Test(log_every, racing_threads_let_one_line_through)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, race_main, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&passed), 1);
    int64_t held;
    cr_assert(log_every_pass(&race, 1000005, 1000000, &held));
    cr_assert_eq(held, 3999);
}

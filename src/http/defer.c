/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "http/http_int.h"

/* A unit of deferred work; its message header comes first so a received message is the job. */
typedef struct job {
    h2o_multithread_message_t msg;
    struct job *next;
    struct job *chain; /* more resumes of the same loop, delivered with this one's message */
    http_ctx *ctx;
    h2o_multithread_receiver_t *done_to;
    http_work_fn work;
    http_done_fn done;
    void *arg;
} job;

struct http_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
    void (*thread_exit)(void);
};

static void *pool_main(void *arg)
{
    http_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        job *j = p->head;
        if (j == NULL) { /* stopping and drained */
            pthread_mutex_unlock(&p->mu);
            if (p->thread_exit != NULL)
                p->thread_exit();
            return NULL;
        }
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->work(j->arg);
        h2o_multithread_send_message(j->done_to, &j->msg);
    }
}

http_pool *http__pool_start(unsigned threads, void (*thread_exit)(void))
{
    http_pool *p = xcalloc(1, sizeof *p);
    p->thread_exit = thread_exit;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->nthreads = threads ? threads : 2;
    p->threads = xcalloc(p->nthreads, sizeof *p->threads);
    for (unsigned i = 0; i < p->nthreads; i++)
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
            abort(); /* no threads at start-up: nothing sensible to serve with */
    return p;
}

void http__pool_stop(http_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

void http__pool_submit(http_pool *p, http_ctx *ctx, h2o_multithread_receiver_t *done_to, http_work_fn work,
                       http_done_fn fn, void *arg)
{
    job *j = xcalloc(1, sizeof *j);
    j->ctx = ctx;
    j->done_to = done_to;
    j->work = work;
    j->done = fn;
    j->arg = arg;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

http_resume *http__resume_new(http_ctx *ctx, h2o_multithread_receiver_t *done_to, http_done_fn fn, void *arg)
{
    job *j = xcalloc(1, sizeof *j);
    j->ctx = ctx;
    j->done_to = done_to;
    j->done = fn;
    j->arg = arg;
    return (http_resume *)j;
}

/*
 * Resumes posted by a loop's own thread (the Redis counters deciding on the loop): kept in a
 * thread-local list and run by the loop after its iteration (http__defer_run_here), with no
 * message, system call or wake-up, and never inside the code that posted them.
 */
static _Thread_local struct {
    h2o_multithread_receiver_t *done_to; /* this thread's loop's, once it runs one */
    job *head, *tail;
} here;

void http__defer_bind(h2o_multithread_receiver_t *done_to)
{
    here.done_to = done_to;
}

bool http__defer_here_pending(void)
{
    return here.head != NULL;
}

bool http__defer_run_here(void)
{
    bool ran = here.head != NULL;
    while (here.head != NULL) {
        job *j = here.head;
        here.head = j->next;
        if (here.head == NULL)
            here.tail = NULL;
        j->done(j->ctx, j->arg);
        free(j);
    }
    return ran;
}

/* Keeps a resume for this thread's own loop; false for another loop's. */
static bool keep_here(job *j)
{
    if (j->done_to != here.done_to)
        return false;
    j->next = NULL;
    if (here.tail != NULL)
        here.tail->next = j;
    else
        here.head = j;
    here.tail = j;
    return true;
}

void http_resume_post(http_resume *token)
{
    job *j = (job *)token;
    if (!keep_here(j))
        h2o_multithread_send_message(j->done_to, &j->msg);
}

void http_resume_post_all(http_resume *const *tokens, size_t n)
{
    /* Chains each loop's tokens behind the first of them, then sends one message per loop. A
     * batch holds the calls of a handful of loops, so the quadratic grouping stays small. */
    job *heads[16];
    size_t nheads = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = (job *)tokens[i];
        if (keep_here(j))
            continue;
        j->chain = NULL;
        size_t h = 0;
        while (h < nheads && heads[h]->done_to != j->done_to)
            h++;
        if (h < nheads) {
            j->chain = heads[h]->chain;
            heads[h]->chain = j;
            continue;
        }
        if (nheads == sizeof heads / sizeof heads[0]) { /* more loops than that: send this group now */
            h2o_multithread_send_message(heads[0]->done_to, &heads[0]->msg);
            memmove(heads, heads + 1, (nheads - 1) * sizeof heads[0]);
            nheads--;
        }
        heads[nheads++] = j;
    }
    for (size_t h = 0; h < nheads; h++)
        h2o_multithread_send_message(heads[h]->done_to, &heads[h]->msg);
}

void http__pool_on_done(h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        job *j = H2O_STRUCT_FROM_MEMBER(job, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        while (j != NULL) {
            job *next = j->chain;
            j->done(j->ctx, j->arg);
            free(j);
            j = next;
        }
    }
}

/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * Resources a hostile client could take: bodies read before anyone knows who sends them, memory
 * held by bodies in flight, connections, descriptors, and responses nobody reads. Each test bounds
 * itself (a few connections, small caps) and waits on events with generous deadlines.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/harness.h"

static th_server srv;

static int dial(void)
{
    return th_dial(&srv, 0);
}

static void send_all(int fd, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t w = send(fd, s + off, len - off, MSG_NOSIGNAL);
        cr_assert(w > 0, "send failed");
        off += (size_t)w;
    }
}

/* Whether anything (or the close) arrives on fd within `ms`. */
static bool readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static void stop(void)
{
    th_stop(&srv);
}

/* ---- bodies are judged from the head ---- */

static void start_default(void)
{
    th_start(&srv, NULL);
}

TestSuite(body_gate, .init = start_default, .fini = stop, .timeout = 60);

Test(body_gate, unauthenticated_unknown_or_oversized_bodies_are_refused_unread)
{
    struct {
        const char *head;
        const char *status;
        const char *code;
    } cases[] = {
        {"POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n", "401", "admin_auth_required"},
        {"POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-token-0000000\r\n"
         "Expect: 100-continue\r\nContent-Length: 9000\r\n\r\n",
         "401", "admin_auth_required"},
        {"POST /v1/nothing/here HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n", "404", "not_found"},
        {"PUT /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n", "405", "method_not_allowed"},
        {"POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\nExpect: 100-continue\r\n"
         "Content-Length: 16385\r\n\r\n",
         "413", "payload_too_large"},
        {"GET /v1/b2b/me HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", "401", "missing_api_key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The body is never sent: the answer must come from the head alone. */
        int fd = dial();
        send_all(fd, cases[i].head);
        char out[4096];
        th_read(fd, out, sizeof out, 5000, 0);
        close(fd);
        char want[32];
        snprintf(want, sizeof want, "HTTP/1.1 %s ", cases[i].status);
        cr_assert(strncmp(out, want, strlen(want)) == 0, "case %zu: %s", i, out);
        cr_assert(strstr(out, "100 Continue") == NULL, "case %zu: asked for the body: %s", i, out);
        cr_assert(strstr(out, cases[i].code) != NULL, "case %zu: %s", i, out);
        cr_assert(strstr(out, "\"request_id\"") != NULL, "case %zu: %s", i, out);
    }
}

Test(body_gate, an_accepted_body_is_asked_for_with_100_continue)
{
    int fd = dial();
    send_all(fd, "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                 "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 12\r\n"
                 "Connection: close\r\n\r\n");
    char out[4096];
    th_read(fd, out, sizeof out, 500, 0);
    cr_assert(strncmp(out, "HTTP/1.1 100 Continue", 21) == 0, "%s", out);
    send_all(fd, "{\"name\":\"C\"}");
    th_read(fd, out, sizeof out, 5000, 0);
    cr_assert(strncmp(out, "HTTP/1.1 201 ", 13) == 0, "%s", out);
    close(fd);
}

Test(body_gate, a_refusal_survives_the_body_still_being_sent)
{
    /* The client sends its body without waiting, as most do: the answer arrives while it still
     * writes. A server that closed with those bytes unread would reset the connection. */
    int fd = dial();
    send_all(fd, "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1000000\r\n\r\n");
    char *chunk = malloc(16384);
    memset(chunk, 'a', 16383);
    chunk[16383] = '\0';
    send_all(fd, chunk);
    char out[4096];
    size_t n = 0;
    while (n == 0 || strstr(out, "\"request_id\"") == NULL) {
        cr_assert(readable_within(fd, 5000), "no answer: %s", n ? out : "");
        ssize_t r = recv(fd, out + n, sizeof out - 1 - n, 0);
        cr_assert(r > 0, "the answer was lost (%s)", r < 0 ? strerror(errno) : "closed");
        n += (size_t)r;
        out[n] = '\0';
    }
    cr_assert(strncmp(out, "HTTP/1.1 401 ", 13) == 0, "%s", out);
    for (int i = 0; i < 4; i++) {
        usleep(20000);
        ssize_t w = send(fd, chunk, 16383, MSG_NOSIGNAL);
        cr_assert(w > 0, "the server reset the connection: %s", strerror(errno));
    }
    shutdown(fd, SHUT_WR);
    char rest[256];
    cr_assert(readable_within(fd, 5000));
    ssize_t r = recv(fd, rest, sizeof rest, 0);
    cr_assert_eq(r, 0, "a clean end after the answer, not %s", r < 0 ? strerror(errno) : "more bytes");
    close(fd);
    free(chunk);
}

Test(body_gate, a_head_in_pieces_is_judged_once_it_ends)
{
    /* The gate scans only the new bytes of an unfinished head for its end: a head split anywhere,
     * the blank line included, is still read whole. */
    const char *pieces[] = {"GET /heal", "thz HTTP/1.1\r\nHost: x\r", "\nConnection: close\r\n", "\r", "\n"};
    int fd = dial();
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        send_all(fd, pieces[i]);
        usleep(20000);
    }
    char out[4096];
    th_read(fd, out, sizeof out, 5000, 0);
    close(fd);
    cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
    /* A folded line in a later piece is still found once the head ends. */
    const char *bad[] = {"GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-A: a\r\n b\r\n", "\r\n"};
    fd = dial();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        send_all(fd, bad[i]);
        usleep(20000);
    }
    th_read(fd, out, sizeof out, 5000, 0);
    close(fd);
    cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "%s", out);
}

/*
 * Writes `len` bytes of `req` while reading what comes back, until the server closes or `ms` pass
 * with nothing moving; returns how many responses came.
 */
static int pump(int fd, const char *req, size_t len, int ms)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    size_t off = 0;
    int answers = 0;
    char *buf = malloc(1 << 16);
    size_t keep = 0; /* the tail of the last read, so that a split status line is still counted */
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (off < len ? POLLOUT : 0)};
        if (poll(&p, 1, ms) <= 0)
            break;
        if ((p.revents & POLLOUT) && off < len) {
            ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN)
                break;
            if (w > 0)
                off += (size_t)w;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, buf + keep, (1 << 16) - 1 - keep, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                break;
            if (r < 0)
                continue;
            size_t n = keep + (size_t)r;
            buf[n] = '\0';
            for (char *q = buf; (q = strstr(q, "HTTP/1.1 200")) != NULL; q++)
                answers++;
            keep = n < 11 ? n : 11; /* shorter than the pattern: never counted twice */
            memmove(buf, buf + n - keep, keep);
        }
    }
    free(buf);
    return answers;
}

Test(body_gate, pipelined_requests_are_answered_in_order_up_to_a_bound)
{
    static const char one[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    enum { FEW = 200, MANY = 8000 }; /* about 7 KiB, and about 270 KiB */
    char *req = malloc(MANY * (sizeof one - 1) + 1);
    for (int i = 0; i < MANY; i++)
        memcpy(req + (size_t)i * (sizeof one - 1), one, sizeof one - 1);
    int fd = dial();
    int answers = pump(fd, req, FEW * (sizeof one - 1), 1000);
    close(fd);
    cr_assert_eq(answers, FEW, "every pipelined request is answered");
    /* A client that sends far more than it reads makes the server hold it all: past the bound the
     * connection ends after an answer. */
    fd = dial();
    answers = pump(fd, req, MANY * (sizeof one - 1), 5000);
    close(fd);
    cr_assert_gt(answers, 0);
    cr_assert_lt(answers, MANY, "all %d answered: the pipelined bytes held have no bound", MANY);
    free(req);
    th_response r;
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
}

/* ---- memory held by bodies in flight ---- */

static void tune_small_body_budget(app_config *cfg)
{
    cfg->max_body_memory = 16384;
}

static void start_small_body_budget(void)
{
    th_opts o = {.tune = tune_small_body_budget};
    th_start(&srv, &o);
}

TestSuite(body_budget, .init = start_small_body_budget, .fini = stop, .timeout = 60);

Test(body_budget, bodies_past_the_budget_are_refused_until_one_ends)
{
    const char head[] = "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                        "Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n";
    int holder = dial(); /* announces 10,000 bytes and sends none: they are held for it */
    send_all(holder, head);
    cr_assert(!readable_within(holder, 300), "the first body is let through");
    int second = dial();
    send_all(second, head);
    char out[4096];
    th_read(second, out, sizeof out, 5000, 0);
    close(second);
    cr_assert(strncmp(out, "HTTP/1.1 429 ", 13) == 0, "%s", out);
    cr_assert(strstr(out, "\"scope\":\"server\"") != NULL, "%s", out);
    cr_assert(strstr(out, "Retry-After: 1") != NULL || strstr(out, "retry-after: 1") != NULL, "%s", out);
    close(holder); /* its share comes back when its connection ends */
    bool served = false;
    for (int i = 0; i < 100 && !served; i++) {
        th_response r;
        th_admin(&srv, "POST", "/v1/admin/accounts", "{\"name\":\"after\"}", &r);
        served = r.status == 201;
        th_response_free(&r);
        if (!served)
            usleep(50000);
    }
    cr_assert(served, "the budget came back");
}

static void tune_budget_under_route_limit(app_config *cfg)
{
    cfg->max_body_memory = 8192; /* under the 16 KiB the admin routes take */
}

static void start_budget_under_route_limit(void)
{
    th_opts o = {.tune = tune_budget_under_route_limit};
    th_start(&srv, &o);
}

TestSuite(body_budget_small, .init = start_budget_under_route_limit, .fini = stop, .timeout = 60);

Test(body_budget_small, a_body_that_can_never_fit_is_413_and_chunked_bodies_still_run)
{
    int fd = dial();
    send_all(fd, "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                 "Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n");
    char out[4096];
    th_read(fd, out, sizeof out, 5000, 0);
    close(fd);
    cr_assert(strncmp(out, "HTTP/1.1 413 ", 13) == 0, "a retry would never succeed: %s", out);
    cr_assert(strstr(out, "\"max_bytes\":8192") != NULL, "%s", out);
    fd = dial();
    send_all(fd, "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 "e\r\n{\"name\":\"Chu\"}\r\n0\r\n\r\n");
    th_read(fd, out, sizeof out, 5000, 0);
    close(fd);
    cr_assert(strncmp(out, "HTTP/1.1 201 ", 13) == 0, "%s", out);
}

/* ---- connections ---- */

static void tune_two_connections(app_config *cfg)
{
    cfg->max_connections = 2;
    cfg->threads = 1;
}

static void start_two_connections(void)
{
    th_opts o = {.tune = tune_two_connections};
    th_start(&srv, &o);
}

TestSuite(connection_cap, .init = start_two_connections, .fini = stop, .timeout = 60);

Test(connection_cap, connections_past_the_cap_wait_until_one_closes)
{
    int idle[2] = {dial(), dial()};
    /* Both are accepted: each is answered. */
    for (int i = 0; i < 2; i++) {
        send_all(idle[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        char out[2048];
        th_read(idle[i], out, sizeof out, 300, 0);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "connection %d: %s", i, out);
    }
    int third = dial(); /* completes in the kernel's backlog; the server does not take it */
    send_all(third, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(!readable_within(third, 500), "a third connection was served past the cap of 2");
    close(idle[0]);
    char out[2048];
    th_read(third, out, sizeof out, 10000, 0);
    cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "served once a slot freed: %s", out);
    close(third);
    close(idle[1]);
}

static void tune_two_connections_four_loops(app_config *cfg)
{
    cfg->max_connections = 2;
    cfg->threads = 4;
}

static void start_two_connections_four_loops(void)
{
    th_opts o = {.tune = tune_two_connections_four_loops};
    th_start(&srv, &o);
}

TestSuite(connection_cap_shared, .init = start_two_connections_four_loops, .fini = stop, .timeout = 60);

Test(connection_cap_shared, the_cap_holds_over_every_loop)
{
    enum { N = 8 };
    int fd[N];
    bool served[N];
    for (int i = 0; i < N; i++) {
        fd[i] = dial();
        send_all(fd[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    int n = 0;
    for (int i = 0; i < N; i++) {
        served[i] = readable_within(fd[i], i < 2 ? 2000 : 300);
        n += served[i];
    }
    cr_assert_leq(n, 2, "%d connections served under a cap of 2", n);
    cr_assert_geq(n, 1);
    for (int i = 0; i < N; i++)
        if (served[i])
            close(fd[i]);
    bool more = false;
    for (int t = 0; t < 100 && !more; t++)
        for (int i = 0; i < N && !more; i++)
            more = !served[i] && readable_within(fd[i], 10);
    cr_assert(more, "a waiting connection was taken once the first closed");
    for (int i = 0; i < N; i++)
        if (!served[i])
            close(fd[i]);
}

/* ---- responses nobody reads ---- */

static void tune_short_write_deadline(app_config *cfg)
{
    cfg->write_timeout_ms = 300;
    cfg->threads = 1;
}

static void start_short_write_deadline(void)
{
    th_opts o = {.tune = tune_short_write_deadline};
    th_start(&srv, &o);
}

TestSuite(write_deadline, .init = start_short_write_deadline, .fini = stop, .timeout = 60);

Test(write_deadline, a_client_that_stops_reading_loses_its_connection)
{
    int fd = th_dial(&srv, 4096);
    /* Far more answer than the socket buffers hold: the server's write stalls while we do not read. */
    enum { N = 400 };
    for (int i = 0; i < N; i++)
        send_all(fd, "GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n");
    sleep(2);
    /* Now read: the connection ends long before N answers, since the server gave up on it. */
    size_t total = 0;
    int answers = 0;
    char *chunk = malloc(1 << 16);
    bool ended = false;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t r = recv(fd, chunk, (1 << 16) - 1, 0);
        if (r <= 0) {
            ended = true;
            break;
        }
        chunk[r] = '\0';
        for (char *q = chunk; (q = strstr(q, "HTTP/1.1 200")) != NULL; q++)
            answers++;
        total += (size_t)r;
    }
    free(chunk);
    close(fd);
    cr_assert(ended, "the server kept the connection (%d answers, %zu bytes)", answers, total);
    cr_assert_lt(answers, N, "every answer was written: no deadline");
    size_t len;
    char *log = th_read_file(srv.log_path, &len);
    cr_assert(strstr(log, "write deadline passed") != NULL);
    free(log);
    th_response r;
    th_request(&srv, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
}

Test(write_deadline, a_failed_write_runs_nothing_pipelined_after_it)
{
    int fd = th_dial(&srv, 4096);
    /* Answers that stall the connection, then a request with an effect, in one write: when the
     * stalled write fails, nothing after it may run. */
    static const char get[] = "GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char post[] = "POST /v1/admin/accounts HTTP/1.1\r\nHost: x\r\n" TH_ADMIN_AUTH "\r\n"
                               "Content-Type: application/json\r\nContent-Length: 24\r\n\r\n"
                               "{\"name\":\"after-failure\"}";
    enum { N = 100 };
    char *req = malloc(N * (sizeof get - 1) + sizeof post);
    for (int i = 0; i < N; i++)
        memcpy(req + (size_t)i * (sizeof get - 1), get, sizeof get - 1);
    memcpy(req + N * (sizeof get - 1), post, sizeof post);
    send_all(fd, req);
    free(req);
    sleep(2);
    close(fd);
    usleep(300000);
    th_response r;
    th_request(&srv, "GET", "/v1/admin/accounts", (const char *[]){TH_ADMIN_AUTH, NULL}, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "after-failure") == NULL, "a request after the failed write ran: %s", r.body);
    th_response_free(&r);
}

Test(write_deadline, a_slow_reader_gets_its_whole_answer)
{
    int fd = th_dial(&srv, 4096);
    /* More answer than the socket buffers hold, so that the server's writes wait on the client. */
    static const char get[] = "GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char last[] = "GET /openapi.yaml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    enum { N = 120 };
    char *req = malloc(N * (sizeof get - 1) + sizeof last);
    for (int i = 0; i < N - 1; i++)
        memcpy(req + (size_t)i * (sizeof get - 1), get, sizeof get - 1);
    memcpy(req + (N - 1) * (sizeof get - 1), last, sizeof last);
    send_all(fd, req);
    free(req);
    /* First about 1 KiB every 10 ms for 1.5 s: one answer then takes longer than the 300 ms
     * deadline to leave, but the client never stops reading. Then the rest, at once. */
    size_t total = 0, cap = 64u << 20;
    char *all = malloc(cap + 1);
    for (int i = 0; i < 150; i++) {
        usleep(10000);
        if (!readable_within(fd, 10000))
            break;
        ssize_t r = recv(fd, all + total, 1024, 0);
        if (r <= 0)
            break;
        total += (size_t)r;
    }
    for (;;) {
        if (!readable_within(fd, 10000) || total == cap)
            break;
        ssize_t r = recv(fd, all + total, cap - total, 0);
        if (r <= 0)
            break;
        total += (size_t)r;
    }
    close(fd);
    all[total] = '\0';
    int answers = 0;
    for (char *q = all; (q = strstr(q, "HTTP/1.1 200")) != NULL; q++)
        answers++;
    free(all);
    size_t len;
    char *log = th_read_file(srv.log_path, &len);
    bool cut = strstr(log, "write deadline passed") != NULL;
    free(log);
    cr_assert(!cut, "a reading client was cut off (%d answers, %zu bytes)", answers, total);
    cr_assert_eq(answers, N, "%zu bytes", total);
}

/* ---- descriptors ---- */

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

TestSuite(descriptors, .init = start_default, .fini = stop, .timeout = 60);

Test(descriptors, out_of_descriptors_the_server_pauses_and_recovers)
{
    /* The server runs in this process: the clients' sockets are made first, then every descriptor
     * left is taken, then the clients connect: the server has none to accept them with. */
    enum { SPARE = 4, MAXHOG = 65536 };
    int clients[SPARE];
    for (int i = 0; i < SPARE; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(clients[i] >= 0);
    }
    int *hog = malloc(MAXHOG * sizeof *hog);
    int nhog = 0;
    while (nhog < MAXHOG) {
        int fd = dup(0);
        if (fd < 0)
            break;
        hog[nhog++] = fd;
    }
    cr_assert(nhog > 0 && nhog < MAXHOG, "could not exhaust descriptors (%d)", nhog);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(app_port(srv.app))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    for (int i = 0; i < SPARE; i++) {
        cr_assert_eq(connect(clients[i], (struct sockaddr *)&a, sizeof a), 0);
        send_all(clients[i], "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    }
    /* The listener stays readable; a server that kept trying would burn its loops. Generous bound:
     * two loops spinning take about 2 s of CPU in 1 s. */
    double before = cpu_seconds();
    sleep(1);
    double used = cpu_seconds() - before;
    cr_assert_lt(used, 0.6, "the loops spun on accept (%.2f s of CPU in 1 s)", used);
    for (int i = 0; i < nhog; i++)
        close(hog[i]);
    free(hog);
    for (int i = 0; i < SPARE; i++) {
        char out[2048];
        th_read(clients[i], out, sizeof out, 10000, 0);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "client %d after recovery: %s", i, out);
        close(clients[i]);
    }
    size_t len;
    char *log = th_read_file(srv.log_path, &len);
    cr_assert(strstr(log, "accept failed; pausing") != NULL);
    free(log);
}

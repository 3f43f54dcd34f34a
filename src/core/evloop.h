/* SPDX-License-Identifier: AGPL-3.0-or-later */
#ifndef STARMETER_CORE_EVLOOP_H
#define STARMETER_CORE_EVLOOP_H

/*
 * An event loop, as the thread that runs it lends it to the layers below http/: a connected
 * socket adopted by the loop, whose bytes arrive through a callback on the loop's thread and
 * whose writes go out without blocking it. http/ implements it on its own loops (h2o's); infra/
 * uses it for a client connection that must not cost a thread hop (the Redis counters). Every
 * function runs on the loop's own thread only.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct ev_loop ev_loop;
typedef struct ev_stream ev_stream;

typedef struct ev_stream_cbs {
    /*
     * Bytes arrived, borrowed for the call; a reply may be split anywhere between calls. Returns 0,
     * or nonzero when they make no sense: the stream then fails (on_error, "malformed data").
     */
    int (*on_data)(void *arg, const char *data, size_t len);
    /*
     * The stream failed: the peer closed it, a read or write failed, or its deadline passed with
     * nothing read (`why` says which). The stream is closed when this returns: it must not be
     * used again (ev_stream_close included).
     */
    void (*on_error)(void *arg, const char *why);
} ev_stream_cbs;

struct ev_loop_ops {
    /*
     * Adopts `fd`, a connected socket (made non-blocking here), on the loop: the stream owns it
     * from then on. `cbs` and `arg` are borrowed for the stream's life. `deadline_ms` is the
     * deadline ev_stream_arm sets.
     */
    ev_stream *(*adopt)(ev_loop *loop, int fd, const ev_stream_cbs *cbs, void *arg, uint32_t deadline_ms);
    /* Sends `len` bytes (copied) after what was sent before, without waiting. A failure is
     * reported later, from the loop (on_error), never from within this call. */
    void (*write)(ev_stream *s, const char *data, size_t len);
    /* Arms the deadline afresh (on_error when it passes with nothing read), or disarms it. */
    void (*arm)(ev_stream *s, int armed);
    /* Closes the stream; no callback runs after. */
    void (*close)(ev_stream *s);
    /* Any thread: the loop runs an iteration soon (the hooks its thread calls after one with it). */
    void (*wake)(ev_loop *loop);
};

/* What an implementation's loop and streams begin with. */
struct ev_loop {
    const struct ev_loop_ops *ops;
};
struct ev_stream {
    const struct ev_loop_ops *ops;
};

static inline ev_stream *ev_stream_adopt(ev_loop *loop, int fd, const ev_stream_cbs *cbs, void *arg,
                                         uint32_t deadline_ms)
{
    return loop->ops->adopt(loop, fd, cbs, arg, deadline_ms);
}
static inline void ev_stream_write(ev_stream *s, const char *data, size_t len)
{
    s->ops->write(s, data, len);
}
static inline void ev_stream_arm(ev_stream *s, int armed)
{
    s->ops->arm(s, armed);
}
static inline void ev_stream_close(ev_stream *s)
{
    s->ops->close(s);
}
static inline void ev_loop_wake(ev_loop *loop)
{
    loop->ops->wake(loop);
}

#endif

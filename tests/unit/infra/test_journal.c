/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The usage journal on its own: appends read back whole, segments roll over, torn tails and live
 * segments are left alone by a replay. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "infra/journal.h"
#include "integration/harness.h"

static char dir[256];
static journal *j;

static void setup(void)
{
    th_tmpdir(dir);
    app_err err;
    app_err_clear(&err);
    j = journal_open(dir, &err);
    cr_assert_not_null(j, "%s", err.message);
}

static void teardown(void)
{
    journal_close(j);
    th_rmdir(dir);
}

TestSuite(journal, .init = setup, .fini = teardown);

static journal_entry entry(int64_t i)
{
    return (journal_entry){.account_id = 1 + i % 7,
                           .credential_id = 100 + i,
                           .day = 20775 + i % 2,
                           .requests = 1,
                           .overage = (int)(i % 3 == 0)};
}

Test(journal, appended_entries_read_back_whole)
{
    journal_segment *seg = NULL;
    app_err err;
    app_err_clear(&err);
    for (int64_t i = 0; i < 10; i++) {
        journal_entry e = entry(i);
        cr_assert_eq(journal_append(j, &seg, &e, 1, &err), 0, "%s", err.message);
    }
    journal_entry many[20];
    for (int64_t i = 0; i < 20; i++)
        many[i] = entry(10 + i);
    cr_assert_eq(journal_append(j, &seg, many, 20, &err), 0);
    journal_segment *segs[4];
    cr_assert_eq(journal_segments(j, segs, 4), 1);
    cr_assert_eq(segs[0], seg);
    journal_entry out[64];
    size_t n;
    int64_t next;
    cr_assert_eq(journal_read(seg, 0, out, 64, &n, &next, &err), 0);
    cr_assert_eq(n, 30);
    cr_assert_eq(next, atomic_load(&seg->end));
    for (int64_t i = 0; i < 30; i++) {
        journal_entry e = entry(i);
        cr_assert(out[i].account_id == e.account_id && out[i].credential_id == e.credential_id && out[i].day == e.day &&
                      out[i].requests == e.requests && out[i].overage == e.overage && out[i].blocked == e.blocked,
                  "entry %lld", (long long)i);
    }
    cr_assert_eq(journal_read(seg, next, out, 64, &n, &next, &err), 0);
    cr_assert_eq(n, 0, "nothing new");
    bool synced;
    cr_assert_eq(journal_sync(j, &synced, &err), 0);
    cr_assert(synced);
    cr_assert_eq(journal_sync(j, &synced, &err), 0);
    cr_assert_not(synced, "nothing appended since");
}

Test(journal, a_full_segment_is_sealed_and_the_next_append_opens_another)
{
    journal_segment *seg = NULL;
    app_err err;
    app_err_clear(&err);
    static journal_entry batch[1000];
    for (int i = 0; i < 1000; i++)
        batch[i] = entry(i);
    /* 4 MiB of 48-byte records: 88 batches of 1,000 pass it. */
    for (int i = 0; i < 88; i++)
        cr_assert_eq(journal_append(j, &seg, batch, 1000, &err), 0);
    journal_segment *first = seg;
    cr_assert_eq(journal_append(j, &seg, batch, 1, &err), 0);
    cr_assert_neq(seg, first, "moved on");
    cr_assert(atomic_load(&first->sealed));
    journal_segment *segs[4];
    cr_assert_eq(journal_segments(j, segs, 4), 2);
    first->folded = atomic_load(&first->end);
    cr_assert_eq(journal_retire(j, first, &err), 0, "%s", err.message);
    cr_assert_eq(journal_segments(j, segs, 4), 1);
    cr_assert_eq(segs[0], seg);
}

static int64_t replayed;
static char replayed_name[JOURNAL_NAME_MAX];

static int on_leftover(void *arg, const char *name, journal_leftover *lo, app_err *err)
{
    int64_t from = *(int64_t *)arg;
    journal_entry out[64];
    size_t n;
    int64_t next;
    int rc = journal_leftover_read(lo, from, out, 64, &n, &next, err);
    replayed += (int64_t)n;
    snprintf(replayed_name, sizeof replayed_name, "%s", name);
    return rc != 0 ? rc : journal_leftover_remove(lo, err);
}

Test(journal, a_replay_takes_whole_records_from_the_mark_and_stops_at_a_torn_one)
{
    journal_segment *seg = NULL;
    app_err err;
    app_err_clear(&err);
    journal_entry e[5];
    for (int i = 0; i < 5; i++)
        e[i] = entry(i);
    cr_assert_eq(journal_append(j, &seg, e, 5, &err), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, seg->name);
    /* A crash in the middle of the next write: half a record at the tail. */
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "\x01\x02\x03\x04\x05\x06\x07\x08torn", 12), 12);
    close(fd);
    journal_close(j); /* the process is gone: its lock with it */
    j = journal_open(dir, &err);
    int64_t from = 2 * 48; /* the ledger already has the first two */
    replayed = 0;
    cr_assert_eq(journal_recover(j, on_leftover, &from, &err), 0, "%s", err.message);
    cr_assert_eq(replayed, 3);
    cr_assert_eq(access(path, F_OK), -1, "removed once replayed");
}

Test(journal, a_leftover_folded_past_what_its_file_kept_replays_nothing)
{
    /* A power loss can take a tail the ledger had folded already: the mark lies past the end. */
    journal_segment *seg = NULL;
    app_err err;
    app_err_clear(&err);
    journal_entry e[2] = {entry(1), entry(2)};
    cr_assert_eq(journal_append(j, &seg, e, 2, &err), 0);
    journal_close(j);
    j = journal_open(dir, &err);
    int64_t from = 5 * 48;
    replayed = 0;
    cr_assert_eq(journal_recover(j, on_leftover, &from, &err), 0, "%s", err.message);
    cr_assert_eq(replayed, 0);
}

Test(journal, a_segment_a_crash_left_unnamed_is_removed_and_not_replayed)
{
    /* Segments are created under a name recovery ignores, then renamed once locked. */
    app_err err;
    app_err_clear(&err);
    char path[600];
    snprintf(path, sizeof path, "%s/0000000000001-1-1.journal.new", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0640);
    cr_assert_geq(fd, 0);
    close(fd);
    journal_segment *seg = NULL;
    journal_entry e = entry(1);
    cr_assert_eq(journal_append(j, &seg, &e, 1, &err), 0, "%s", err.message);
    cr_assert_eq(strstr(seg->name, ".new"), NULL, "named once locked");
    journal *other = journal_open(dir, &err);
    int64_t from = 0;
    replayed = 0;
    cr_assert_eq(journal_recover(other, on_leftover, &from, &err), 0, "%s", err.message);
    cr_assert_eq(replayed, 0, "the live segment is locked, the unnamed one empty");
    cr_assert_eq(access(path, F_OK), -1, "the unnamed one is removed");
    journal_close(other);
}

Test(journal, two_journals_of_one_process_never_name_a_segment_alike)
{
    /* A segment's name is the key of its mark in a ledger every node shares: two nodes with the
     * same process id (in-process here, containers in production) must never collide, even in
     * the same millisecond. */
    char other_dir[256];
    th_tmpdir(other_dir);
    app_err err;
    app_err_clear(&err);
    journal *other = journal_open(other_dir, &err);
    cr_assert_not_null(other, "%s", err.message);
    journal_segment *a = NULL, *b = NULL;
    journal_entry e = entry(1);
    cr_assert_eq(journal_append(j, &a, &e, 1, &err), 0);
    cr_assert_eq(journal_append(other, &b, &e, 1, &err), 0);
    const char *ida = strchr(a->name, '-'), *idb = strchr(b->name, '-');
    cr_assert(ida != NULL && idb != NULL);
    cr_assert(strncmp(ida, idb, 17) != 0, "each journal's own id: %s, %s", a->name, b->name);
    cr_assert_lt(strlen(a->name), (size_t)JOURNAL_NAME_MAX);
    journal_close(other);
    th_rmdir(other_dir);
}

Test(journal, a_replay_leaves_a_live_process_s_segments_alone)
{
    journal_segment *seg = NULL;
    app_err err;
    app_err_clear(&err);
    journal_entry e = entry(1);
    cr_assert_eq(journal_append(j, &seg, &e, 1, &err), 0);
    journal *other = journal_open(dir, &err); /* a second process on the same directory */
    int64_t from = 0;
    replayed = 0;
    cr_assert_eq(journal_recover(other, on_leftover, &from, &err), 0);
    cr_assert_eq(replayed, 0, "locked by its writer");
    journal_close(other);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, seg->name);
    cr_assert_eq(access(path, F_OK), 0);
}

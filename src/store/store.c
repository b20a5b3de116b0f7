/*
 * store.c - the backend-independent part of the store: the writer thread,
 * its job queue and group commit; reads are forwarded to the backend.
 */
#include "store.h"
#include "log.h"
#include "metrics.h"
#include "rbtime.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Jobs taken into one transaction at most: bounds the latency a single
 * batch adds and the work lost to one storage failure. */
#define BATCH_MAX 512

struct store {
  const struct store_backend *be;
  void *h;
  pthread_t writer;
  int writer_started;
  pthread_mutex_t mu;
  pthread_cond_t wake;   /* jobs queued or stopping */
  pthread_cond_t done;   /* a batch finished */
  struct store_job *head, **tail;
  size_t pending;
  size_t max_pending;
  int stopping;
  /* Committed batches awaiting be->sync (backends that have one). */
  pthread_t syncer;
  int syncer_started;
  pthread_cond_t sync_wake;  /* unsynced jobs, or the writer is done */
  struct store_job *unsynced, **unsynced_tail;
  size_t unsynced_n;
  int64_t unsynced_t0;
  int syncing;           /* a be->sync is running (either thread) */
  int writer_done;
  /* Memory given back after this long without jobs (writer thread). */
  int64_t idle_release_ns;
  int idle_dirty;        /* jobs ran since the last release */
  unsigned long releases;
};

static int
storage_failure(rb_status st)
{
  return st == RB_EUNAVAIL || st == RB_EIO || st == RB_ENOMEM
         || st == RB_EINTERNAL;
}

/* Hands every job of a list its outcome (all, when non-zero, overrides
 * each job's own). */
static void
finish(struct store *st, struct store_job *list, rb_status all)
{
  struct store_job *async = NULL, **atail = &async, *j, *next;
  int waiters = 0;

  /* A waiter's job lives on its stack and may be gone as soon as it is
   * marked finished; an asynchronous job belongs to its done(), which may
   * free it.  So neither is touched after being handed back. */
  pthread_mutex_lock(&st->mu);
  for (j = list; j; j = next) {
    next = j->next;
    if (all)
      j->status = all;
    if (j->done) {
      *atail = j;
      atail = &j->next;
    } else {
      j->finished = 1;
      waiters = 1;
    }
  }
  *atail = NULL;
  if (waiters)
    pthread_cond_broadcast(&st->done);
  pthread_mutex_unlock(&st->mu);
  for (j = async; j; j = next) {
    next = j->next;
    j->done(j, j->status);
  }
}

/* Runs one batch in one transaction.  Returns RB_OK once it is committed
 * (durable only after be->sync when the backend has one). */
static rb_status
run_batch(struct store *st, struct store_job **jobs, size_t n)
{
  rb_status rc;

  rc = st->be->begin(st->h);
  if (rc)
    goto fail;
  for (size_t i = 0; i < n; i++) {
    if (jobs[i]->flags & STORE_JOB_NO_SAVEPOINT) {
      /* Nothing to undo alone: any failure fails the batch. */
      jobs[i]->status = jobs[i]->fn(st, jobs[i]->arg);
      rc = jobs[i]->status;
      if (rc)
        goto fail_rollback;
      continue;
    }
    rc = st->be->savepoint(st->h);
    if (rc)
      goto fail_rollback;
    jobs[i]->status = jobs[i]->fn(st, jobs[i]->arg);
    if (jobs[i]->status == RB_OK) {
      rc = st->be->release(st->h);
    } else if (storage_failure(jobs[i]->status)) {
      rc = jobs[i]->status;
    } else {
      rc = st->be->rollback_to(st->h);
    }
    if (rc)
      goto fail_rollback;
  }
  rc = st->be->commit(st->h);
  if (rc)
    goto fail_rollback;
  return RB_OK;

fail_rollback:
  st->be->rollback(st->h);
fail:
  metrics_store_error();
  rblog(LOG_ERROR, "store transaction failed; answering 503 so senders retry",
        "error", rb_strerror(rc), NULL);
  return RB_EUNAVAIL;
}

/* One be->sync, which covers every batch committed before it started,
 * then the answers of list (n jobs, the first batch begun at t0). */
static void
sync_and_finish(struct store *st, struct store_job *list, size_t n, int64_t t0)
{
  int64_t s0 = rb_mono_ns();
  rb_status rc;

  rc = st->be->sync(st->h);
  metrics_sync(rb_mono_ns() - s0);
  if (rc) {
    metrics_store_error();
    rblog(LOG_ERROR, "store sync failed; answering 503 so senders retry", "error",
          rb_strerror(rc), NULL);
    finish(st, list, RB_EUNAVAIL);
    return;
  }
  /* From the first batch's BEGIN until durable; n jobs per sync. */
  metrics_commit(rb_mono_ns() - t0, n);
  finish(st, list, RB_OK);
}

/* Waits on wake at most idle_release_ns; 1 when that passed with nothing
 * queued (with st->mu). */
static int
wait_idle(struct store *st)
{
  int64_t at = rb_mono_ns() + st->idle_release_ns;
  struct timespec ts = { (time_t)(at / 1000000000), (long)(at % 1000000000) };

  return pthread_cond_timedwait(&st->wake, &st->mu, &ts) == ETIMEDOUT && !st->head
         && !st->stopping;
}

static void *
writer_main(void *arg)
{
  struct store *st = arg;
  struct store_job *batch[BATCH_MAX], *list;

  rb_thread_name("rb-store");

  for (;;) {
    size_t n = 0;
    int64_t t0;
    rb_status rc;

    pthread_mutex_lock(&st->mu);
    while (!st->head && !st->stopping) {
      if (!st->idle_dirty) {
        pthread_cond_wait(&st->wake, &st->mu);
        continue;
      }
      if (wait_idle(st)) {
        /* Idle since the last jobs: after a burst (a 10,000-alert
         * webhook, a storm of notifications) the caches and the free heap
         * go back to the system instead of staying resident. */
        st->idle_dirty = 0;
        pthread_mutex_unlock(&st->mu);
        if (st->be->release_memory)
          st->be->release_memory(st->h);
        malloc_trim(0);
        pthread_mutex_lock(&st->mu);
        st->releases++;
      }
    }
    if (!st->head && st->stopping) {
      st->writer_done = 1;
      pthread_cond_signal(&st->sync_wake);
      pthread_mutex_unlock(&st->mu);
      break;
    }
    list = st->head;
    while (st->head && n < BATCH_MAX) {
      batch[n++] = st->head;
      st->head = st->head->next;
    }
    batch[n - 1]->next = NULL;
    if (!st->head)
      st->tail = &st->head;
    st->pending -= n;
    st->idle_dirty = 1;
    pthread_mutex_unlock(&st->mu);

    t0 = rb_mono_ns();
    rc = run_batch(st, batch, n);
    if (rc || !st->be->sync) {
      if (!rc)
        metrics_commit(rb_mono_ns() - t0, n);
      finish(st, list, rc);
      continue;
    }
    /* Committed but not yet durable.  With nothing queued behind it and
     * no sync running, this thread syncs and answers it itself (a
     * hand-off less); otherwise the sync thread answers it after its next
     * sync, while this thread goes on with the next batch. */
    pthread_mutex_lock(&st->mu);
    if (!st->head && !st->syncing && !st->unsynced) {
      st->syncing = 1;
      pthread_mutex_unlock(&st->mu);
      sync_and_finish(st, list, n, t0);
      pthread_mutex_lock(&st->mu);
      st->syncing = 0;
      if (st->unsynced)
        pthread_cond_signal(&st->sync_wake);
      pthread_mutex_unlock(&st->mu);
      continue;
    }
    if (!st->unsynced)
      st->unsynced_t0 = t0;
    *st->unsynced_tail = list;
    st->unsynced_tail = &batch[n - 1]->next;
    st->unsynced_n += n;
    pthread_cond_signal(&st->sync_wake);
    pthread_mutex_unlock(&st->mu);
  }
  return NULL;
}

/* Makes committed batches durable: one be->sync covers every batch
 * committed before it started, then their jobs are answered. */
static void *
sync_main(void *arg)
{
  struct store *st = arg;

  rb_thread_name("rb-sync");

  for (;;) {
    struct store_job *list;
    size_t n;
    int64_t t0;

    pthread_mutex_lock(&st->mu);
    while (!st->unsynced && !st->writer_done)
      pthread_cond_wait(&st->sync_wake, &st->mu);
    if (!st->unsynced) {
      pthread_mutex_unlock(&st->mu);
      break;
    }
    list = st->unsynced;
    n = st->unsynced_n;
    t0 = st->unsynced_t0;
    st->unsynced = NULL;
    st->unsynced_tail = &st->unsynced;
    st->unsynced_n = 0;
    st->syncing = 1;
    pthread_mutex_unlock(&st->mu);

    sync_and_finish(st, list, n, t0);
    pthread_mutex_lock(&st->mu);
    st->syncing = 0;
    pthread_mutex_unlock(&st->mu);
  }
  return NULL;
}

rb_status
store_open(const struct store_options *opt, struct store **out, char *err)
{
  struct store *st = calloc(1, sizeof(*st));
  pthread_condattr_t ca;
  rb_status rc;

  *out = NULL;
  if (!st) {
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  rc = store_sqlite_open(opt, &st->be, &st->h, err);
  if (rc) {
    free(st);
    return rc;
  }
  pthread_mutex_init(&st->mu, NULL);
  /* The writer's idle wait runs on the monotonic clock. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&st->wake, &ca);
  pthread_condattr_destroy(&ca);
  st->idle_release_ns = (opt->idle_release_ms > 0 ? opt->idle_release_ms : 5000) * 1000000;
  pthread_cond_init(&st->done, NULL);
  pthread_cond_init(&st->sync_wake, NULL);
  st->tail = &st->head;
  st->unsynced_tail = &st->unsynced;
  st->max_pending = opt->max_pending_jobs ? opt->max_pending_jobs : 10000;
  if (!opt->read_only) {
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
      snprintf(err, RB_ERRLEN, "cannot start the store writer thread");
      store_close(st);
      return RB_EINTERNAL;
    }
    st->writer_started = 1;
    if (st->be->sync) {
      if (pthread_create(&st->syncer, NULL, sync_main, st) != 0) {
        snprintf(err, RB_ERRLEN, "cannot start the store sync thread");
        store_close(st);
        return RB_EINTERNAL;
      }
      st->syncer_started = 1;
    }
  }
  *out = st;
  return RB_OK;
}

void
store_close(struct store *st)
{
  if (!st)
    return;
  pthread_mutex_lock(&st->mu);
  st->stopping = 1;
  pthread_cond_broadcast(&st->wake);
  pthread_mutex_unlock(&st->mu);
  if (st->writer_started)
    pthread_join(st->writer, NULL);
  /* The writer has drained its queue; the syncer drains what it left. */
  pthread_mutex_lock(&st->mu);
  st->writer_done = 1;
  pthread_cond_signal(&st->sync_wake);
  pthread_mutex_unlock(&st->mu);
  if (st->syncer_started)
    pthread_join(st->syncer, NULL);
  st->be->close(st->h);
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->wake);
  pthread_cond_destroy(&st->done);
  pthread_cond_destroy(&st->sync_wake);
  free(st);
}

rb_status
store_submit_async(struct store *st, struct store_job *job)
{
  pthread_mutex_lock(&st->mu);
  if (st->stopping || !st->writer_started || st->pending >= st->max_pending
      || (st->be->sync && !st->syncer_started)) {
    pthread_mutex_unlock(&st->mu);
    return RB_EUNAVAIL;
  }
  job->next = NULL;
  job->finished = 0;
  job->status = RB_OK;
  *st->tail = job;
  st->tail = &job->next;
  st->pending++;
  pthread_cond_signal(&st->wake);
  pthread_mutex_unlock(&st->mu);
  return RB_OK;
}

unsigned long
store_memory_releases(struct store *st)
{
  unsigned long n;

  pthread_mutex_lock(&st->mu);
  n = st->releases;
  pthread_mutex_unlock(&st->mu);
  return n;
}

rb_status
store_submit(struct store *st, store_job_fn fn, void *arg)
{
  return store_submit_flags(st, fn, arg, 0);
}

rb_status
store_submit_flags(struct store *st, store_job_fn fn, void *arg, unsigned flags)
{
  struct store_job job;
  rb_status rc;

  memset(&job, 0, sizeof(job));
  job.fn = fn;
  job.arg = arg;
  job.flags = flags;
  rc = store_submit_async(st, &job);
  if (rc)
    return rc;
  pthread_mutex_lock(&st->mu);
  while (!job.finished)
    pthread_cond_wait(&st->done, &st->mu);
  pthread_mutex_unlock(&st->mu);
  return job.status;
}

rb_status
store_w_latest_by_fingerprint(struct store *st, const char *fp,
                              struct incident_ref *out)
{
  return st->be->latest_by_fingerprint(st->h, fp, out);
}

rb_status
store_w_get(struct store *st, int64_t id, struct incident *out)
{
  return st->be->get_for_update(st->h, id, out);
}

rb_status
store_w_insert_incident(struct store *st, struct incident *inc)
{
  return st->be->insert_incident(st->h, inc);
}

rb_status
store_w_touch_incident(struct store *st, int64_t id, int64_t last_seen_ms)
{
  return st->be->touch_incident(st->h, id, last_seen_ms);
}

rb_status
store_w_update_incident(struct store *st, const struct incident *inc)
{
  return st->be->update_incident(st->h, inc);
}

rb_status
store_w_append_event(struct store *st, int64_t incident_id, int64_t at_ms,
                     const char *kind, const char *actor,
                     const char *detail_json)
{
  return st->be->append_event(st->h, incident_id, at_ms, kind, actor,
                              detail_json ? detail_json : "{}");
}

rb_status
store_w_run_insert(struct store *st, struct rem_run *r)
{
  return st->be->run_insert(st->h, r);
}

rb_status
store_w_run_update(struct store *st, const struct rem_run *r)
{
  return st->be->run_update(st->h, r);
}

rb_status
store_w_remediation_done(struct store *st, int64_t incident_id)
{
  return st->be->set_remediation_done(st->h, incident_id);
}

rb_status
store_runs_since(struct store *st, int64_t since_ms, struct rem_run **out, size_t *n)
{
  return st->be->runs_since(st->h, since_ms, out, n);
}

rb_status
store_runs_of_incident(struct store *st, int64_t incident_id, struct rem_run **out, size_t *n)
{
  return st->be->runs_of_incident(st->h, incident_id, out, n);
}

rb_status
store_pending_remediation(struct store *st, int64_t **ids, size_t *n)
{
  return st->be->pending_remediation(st->h, ids, n);
}

rb_status
store_w_esc_get(struct store *st, int64_t id, struct esc_state *out)
{
  return st->be->esc_get(st->h, id, out);
}

rb_status
store_w_esc_put(struct store *st, const struct esc_state *s, int64_t next_due_ms)
{
  return st->be->esc_put(st->h, s, next_due_ms);
}

rb_status
store_w_page_insert(struct store *st, struct page_row *p)
{
  return st->be->page_insert(st->h, p);
}

rb_status
store_w_page_done(struct store *st, int64_t id)
{
  return st->be->page_done(st->h, id);
}

rb_status
store_w_silence_put(struct store *st, const struct silence_row *r)
{
  return st->be->silence_put(st->h, r);
}

rb_status
store_w_silence_upstream(struct store *st, const char *id, const char *upstream_id)
{
  return st->be->silence_upstream ? st->be->silence_upstream(st->h, id, upstream_id) : RB_OK;
}

rb_status
store_w_silence_purge(struct store *st, int64_t ended_ms, size_t *n)
{
  *n = 0;
  return st->be->silence_purge ? st->be->silence_purge(st->h, ended_ms, n) : RB_OK;
}

rb_status
store_esc_due_all(struct store *st, struct esc_due_row **out, size_t *n)
{
  return st->be->esc_due_all(st->h, out, n);
}

rb_status
store_esc_missing(struct store *st, int64_t **ids, size_t *n)
{
  return st->be->esc_missing(st->h, ids, n);
}

rb_status
store_pages_pending(struct store *st, struct page_row **out, size_t *n)
{
  return st->be->pages_pending(st->h, out, n);
}

rb_status
store_page_get(struct store *st, int64_t id, struct page_row *out)
{
  return st->be->page_get(st->h, id, out);
}

rb_status
store_silences_all(struct store *st, struct silence_row **out, size_t *n)
{
  return st->be->silences_all(st->h, out, n);
}

rb_status
store_stats_incidents(struct store *st, int64_t from_ms, int64_t to_ms,
                      struct stats_incident **out, size_t *n)
{
  *out = NULL;
  *n = 0;
  return st->be->stats_incidents ? st->be->stats_incidents(st->h, from_ms, to_ms, out, n)
                                 : RB_EUNAVAIL;
}

rb_status
store_stats_outages(struct store *st, int64_t from_ms, int64_t to_ms,
                    struct stats_incident **out, size_t *n)
{
  *out = NULL;
  *n = 0;
  return st->be->stats_outages ? st->be->stats_outages(st->h, from_ms, to_ms, out, n)
                               : RB_EUNAVAIL;
}

rb_status
store_stats_counts(struct store *st, int dim, int64_t from_ms, int64_t to_ms,
                   struct stats_count **out, size_t *n)
{
  *out = NULL;
  *n = 0;
  return st->be->stats_counts ? st->be->stats_counts(st->h, dim, from_ms, to_ms, out, n)
                              : RB_EUNAVAIL;
}

rb_status
store_stats_runs(struct store *st, int64_t from_ms, int64_t to_ms, struct stats_runs *out)
{
  return st->be->stats_runs ? st->be->stats_runs(st->h, from_ms, to_ms, out) : RB_EUNAVAIL;
}

void
page_row_clear(struct page_row *p)
{
  if (!p)
    return;
  free(p->contact);
  free(p->reason);
  free(p->delivery_id);
  memset(p, 0, sizeof(*p));
}

void
page_rows_free(struct page_row *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    page_row_clear(&v[i]);
  free(v);
}

void
silence_row_clear(struct silence_row *r)
{
  if (!r)
    return;
  free(r->matchers_json);
  free(r->created_by);
  free(r->comment);
  memset(r, 0, sizeof(*r));
}

void
silence_rows_free(struct silence_row *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    silence_row_clear(&v[i]);
  free(v);
}

static const char *const run_states[] = { "running", "succeeded", "failed" };
static const char *const run_phases[] = { "steps", "verify", "on_failure", "done" };

const char *
run_state_name(enum run_state s)
{
  return (unsigned)s < RB_ARRAY_LEN(run_states) ? run_states[s] : "unknown";
}

const char *
run_phase_name(enum run_phase p)
{
  return (unsigned)p < RB_ARRAY_LEN(run_phases) ? run_phases[p] : "unknown";
}

void
rem_run_clear(struct rem_run *r)
{
  if (!r)
    return;
  free(r->plan);
  free(r->namespace_);
  free(r->deployment);
  free(r->pending);
  free(r->outcome);
  memset(r, 0, sizeof(*r));
}

void
rem_runs_free(struct rem_run *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    rem_run_clear(&v[i]);
  free(v);
}

rb_status
store_get(struct store *st, int64_t id, struct incident *out)
{
  return st->be->get(st->h, id, out);
}

rb_status
store_list(struct store *st, const struct incident_filter *f,
           struct incident **out, size_t *n)
{
  return st->be->list(st->h, f, out, n);
}

rb_status
store_timeline(struct store *st, int64_t id, struct tl_event **out, size_t *n)
{
  return st->be->timeline(st->h, id, out, n);
}

rb_status
store_open_counts(struct store *st, int64_t counts[SEV_COUNT])
{
  return st->be->open_counts(st->h, counts);
}

rb_status
store_ping(struct store *st)
{
  return st->be->ping(st->h);
}

void
incidents_free(struct incident *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    incident_clear(&v[i]);
  free(v);
}

void
tl_events_free(struct tl_event *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    tl_event_clear(&v[i]);
  free(v);
}

/*
 * store.h - the incident store: one interface, a backend per database.
 *
 * Writes are jobs.  A job is a function that runs on the store's single
 * writer thread inside a transaction; the writer takes every job that is
 * waiting, runs each under its own savepoint and commits them all at once
 * (group commit: one fsync for many concurrent webhooks).  A job's caller
 * learns its outcome only after the commit is durable.  With a backend
 * whose commits become durable through a separate sync (SQLite: the WAL
 * is fdatasync'd by a second thread), the writer goes on with the next
 * batch while the sync runs, and one sync answers every batch committed
 * before it.  A job that fails
 * with a client error (RB_EINVAL, RB_ENOTFOUND, RB_ECONFLICT) is rolled
 * back to its savepoint alone; a storage failure fails the whole batch
 * with RB_EUNAVAIL, which the HTTP layer answers with 503.
 *
 * Reads may run on any thread; a backend serialises them as it needs.
 *
 * Backends implement struct store_backend (store_sqlite.c today; a
 * PostgreSQL one fills the same table).  The store_w_* calls are only
 * valid inside a job, on the writer thread.
 */
#ifndef RUNBOOKD_STORE_H
#define RUNBOOKD_STORE_H

#include "incident.h"
#include "rb.h"

struct store;
struct store_job;

typedef rb_status (*store_job_fn)(struct store *st, void *arg);

/* The job can fail only for storage reasons (or out of memory): it runs
 * without its own savepoint, and any failure fails the whole batch (503
 * for every job in it).  Saves two statements per job on the writer. */
#define STORE_JOB_NO_SAVEPOINT 1u

struct store_job {
  store_job_fn fn;
  void *arg;
  /* Called on the writer thread once the job's outcome is final (after the
   * commit).  May be NULL for store_submit(), which waits instead. */
  void (*done)(struct store_job *job, rb_status st);
  void *done_arg;
  unsigned flags;         /* STORE_JOB_* */
  /* private */
  rb_status status;
  int finished;
  struct store_job *next;
};

enum run_state { RUN_RUNNING = 0, RUN_SUCCEEDED, RUN_FAILED };
enum run_phase { PHASE_STEPS = 0, PHASE_VERIFY, PHASE_ON_FAILURE, PHASE_DONE };

/* One remediation run: a plan applied to a target for an incident.  Its
 * position (phase, step_index) and its state (pending: the concrete
 * requests of the step in flight with what each object looked like when
 * they were decided, and what on_failure needs to undo the run) are stored
 * before each request is sent, so a restart resumes without losing a step,
 * and re-sends nothing over someone else's change (docs/remediation.md). */
struct rem_run {
  int64_t id;
  int64_t incident_id;
  char *plan;
  char *namespace_;
  char *deployment;
  enum run_state state;
  enum run_phase phase;
  int step_index;
  char *pending;      /* the run's state, a JSON object (engine.c, struct
                       * runctx); a JSON array from older versions; or NULL */
  int dry_run;
  int failed;         /* a step or verification failed: end as failed */
  char *outcome;      /* "succeeded", "failed", "unverified" when done */
  int64_t started_ms, updated_ms, finished_ms;
};

void rem_run_clear(struct rem_run *r);
void rem_runs_free(struct rem_run *v, size_t n);
const char *run_state_name(enum run_state s);
const char *run_phase_name(enum run_phase p);

/* Escalation rows (struct esc_state in escalation.h), the page outbox and
 * silences. */
struct esc_state;
/* Statistics rows (stats.h). */
struct stats_incident;
struct stats_count;
struct stats_runs;

struct esc_due_row {
  int64_t incident_id;
  int64_t due_ms;
};

struct page_row {
  int64_t id;
  int64_t incident_id;
  char *contact;
  int event;          /* enum notify_event */
  int level;
  int severity;       /* enum severity at the time of the page */
  char *reason;
  char *delivery_id;
  int64_t created_ms;
};

struct silence_row {
  char id[40];
  char *matchers_json;  /* [{"name","value","isRegex","isEqual"}] */
  int64_t starts_ms, ends_ms, updated_ms;
  char *created_by;
  char *comment;
  /* The id the upstream Alertmanager gave this silence when it was
   * forwarded (silence_forward.h), or "" when it was not (yet).  A put
   * with "" keeps the stored one. */
  char upstream_id[40];
};

void page_row_clear(struct page_row *p);
void page_rows_free(struct page_row *v, size_t n);
void silence_row_clear(struct silence_row *r);
void silence_rows_free(struct silence_row *v, size_t n);

struct incident_filter {
  int state;           /* -1 all; INC_OPEN means open or acked;
                          INC_ACKED; INC_RESOLVED; 3 = open and not acked */
  int severity;        /* -1 any */
  const char *alertname; /* NULL any */
  size_t limit;
  size_t offset;
};
#define INC_FILTER_UNACKED 3

struct store_backend {
  const char *name;
  /* Transactions and savepoints on the writer connection. */
  rb_status (*begin)(void *h);
  rb_status (*commit)(void *h);
  rb_status (*rollback)(void *h);
  rb_status (*savepoint)(void *h);
  rb_status (*release)(void *h);
  rb_status (*rollback_to)(void *h);
  /* NULL when commit() is durable by itself.  Otherwise commit() only
   * orders the transaction, and sync() makes every transaction committed
   * before the call durable.  It runs on the store's sync thread, beside
   * writer-side calls, so it must not use the writer's connection. */
  rb_status (*sync)(void *h);
  /* Writer-side reads and writes. */
  rb_status (*latest_by_fingerprint)(void *h, const char *fp, struct incident_ref *out);
  rb_status (*get_for_update)(void *h, int64_t id, struct incident *out);
  rb_status (*insert_incident)(void *h, struct incident *inc);
  rb_status (*update_incident)(void *h, const struct incident *inc);
  /* deliveries + 1 and last_seen_ms, nothing else (a re-delivery). */
  rb_status (*touch_incident)(void *h, int64_t id, int64_t last_seen_ms);
  rb_status (*append_event)(void *h, int64_t incident_id, int64_t at_ms,
                            const char *kind, const char *actor,
                            const char *detail_json);
  rb_status (*run_insert)(void *h, struct rem_run *r);
  rb_status (*run_update)(void *h, const struct rem_run *r);
  rb_status (*set_remediation_done)(void *h, int64_t incident_id);
  /* Reads, any thread. */
  rb_status (*get)(void *h, int64_t id, struct incident *out);
  rb_status (*list)(void *h, const struct incident_filter *f,
                    struct incident **out, size_t *n);
  rb_status (*timeline)(void *h, int64_t id, struct tl_event **out, size_t *n);
  rb_status (*open_counts)(void *h, int64_t counts[SEV_COUNT]);
  rb_status (*ping)(void *h);
  /* Gives the connections' page caches back (the store has been idle);
   * optional. */
  void (*release_memory)(void *h);
  /* Runs started at or after since_ms, or still running, oldest first. */
  rb_status (*runs_since)(void *h, int64_t since_ms, struct rem_run **out, size_t *n);
  rb_status (*runs_of_incident)(void *h, int64_t incident_id, struct rem_run **out, size_t *n);
  /* Unresolved incidents whose remediation was never evaluated. */
  rb_status (*pending_remediation)(void *h, int64_t **ids, size_t *n);
  /* Escalation, pages, silences: writer side. */
  rb_status (*esc_get)(void *h, int64_t incident_id, struct esc_state *out);
  rb_status (*esc_put)(void *h, const struct esc_state *s, int64_t next_due_ms);
  rb_status (*page_insert)(void *h, struct page_row *p);
  rb_status (*page_done)(void *h, int64_t id);
  rb_status (*silence_put)(void *h, const struct silence_row *r);
  /* Records the upstream Alertmanager's id of a silence (only that
   * column; an unknown id changes nothing). */
  rb_status (*silence_upstream)(void *h, const char *id, const char *upstream_id);
  /* Deletes the silences that ended at or before ended_ms (past
   * retention); *n gets how many. */
  rb_status (*silence_purge)(void *h, int64_t ended_ms, size_t *n);
  /* ... and reads. */
  rb_status (*esc_due_all)(void *h, struct esc_due_row **out, size_t *n);
  rb_status (*esc_missing)(void *h, int64_t **ids, size_t *n);
  rb_status (*pages_pending)(void *h, struct page_row **out, size_t *n);
  rb_status (*page_get)(void *h, int64_t id, struct page_row *out);
  rb_status (*silences_all)(void *h, struct silence_row **out, size_t *n);
  /* Statistics (stats.h), reads: incidents received in [from, to) with
   * their first response and whether a person acted; emergency or
   * critical incidents that may have been open during [from, to) (any
   * received before `to` and not resolved before `from`); incidents
   * received in [from, to) counted by one dimension (enum stats_dim);
   * remediation runs started in [from, to) by outcome. */
  rb_status (*stats_incidents)(void *h, int64_t from_ms, int64_t to_ms,
                               struct stats_incident **out, size_t *n);
  rb_status (*stats_outages)(void *h, int64_t from_ms, int64_t to_ms,
                             struct stats_incident **out, size_t *n);
  rb_status (*stats_counts)(void *h, int dim, int64_t from_ms, int64_t to_ms,
                            struct stats_count **out, size_t *n);
  rb_status (*stats_runs)(void *h, int64_t from_ms, int64_t to_ms, struct stats_runs *out);
  void (*close)(void *h);
};

struct store_options {
  const char *sqlite_dir;   /* directory of the SQLite store */
  int64_t max_bytes;        /* 0: unlimited */
  size_t max_pending_jobs;  /* 0: default (10000) */
  int read_only;            /* open for reading only (report, stats): takes
                               no lock, so it works beside a running daemon */
  int64_t idle_release_ms;  /* idle this long after writes, the store gives
                               its caches and free heap back; 0: 5 s */
};

/* Opens the store, applies schema migrations and starts the writer thread.
 * Opened for writing, the store holds an exclusive lock on its directory
 * (flock of <sqlite_dir>/lock, with the holder's PID in it) until
 * store_close, taken before anything else: while one is open, another
 * writable open of the same directory, in this process or another, fails
 * with RB_ECONFLICT and err naming the directory and the holder's PID.
 * err (RB_ERRLEN) says what failed.  Call from the main thread. */
rb_status store_open(const struct store_options *opt, struct store **out,
                     char *err);
/* Lets queued jobs finish, stops the writer, closes the database.  Accepts
 * NULL. */
void store_close(struct store *st);

/* Queues a job; job->done is called from the writer thread.  Returns
 * RB_EUNAVAIL at once (without calling done) when the queue is full or the
 * store is closing. */
rb_status store_submit_async(struct store *st, struct store_job *job);
/* Runs fn as a job and waits until it is committed. */
rb_status store_submit(struct store *st, store_job_fn fn, void *arg);
/* The same with STORE_JOB_* flags. */
rb_status store_submit_flags(struct store *st, store_job_fn fn, void *arg,
                             unsigned flags);

/* How many times the idle store gave its memory back (tests, metrics). */
unsigned long store_memory_releases(struct store *st);

/* Writer-side primitives for jobs. */
/* The newest incident of a fingerprint (RB_ENOTFOUND: none); the whole
 * row, when needed, comes from store_w_get. */
rb_status store_w_latest_by_fingerprint(struct store *st, const char *fp,
                                        struct incident_ref *out);
rb_status store_w_get(struct store *st, int64_t id, struct incident *out);
rb_status store_w_insert_incident(struct store *st, struct incident *inc);
rb_status store_w_update_incident(struct store *st, const struct incident *inc);
rb_status store_w_touch_incident(struct store *st, int64_t id, int64_t last_seen_ms);
rb_status store_w_append_event(struct store *st, int64_t incident_id,
                               int64_t at_ms, const char *kind,
                               const char *actor, const char *detail_json);

rb_status store_w_run_insert(struct store *st, struct rem_run *r);
rb_status store_w_run_update(struct store *st, const struct rem_run *r);
rb_status store_w_remediation_done(struct store *st, int64_t incident_id);

rb_status store_runs_since(struct store *st, int64_t since_ms, struct rem_run **out, size_t *n);
rb_status store_runs_of_incident(struct store *st, int64_t incident_id, struct rem_run **out,
                                 size_t *n);
rb_status store_pending_remediation(struct store *st, int64_t **ids, size_t *n);

rb_status store_w_esc_get(struct store *st, int64_t incident_id, struct esc_state *out);
rb_status store_w_esc_put(struct store *st, const struct esc_state *s, int64_t next_due_ms);
rb_status store_w_page_insert(struct store *st, struct page_row *p);
rb_status store_w_page_done(struct store *st, int64_t id);
rb_status store_w_silence_put(struct store *st, const struct silence_row *r);
rb_status store_w_silence_upstream(struct store *st, const char *id, const char *upstream_id);
rb_status store_w_silence_purge(struct store *st, int64_t ended_ms, size_t *n);
/* Active escalations' due times (0 excluded). */
rb_status store_esc_due_all(struct store *st, struct esc_due_row **out, size_t *n);
/* Incidents whose escalation does not follow their state: unresolved ones
 * without an escalation row, and escalations still going whose incident
 * was resolved, reopened (unacked) or acknowledged meanwhile (the pager
 * brings them in line at start and when paging comes back on). */
rb_status store_esc_missing(struct store *st, int64_t **ids, size_t *n);
rb_status store_pages_pending(struct store *st, struct page_row **out, size_t *n);
rb_status store_page_get(struct store *st, int64_t id, struct page_row *out);
rb_status store_silences_all(struct store *st, struct silence_row **out, size_t *n);
/* Statistics reads (see struct store_backend and stats.h); results are the
 * caller's (stats_*_free).  RB_EUNAVAIL from a backend without them. */
rb_status store_stats_incidents(struct store *st, int64_t from_ms, int64_t to_ms,
                                struct stats_incident **out, size_t *n);
rb_status store_stats_outages(struct store *st, int64_t from_ms, int64_t to_ms,
                              struct stats_incident **out, size_t *n);
rb_status store_stats_counts(struct store *st, int dim, int64_t from_ms, int64_t to_ms,
                             struct stats_count **out, size_t *n);
rb_status store_stats_runs(struct store *st, int64_t from_ms, int64_t to_ms,
                           struct stats_runs *out);

/* Reads; results are the caller's (incident_clear/tl_event_clear each, then
 * free the array). */
rb_status store_get(struct store *st, int64_t id, struct incident *out);
rb_status store_list(struct store *st, const struct incident_filter *f,
                     struct incident **out, size_t *n);
rb_status store_timeline(struct store *st, int64_t id, struct tl_event **out,
                         size_t *n);
rb_status store_open_counts(struct store *st, int64_t counts[SEV_COUNT]);
/* RB_OK when the store can take writes now (for /-/ready). */
rb_status store_ping(struct store *st);

void incidents_free(struct incident *v, size_t n);
void tl_events_free(struct tl_event *v, size_t n);

/* Backends. */
rb_status store_sqlite_open(const struct store_options *opt,
                            const struct store_backend **be, void **h,
                            char *err);

#endif

/*
 * store_sqlite_int.h - private to the SQLite backend: its connections, and
 * the functions of store_sqlite_esc.c (escalations, pages, silences).
 */
#ifndef RUNBOOKD_STORE_SQLITE_INT_H
#define RUNBOOKD_STORE_SQLITE_INT_H

#include "store.h"

#include <pthread.h>
#include <sqlite3.h>

enum stmt_id {
  S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
  S_LATEST, S_GET_W, S_INSERT, S_UPDATE, S_EVENT, S_RUN_INSERT, S_RUN_UPDATE,
  S_REM_DONE, S_TOUCH, S_COUNT
};

struct sq {
  sqlite3 *w;             /* writer connection (writer thread only) */
  sqlite3_stmt *st[S_COUNT];
  sqlite3 *r;             /* reader connection */
  pthread_mutex_t rmu;
  int read_only;
  int wal_fd;             /* the -wal file, for sq_sync(); -1 when closed */
  int lock_fd;            /* <dir>/lock, flock()ed while open for writing; -1 */
  /* Checkpoints: off the writer, on a connection and thread of their own
   * (store_sqlite.c, ckpt_main). */
  sqlite3 *ck;
  pthread_t ck_thread;
  int ck_started;
  pthread_mutex_t ck_mu;
  pthread_cond_t ck_cv;
  int ck_wanted, ck_stop;   /* under ck_mu */
  int ck_wal_pages;         /* under ck_mu: the WAL's frames after the last commit */
  int ck_mark;              /* under ck_mu: ck_wal_pages at the last wake */
};

rb_status sq_map_rc(int rc);
/* A text column as a malloc'd string; NULL for SQL NULL (or no memory). */
char *sq_col_str(sqlite3_stmt *st, int i);

/* A parameter of a read: the text when not NULL, else the integer. */
struct sq_arg {
  const char *text;
  int64_t i;
};

/* Runs a read on the reader connection (under its mutex), with args bound
 * to ?1..?nargs.  Each row goes to row(st, elem_ptr): with elem > 0, into a
 * new zeroed element (elem bytes) appended to the array *out (*n of them);
 * with elem == 0, into *out itself (one accumulator for every row), *n
 * counting the rows.  row() returns non-zero when out of memory.  On
 * failure the rows read so far stay in *out for the caller to free. */
/* sq_read's row() for a single integer column into an int64_t array. */
int sq_id_row(sqlite3_stmt *st, void *p);
rb_status sq_read(struct sq *s, const char *sql, const struct sq_arg *args, int nargs,
                  size_t elem, void **out, size_t *n, int (*row)(sqlite3_stmt *, void *));

rb_status sq_esc_get(void *h, int64_t incident_id, struct esc_state *out);
rb_status sq_esc_put(void *h, const struct esc_state *s, int64_t next_due_ms);
rb_status sq_page_insert(void *h, struct page_row *p);
rb_status sq_page_done(void *h, int64_t id);
rb_status sq_silence_put(void *h, const struct silence_row *r);
rb_status sq_silence_upstream(void *h, const char *id, const char *upstream_id);
rb_status sq_silence_purge(void *h, int64_t ended_ms, size_t *n);
rb_status sq_esc_due_all(void *h, struct esc_due_row **out, size_t *n);
rb_status sq_esc_missing(void *h, int64_t **ids, size_t *n);
rb_status sq_pages_pending(void *h, struct page_row **out, size_t *n);
rb_status sq_page_get(void *h, int64_t id, struct page_row *out);
rb_status sq_silences_all(void *h, struct silence_row **out, size_t *n);

/* store_sqlite_stats.c */
rb_status sq_stats_incidents(void *h, int64_t from_ms, int64_t to_ms,
                             struct stats_incident **out, size_t *n);
rb_status sq_stats_outages(void *h, int64_t from_ms, int64_t to_ms,
                           struct stats_incident **out, size_t *n);
rb_status sq_stats_counts(void *h, int dim, int64_t from_ms, int64_t to_ms,
                          struct stats_count **out, size_t *n);
rb_status sq_stats_runs(void *h, int64_t from_ms, int64_t to_ms, struct stats_runs *out);

#endif

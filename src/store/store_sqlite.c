/*
 * store_sqlite.c - the embedded SQLite backend of the store.
 *
 * Two connections: the writer's (used only by the store's writer thread)
 * and a reader's behind a mutex.  WAL mode lets reads run beside a write.
 *
 * Durability: the writer runs with synchronous=NORMAL, so COMMIT appends
 * the transaction's frames to the -wal file without waiting for the disk,
 * and sq_sync() (the store's sync thread) then fdatasync()s the -wal file
 * through a descriptor of its own.  A job is answered only after a sync
 * that began after its COMMIT returned, and that fdatasync covers every
 * byte written to the file before it, so what is acknowledged is on disk,
 * as with synchronous=FULL (which issues the same fdatasync of the WAL at
 * the end of each COMMIT, on the writer's time).  SQLite only writes the
 * WAL from its start again after a checkpoint has copied every frame into
 * the database, and with NORMAL a checkpoint fdatasyncs the WAL before it
 * and the database after it, so an acknowledged frame is never overwritten
 * before it is durable in one file or the other.  (Checkpoints run on a
 * connection of their own, also with synchronous=NORMAL: see ckpt_main.)
 * The -wal file's directory entry is synced once at open; SQLite keeps
 * the file (same inode) while the connections are open.  So a webhook answered 200
 * survives kill -9 and power loss.
 * The schema is versioned with PRAGMA user_version and migrated at open.
 * Timeline rows cannot be updated or deleted (triggers).
 */
#include "store.h"
#include "log.h"
#include "store_sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each entry moves the schema from version i to i + 1.  Never edit a
 * shipped entry: append a new one. */
static const char *const migrations[] = {
  /* 1: incidents and their append-only timeline */
  "CREATE TABLE incidents ("
  "  id INTEGER PRIMARY KEY,"
  "  fingerprint TEXT NOT NULL,"
  "  state TEXT NOT NULL CHECK (state IN ('open','acked','resolved')),"
  "  severity TEXT NOT NULL,"
  "  alertname TEXT NOT NULL,"
  "  namespace TEXT,"
  "  summary TEXT,"
  "  labels TEXT NOT NULL,"
  "  annotations TEXT NOT NULL,"
  "  starts_at_ns INTEGER NOT NULL,"
  "  ends_at_ns INTEGER NOT NULL DEFAULT 0,"
  "  opened_ms INTEGER NOT NULL,"
  "  last_seen_ms INTEGER NOT NULL,"
  "  acked_ms INTEGER NOT NULL DEFAULT 0,"
  "  acked_by TEXT,"
  "  resolved_ms INTEGER NOT NULL DEFAULT 0,"
  "  resolved_by TEXT,"
  "  deliveries INTEGER NOT NULL DEFAULT 1"
  ");"
  "CREATE INDEX incidents_by_fingerprint ON incidents (fingerprint, id);"
  "CREATE INDEX incidents_by_state ON incidents (state, severity);"
  "CREATE TABLE events ("
  "  id INTEGER PRIMARY KEY,"
  "  incident_id INTEGER NOT NULL REFERENCES incidents (id),"
  "  at_ms INTEGER NOT NULL,"
  "  kind TEXT NOT NULL,"
  "  actor TEXT NOT NULL,"
  "  detail TEXT NOT NULL"
  ");"
  "CREATE INDEX events_by_incident ON events (incident_id, id);"
  "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
  "  BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;"
  "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
  "  BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;",
  /* 2: remediation runs, and which incidents still await a decision */
  "ALTER TABLE incidents ADD COLUMN remediation_pending INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX incidents_remediation_pending ON incidents (remediation_pending)"
  "  WHERE remediation_pending = 1;"
  "CREATE TABLE remediation_runs ("
  "  id INTEGER PRIMARY KEY,"
  "  incident_id INTEGER NOT NULL REFERENCES incidents (id),"
  "  plan TEXT NOT NULL,"
  "  namespace TEXT NOT NULL,"
  "  deployment TEXT NOT NULL,"
  "  state TEXT NOT NULL CHECK (state IN ('running','succeeded','failed')),"
  "  phase TEXT NOT NULL,"
  "  step_index INTEGER NOT NULL DEFAULT 0,"
  "  pending TEXT,"
  "  dry_run INTEGER NOT NULL,"
  "  failed INTEGER NOT NULL DEFAULT 0,"
  "  outcome TEXT,"
  "  started_ms INTEGER NOT NULL,"
  "  updated_ms INTEGER NOT NULL,"
  "  finished_ms INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX runs_by_started ON remediation_runs (started_ms);"
  "CREATE INDEX runs_by_incident ON remediation_runs (incident_id);"
  "CREATE INDEX runs_running ON remediation_runs (state) WHERE state = 'running';",
  /* 3: escalation state and timers, the page outbox, silences */
  "CREATE TABLE escalations ("
  "  incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),"
  "  severity INTEGER NOT NULL, phase INTEGER NOT NULL, level INTEGER NOT NULL,"
  "  repeats INTEGER NOT NULL, opened_ms INTEGER NOT NULL, level_due_ms INTEGER NOT NULL,"
  "  progress_due_ms INTEGER NOT NULL, unavailable_due_ms INTEGER NOT NULL,"
  "  paged_mask INTEGER NOT NULL, urgent INTEGER NOT NULL, next_due_ms INTEGER NOT NULL"
  ");"
  "CREATE INDEX escalations_due ON escalations (next_due_ms) WHERE next_due_ms > 0;"
  "CREATE TABLE pages ("
  "  id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incidents (id),"
  "  contact TEXT NOT NULL, event INTEGER NOT NULL, level INTEGER NOT NULL,"
  "  severity INTEGER NOT NULL, reason TEXT, delivery_id TEXT NOT NULL,"
  "  created_ms INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX pages_pending ON pages (done) WHERE done = 0;"
  "CREATE TABLE silences ("
  "  id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_ms INTEGER NOT NULL,"
  "  ends_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, created_by TEXT NOT NULL,"
  "  comment TEXT NOT NULL"
  ");",
  /* 4: the upstream Alertmanager's id of a forwarded silence */
  "ALTER TABLE silences ADD COLUMN upstream_id TEXT;",
  /* 5: the startsAt of the firing an incident follows after a refire */
  ("ALTER TABLE incidents ADD COLUMN firing_starts_at_ns INTEGER NOT NULL DEFAULT 0;"
   "UPDATE incidents SET firing_starts_at_ns = starts_at_ns;"),
};

#define INCIDENT_COLS                                                        \
  "id, fingerprint, state, severity, alertname, namespace, summary, labels," \
  " annotations, starts_at_ns, ends_at_ns, opened_ms, last_seen_ms,"         \
  " acked_ms, acked_by, resolved_ms, resolved_by, deliveries, remediation_pending,"  \
  " firing_starts_at_ns"



static const char *const stmt_sql[S_COUNT] = {
  [S_BEGIN] = "BEGIN IMMEDIATE",
  [S_COMMIT] = "COMMIT",
  [S_ROLLBACK] = "ROLLBACK",
  [S_SAVEPOINT] = "SAVEPOINT job",
  [S_RELEASE] = "RELEASE job",
  [S_ROLLBACK_TO] = "ROLLBACK TO job",
  [S_LATEST] = "SELECT id, state, firing_starts_at_ns FROM incidents WHERE fingerprint = ?"
               " ORDER BY id DESC LIMIT 1",
  [S_GET_W] = "SELECT " INCIDENT_COLS " FROM incidents WHERE id = ?",
  [S_INSERT] = "INSERT INTO incidents (fingerprint, state, severity, alertname,"
               " namespace, summary, labels, annotations, starts_at_ns,"
               " ends_at_ns, opened_ms, last_seen_ms, acked_ms, acked_by,"
               " resolved_ms, resolved_by, deliveries, remediation_pending,"
               " firing_starts_at_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
  /* Binds like S_INSERT (bind_incident), but leaves out ?1, the
   * fingerprint, which never changes: setting it would rewrite the
   * incident's entry in incidents_by_fingerprint, a page written to the
   * WAL for nothing (4.1 -> 3.1 pages per resolve on a 300k-incident
   * store). */
  [S_UPDATE] = "UPDATE incidents SET state=?2, severity=?3,"
               " alertname=?4, namespace=?5, summary=?6, labels=?7, annotations=?8,"
               " starts_at_ns=?9, ends_at_ns=?10, opened_ms=?11, last_seen_ms=?12,"
               " acked_ms=?13, acked_by=?14, resolved_ms=?15, resolved_by=?16,"
               " deliveries=?17, remediation_pending=?18, firing_starts_at_ns=?19"
               " WHERE id=?20",
  [S_RUN_INSERT] = "INSERT INTO remediation_runs (incident_id, plan, namespace, deployment,"
                   " state, phase, step_index, pending, dry_run, failed, outcome, started_ms,"
                   " updated_ms, finished_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
  [S_RUN_UPDATE] = "UPDATE remediation_runs SET incident_id=?, plan=?, namespace=?,"
                   " deployment=?, state=?, phase=?, step_index=?, pending=?, dry_run=?,"
                   " failed=?, outcome=?, started_ms=?, updated_ms=?, finished_ms=? WHERE id=?",
  [S_REM_DONE] = "UPDATE incidents SET remediation_pending = 0 WHERE id = ?",
  [S_TOUCH] = "UPDATE incidents SET deliveries = deliveries + 1, last_seen_ms = ?"
              " WHERE id = ?",
  [S_EVENT] = ("INSERT INTO events (incident_id, at_ms, kind, actor, detail)"
               " VALUES (?,?,?,?,?)"),
};

rb_status
sq_map_rc(int rc)
{
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return RB_OK;
  case SQLITE_NOMEM:
    return RB_ENOMEM;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
  case SQLITE_RANGE:
  case SQLITE_ERROR:
    return RB_EINTERNAL;
  default: /* BUSY, LOCKED, FULL, IOERR, READONLY, CORRUPT, CANTOPEN... */
    return RB_EUNAVAIL;
  }
}

static rb_status
step_done(struct sq *s, sqlite3_stmt *stmt)
{
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    rblog(LOG_ERROR, "sqlite statement failed", "error", sqlite3_errmsg(s->w),
          "sql", sqlite3_sql(stmt), NULL);
    return sq_map_rc(rc);
  }
  return RB_OK;
}

static rb_status
run(struct sq *s, enum stmt_id id)
{
  return step_done(s, s->st[id]);
}

static rb_status sq_begin(void *h) { return run(h, S_BEGIN); }
static rb_status sq_commit(void *h) { return run(h, S_COMMIT); }
static rb_status sq_savepoint(void *h) { return run(h, S_SAVEPOINT); }
static rb_status sq_release(void *h) { return run(h, S_RELEASE); }

static rb_status
sq_rollback(void *h)
{
  struct sq *s = h;
  if (sqlite3_get_autocommit(s->w))
    return RB_OK; /* SQLite already rolled back (e.g. on SQLITE_FULL) */
  return run(s, S_ROLLBACK);
}

static rb_status
sq_rollback_to(void *h)
{
  rb_status rc = run(h, S_ROLLBACK_TO);
  return rc ? rc : run(h, S_RELEASE);
}

/* Checkpoints.  The writer runs with wal_autocheckpoint off: a checkpoint
 * inside its COMMIT (copy the WAL into the database, fsync both) stalled
 * every batch queued behind it.  Instead its commit hook (wal_hook) wakes
 * ckpt_main, which runs PASSIVE checkpoints on a connection of its own:
 * they copy what is committed without taking the write lock, so the
 * writer goes on meanwhile.  A PASSIVE checkpoint lets SQLite write the
 * WAL from its start again only if it completes while the writer is
 * between transactions; under steady load that may not happen, so when
 * the WAL has grown past CKPT_RESTART_PAGES a RESTART checkpoint (which
 * holds the write lock, briefly: the PASSIVE one before it copied nearly
 * everything) makes the next transaction start the WAL over.  The WAL
 * file is kept at its size and overwritten, never truncated.  The
 * checkpoint connection runs with synchronous=NORMAL, so each checkpoint
 * fdatasyncs the WAL before copying and the database after (see the
 * top of this file for why that keeps acknowledged commits durable). */
#define CKPT_PAGES 1000          /* WAL frames written that wake ckpt_main */
#define CKPT_RESTART_PAGES 4000  /* WAL frames (16 MB) past which it restarts */

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
  struct sq *s = arg;

  (void)db;
  (void)name;
  pthread_mutex_lock(&s->ck_mu);
  if (pages < s->ck_wal_pages) /* the WAL started over */
    s->ck_mark = 0;
  s->ck_wal_pages = pages;
  if (!s->ck_wanted && pages - s->ck_mark >= CKPT_PAGES) {
    s->ck_mark = pages;
    s->ck_wanted = 1;
    pthread_cond_signal(&s->ck_cv);
  }
  pthread_mutex_unlock(&s->ck_mu);
  return SQLITE_OK;
}

static void *
ckpt_main(void *arg)
{
  struct sq *s = arg;

  rb_thread_name("rb-checkpoint");

  for (;;) {
    int log = 0, done = 0, rc;

    pthread_mutex_lock(&s->ck_mu);
    while (!s->ck_wanted && !s->ck_stop)
      pthread_cond_wait(&s->ck_cv, &s->ck_mu);
    if (s->ck_stop) {
      pthread_mutex_unlock(&s->ck_mu);
      break;
    }
    pthread_mutex_unlock(&s->ck_mu);

    rc = sqlite3_wal_checkpoint_v2(s->ck, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_OK && log >= CKPT_RESTART_PAGES)
      rc = sqlite3_wal_checkpoint_v2(s->ck, NULL, SQLITE_CHECKPOINT_RESTART, &log, &done);
    /* BUSY: a reader held on past the busy timeout; next time, then. */
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      rblog(LOG_WARN, "WAL checkpoint failed", "error", sqlite3_errmsg(s->ck), NULL);
    pthread_mutex_lock(&s->ck_mu);
    s->ck_wanted = 0;
    pthread_mutex_unlock(&s->ck_mu);
  }
  return NULL;
}

/* Waiting for a lock (the writer for a RESTART checkpoint, which holds
 * the write lock while it finishes; the checkpoint for the writer's
 * transaction): polls every 100 us, not SQLite's 1, 2, 5, 10... ms
 * steps, which would stall the writer for milliseconds.  arg: the limit,
 * in polls. */
static int
busy_poll(void *arg, int count)
{
  if (count >= (int)(intptr_t)arg)
    return 0;
  usleep(100);
  return 1;
}

static rb_status exec_or_err(sqlite3 *db, const char *sql, char *err, const char *what);

/* Opens the checkpoint connection and starts its thread; the writer's
 * automatic checkpoints go off only once it runs. */
static rb_status
ckpt_start(struct sq *s, const char *path, char *err)
{
  rb_status rc;

  if (sqlite3_open_v2(path, &s->ck, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
      != SQLITE_OK) {
    snprintf(err, RB_ERRLEN, "cannot open %s for checkpoints: %s", path, sqlite3_errmsg(s->ck));
    return RB_EUNAVAIL;
  }
  /* It runs no statements: no lookaside memory (SQLite's default is
   * 120 KB per connection, all of it touched at open). */
  sqlite3_db_config(s->ck, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
  sqlite3_busy_handler(s->ck, busy_poll, (void *)(intptr_t)1000); /* ~0.1 s */
  if ((rc = exec_or_err(s->ck, "PRAGMA synchronous=NORMAL", err, path))
      || (rc = exec_or_err(s->ck, "PRAGMA wal_autocheckpoint=0", err, path)))
    return rc;
  if (pthread_create(&s->ck_thread, NULL, ckpt_main, s) != 0) {
    snprintf(err, RB_ERRLEN, "cannot start the checkpoint thread");
    return RB_EINTERNAL;
  }
  s->ck_started = 1;
  if ((rc = exec_or_err(s->w, "PRAGMA wal_autocheckpoint=0", err, path)))
    return rc;
  sqlite3_wal_hook(s->w, wal_hook, s);
  return RB_OK;
}

static rb_status
sq_sync(void *h)
{
  struct sq *s = h;

  if (fdatasync(s->wal_fd) != 0) {
    rblog(LOG_ERROR, "fdatasync of the WAL failed", "error", strerror(errno), NULL);
    return RB_EIO;
  }
  return RB_OK;
}

char *
sq_col_str(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? strdup((const char *)t) : NULL;
}

rb_status
sq_read(struct sq *s, const char *sql, const struct sq_arg *args, int nargs, size_t elem,
        void **out, size_t *n, int (*row)(sqlite3_stmt *, void *))
{
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  rb_status ret = RB_OK;
  int rc;

  if (elem)
    *out = NULL;
  *n = 0;
  pthread_mutex_lock(&s->rmu);
  if (sqlite3_prepare_v2(s->r, sql, -1, &st, NULL) != SQLITE_OK) {
    rblog(LOG_ERROR, "sqlite prepare failed", "error", sqlite3_errmsg(s->r), NULL);
    ret = RB_EUNAVAIL;
    goto out;
  }
  for (int i = 0; i < nargs; i++) {
    if (args[i].text)
      sqlite3_bind_text(st, i + 1, args[i].text, -1, SQLITE_STATIC);
    else
      sqlite3_bind_int64(st, i + 1, args[i].i);
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    void *to = *out;
    if (elem) {
      ret = rb_grow(out, &cap, *n, elem); /* zeroes the new element */
      if (ret)
        goto out;
      to = (char *)*out + *n * elem;
    }
    (*n)++;
    if (row(st, to)) {
      ret = RB_ENOMEM;
      goto out;
    }
  }
  if (rc != SQLITE_DONE)
    ret = sq_map_rc(rc);
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&s->rmu);
  return ret;
}

static enum incident_state
col_state(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  int s = incident_state_parse(t ? (const char *)t : "");

  return s < 0 ? INC_OPEN : (enum incident_state)s;
}

static void
row_to_incident(sqlite3_stmt *st, struct incident *inc)
{
  const unsigned char *fp = sqlite3_column_text(st, 1);
  const unsigned char *sev = sqlite3_column_text(st, 3);
  int s;

  memset(inc, 0, sizeof(*inc));
  inc->id = sqlite3_column_int64(st, 0);
  snprintf(inc->fingerprint, sizeof(inc->fingerprint), "%s", fp ? (const char *)fp : "");
  inc->state = col_state(st, 2);
  s = severity_parse(sev ? (const char *)sev : "");
  inc->severity = s < 0 ? SEV_MEDIUM : (enum severity)s;
  inc->alertname = sq_col_str(st, 4);
  inc->namespace_ = sq_col_str(st, 5);
  inc->summary = sq_col_str(st, 6);
  inc->labels_json = sq_col_str(st, 7);
  inc->annotations_json = sq_col_str(st, 8);
  inc->starts_at_ns = sqlite3_column_int64(st, 9);
  inc->ends_at_ns = sqlite3_column_int64(st, 10);
  inc->opened_ms = sqlite3_column_int64(st, 11);
  inc->last_seen_ms = sqlite3_column_int64(st, 12);
  inc->acked_ms = sqlite3_column_int64(st, 13);
  inc->acked_by = sq_col_str(st, 14);
  inc->resolved_ms = sqlite3_column_int64(st, 15);
  inc->resolved_by = sq_col_str(st, 16);
  inc->deliveries = sqlite3_column_int64(st, 17);
  inc->remediation_pending = sqlite3_column_int(st, 18);
  inc->firing_starts_at_ns = sqlite3_column_int64(st, 19);
}

static void
row_to_ref(sqlite3_stmt *st, struct incident_ref *ref)
{
  ref->id = sqlite3_column_int64(st, 0);
  ref->state = col_state(st, 1);
  ref->firing_starts_at_ns = sqlite3_column_int64(st, 2);
}

/* Runs a prepared single-row SELECT, bound: the row goes to out through
 * row_to_incident, or to ref through row_to_ref when ref is set;
 * RB_ENOTFOUND when no row. */
static rb_status
select_row(sqlite3 *db, sqlite3_stmt *stmt, struct incident *out, struct incident_ref *ref)
{
  int rc = sqlite3_step(stmt);
  rb_status st = RB_OK;

  if (rc == SQLITE_ROW && ref)
    row_to_ref(stmt, ref);
  else if (rc == SQLITE_ROW)
    row_to_incident(stmt, out);
  else if (rc == SQLITE_DONE)
    st = RB_ENOTFOUND;
  else {
    rblog(LOG_ERROR, "sqlite query failed", "error", sqlite3_errmsg(db), NULL);
    st = sq_map_rc(rc);
  }
  sqlite3_reset(stmt);
  return st;
}

static rb_status
sq_latest(void *h, const char *fp, struct incident_ref *out)
{
  struct sq *s = h;
  sqlite3_bind_text(s->st[S_LATEST], 1, fp, -1, SQLITE_STATIC);
  return select_row(s->w, s->st[S_LATEST], NULL, out);
}

static rb_status
sq_get_w(void *h, int64_t id, struct incident *out)
{
  struct sq *s = h;
  sqlite3_bind_int64(s->st[S_GET_W], 1, id);
  return select_row(s->w, s->st[S_GET_W], out, NULL);
}

static void
bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
  if (v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static void
bind_incident(sqlite3_stmt *st, const struct incident *inc)
{
  sqlite3_bind_text(st, 1, inc->fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, incident_state_name(inc->state), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, severity_name(inc->severity), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, inc->alertname ? inc->alertname : "", -1, SQLITE_STATIC);
  bind_text_or_null(st, 5, inc->namespace_);
  bind_text_or_null(st, 6, inc->summary);
  sqlite3_bind_text(st, 7, inc->labels_json ? inc->labels_json : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, inc->annotations_json ? inc->annotations_json : "{}", -1,
                    SQLITE_STATIC);
  sqlite3_bind_int64(st, 9, inc->starts_at_ns);
  sqlite3_bind_int64(st, 10, inc->ends_at_ns);
  sqlite3_bind_int64(st, 11, inc->opened_ms);
  sqlite3_bind_int64(st, 12, inc->last_seen_ms);
  sqlite3_bind_int64(st, 13, inc->acked_ms);
  bind_text_or_null(st, 14, inc->acked_by);
  sqlite3_bind_int64(st, 15, inc->resolved_ms);
  bind_text_or_null(st, 16, inc->resolved_by);
  sqlite3_bind_int64(st, 17, inc->deliveries);
  sqlite3_bind_int(st, 18, inc->remediation_pending);
  sqlite3_bind_int64(st, 19, inc->firing_starts_at_ns);
}

/* Runs a bound INSERT and returns the new row's id in *rowid. */
static rb_status
insert_row(struct sq *s, enum stmt_id id, int64_t *rowid)
{
  rb_status rc = run(s, id);
  sqlite3_clear_bindings(s->st[id]);
  if (!rc)
    *rowid = sqlite3_last_insert_rowid(s->w);
  return rc;
}

/* Runs a bound UPDATE ... WHERE id = ?idx. */
static rb_status
update_row(struct sq *s, enum stmt_id id, int idx, int64_t rowid)
{
  rb_status rc;
  sqlite3_bind_int64(s->st[id], idx, rowid);
  rc = run(s, id);
  sqlite3_clear_bindings(s->st[id]);
  return rc;
}

static rb_status
sq_insert(void *h, struct incident *inc)
{
  struct sq *s = h;
  bind_incident(s->st[S_INSERT], inc);
  return insert_row(s, S_INSERT, &inc->id);
}

static rb_status
sq_update(void *h, const struct incident *inc)
{
  struct sq *s = h;
  bind_incident(s->st[S_UPDATE], inc);
  return update_row(s, S_UPDATE, 20, inc->id);
}

static rb_status
sq_touch(void *h, int64_t id, int64_t last_seen_ms)
{
  struct sq *s = h;
  sqlite3_bind_int64(s->st[S_TOUCH], 1, last_seen_ms);
  sqlite3_bind_int64(s->st[S_TOUCH], 2, id);
  return run(s, S_TOUCH);
}

static rb_status
sq_event(void *h, int64_t incident_id, int64_t at_ms, const char *kind,
         const char *actor, const char *detail)
{
  struct sq *s = h;
  sqlite3_stmt *st = s->st[S_EVENT];
  rb_status rc;

  sqlite3_bind_int64(st, 1, incident_id);
  sqlite3_bind_int64(st, 2, at_ms);
  sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
  rc = run(s, S_EVENT);
  sqlite3_clear_bindings(st);
  return rc;
}

static const char *const run_state_sql[] = { "running", "succeeded", "failed" };
static const char *const run_phase_sql[] = { "steps", "verify", "on_failure", "done" };

static void
bind_run(sqlite3_stmt *st, const struct rem_run *r)
{
  sqlite3_bind_int64(st, 1, r->incident_id);
  sqlite3_bind_text(st, 2, r->plan, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, r->namespace_, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, r->deployment, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, run_state_sql[r->state], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, run_phase_sql[r->phase], -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, r->step_index);
  bind_text_or_null(st, 8, r->pending);
  sqlite3_bind_int(st, 9, r->dry_run);
  sqlite3_bind_int(st, 10, r->failed);
  bind_text_or_null(st, 11, r->outcome);
  sqlite3_bind_int64(st, 12, r->started_ms);
  sqlite3_bind_int64(st, 13, r->updated_ms);
  sqlite3_bind_int64(st, 14, r->finished_ms);
}

static rb_status
sq_run_insert(void *h, struct rem_run *r)
{
  struct sq *s = h;
  bind_run(s->st[S_RUN_INSERT], r);
  return insert_row(s, S_RUN_INSERT, &r->id);
}

static rb_status
sq_run_update(void *h, const struct rem_run *r)
{
  struct sq *s = h;
  bind_run(s->st[S_RUN_UPDATE], r);
  return update_row(s, S_RUN_UPDATE, 15, r->id);
}

static rb_status
sq_rem_done(void *h, int64_t incident_id)
{
  struct sq *s = h;
  sqlite3_bind_int64(s->st[S_REM_DONE], 1, incident_id);
  return run(s, S_REM_DONE);
}

static int
index_of(const char *const *names, size_t n, const unsigned char *v)
{
  for (size_t i = 0; v && i < n; i++)
    if (strcmp(names[i], (const char *)v) == 0)
      return (int)i;
  return 0;
}

static int
run_row(sqlite3_stmt *st, void *p)
{
  struct rem_run *r = p;

  r->id = sqlite3_column_int64(st, 0);
  r->incident_id = sqlite3_column_int64(st, 1);
  r->plan = sq_col_str(st, 2);
  r->namespace_ = sq_col_str(st, 3);
  r->deployment = sq_col_str(st, 4);
  r->state = (enum run_state)index_of(run_state_sql, 3, sqlite3_column_text(st, 5));
  r->phase = (enum run_phase)index_of(run_phase_sql, 4, sqlite3_column_text(st, 6));
  r->step_index = sqlite3_column_int(st, 7);
  r->pending = sq_col_str(st, 8);
  r->dry_run = sqlite3_column_int(st, 9);
  r->failed = sqlite3_column_int(st, 10);
  r->outcome = sq_col_str(st, 11);
  r->started_ms = sqlite3_column_int64(st, 12);
  r->updated_ms = sqlite3_column_int64(st, 13);
  r->finished_ms = sqlite3_column_int64(st, 14);
  return !r->plan || !r->namespace_ || !r->deployment;
}

static rb_status
runs_query(struct sq *s, const char *where, int64_t arg, struct rem_run **out, size_t *n)
{
  struct sq_arg a = { NULL, arg };
  char sql[512];
  rb_status ret;

  snprintf(sql, sizeof(sql),
           "SELECT id, incident_id, plan, namespace, deployment, state, phase, step_index,"
           " pending, dry_run, failed, outcome, started_ms, updated_ms, finished_ms"
           " FROM remediation_runs WHERE %s ORDER BY id", where);
  ret = sq_read(s, sql, &a, 1, sizeof(**out), (void **)out, n, run_row);
  if (ret) {
    rem_runs_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return ret;
}

static rb_status
sq_runs_since(void *h, int64_t since_ms, struct rem_run **out, size_t *n)
{
  return runs_query(h, "started_ms >= ?1 OR state = 'running'", since_ms, out, n);
}

static rb_status
sq_runs_of_incident(void *h, int64_t incident_id, struct rem_run **out, size_t *n)
{
  return runs_query(h, "incident_id = ?1", incident_id, out, n);
}

static rb_status
sq_pending_remediation(void *h, int64_t **ids, size_t *n)
{
  rb_status ret = sq_read(h,
                          "SELECT id FROM incidents WHERE remediation_pending = 1"
                          " AND state != 'resolved' ORDER BY id",
                          NULL, 0, sizeof(**ids), (void **)ids, n, sq_id_row);
  if (ret) {
    free(*ids);
    *ids = NULL;
    *n = 0;
  }
  return ret;
}

static rb_status
sq_get(void *h, int64_t id, struct incident *out)
{
  struct sq *s = h;
  sqlite3_stmt *st = NULL;
  rb_status rc;

  pthread_mutex_lock(&s->rmu);
  if (sqlite3_prepare_v2(s->r, "SELECT " INCIDENT_COLS " FROM incidents WHERE id = ?",
                         -1, &st, NULL) != SQLITE_OK) {
    rc = RB_EUNAVAIL;
    goto out;
  }
  sqlite3_bind_int64(st, 1, id);
  rc = select_row(s->r, st, out, NULL);
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&s->rmu);
  return rc;
}

static int
incident_row(sqlite3_stmt *st, void *p)
{
  row_to_incident(st, p);
  return 0;
}

static rb_status
sq_list(void *h, const struct incident_filter *f, struct incident **out,
        size_t *n)
{
  struct sq_arg args[4];
  char sql[512];
  int nargs = 0;
  rb_status ret;
  const char *state_sql = "";

  switch (f->state) {
  case INC_OPEN: state_sql = " AND state IN ('open','acked')"; break;
  case INC_ACKED: state_sql = " AND state = 'acked'"; break;
  case INC_RESOLVED: state_sql = " AND state = 'resolved'"; break;
  case INC_FILTER_UNACKED: state_sql = " AND state = 'open'"; break;
  default: break;
  }
  snprintf(sql, sizeof(sql),
           "SELECT " INCIDENT_COLS " FROM incidents WHERE 1%s%s%s"
           " ORDER BY id DESC LIMIT ? OFFSET ?",
           state_sql, f->severity >= 0 ? " AND severity = ?" : "",
           f->alertname ? " AND alertname = ?" : "");
  if (f->severity >= 0)
    args[nargs++] = (struct sq_arg){ severity_name((enum severity)f->severity), 0 };
  if (f->alertname)
    args[nargs++] = (struct sq_arg){ f->alertname, 0 };
  args[nargs++] = (struct sq_arg){ NULL, (int64_t)f->limit };
  args[nargs++] = (struct sq_arg){ NULL, (int64_t)f->offset };
  ret = sq_read(h, sql, args, nargs, sizeof(**out), (void **)out, n, incident_row);
  if (ret) {
    incidents_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return ret;
}

static int
event_row(sqlite3_stmt *st, void *p)
{
  struct tl_event *ev = p;

  ev->id = sqlite3_column_int64(st, 0);
  ev->incident_id = sqlite3_column_int64(st, 1);
  ev->at_ms = sqlite3_column_int64(st, 2);
  ev->kind = sq_col_str(st, 3);
  ev->actor = sq_col_str(st, 4);
  ev->detail = sq_col_str(st, 5);
  return !ev->kind || !ev->actor || !ev->detail;
}

static rb_status
sq_timeline(void *h, int64_t id, struct tl_event **out, size_t *n)
{
  struct sq_arg a = { NULL, id };
  rb_status ret = sq_read(h,
                          "SELECT id, incident_id, at_ms, kind, actor, detail FROM events"
                          " WHERE incident_id = ?1 ORDER BY id",
                          &a, 1, sizeof(**out), (void **)out, n, event_row);
  if (ret) {
    tl_events_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return ret;
}

static int
count_row(sqlite3_stmt *st, void *p)
{
  int64_t *counts = p;
  int sev = severity_parse((const char *)sqlite3_column_text(st, 0));

  if (sev >= 0)
    counts[sev] = sqlite3_column_int64(st, 1);
  return 0;
}

static rb_status
sq_open_counts(void *h, int64_t counts[SEV_COUNT])
{
  void *acc = counts;
  size_t rows;

  memset(counts, 0, sizeof(int64_t) * SEV_COUNT);
  return sq_read(h,
                 "SELECT severity, count(*) FROM incidents"
                 " WHERE state IN ('open','acked') GROUP BY severity",
                 NULL, 0, 0, &acc, &rows, count_row);
}

static rb_status
sq_ping(void *h)
{
  struct sq *s = h;
  rb_status rc;

  pthread_mutex_lock(&s->rmu);
  rc = sq_map_rc(sqlite3_exec(s->r, "SELECT 1 FROM incidents LIMIT 1", NULL, NULL, NULL));
  pthread_mutex_unlock(&s->rmu);
  return rc;
}

static void
sq_release_memory(void *h)
{
  struct sq *s = h;

  /* Every connection is serialised by SQLite itself; the reader's mutex
   * only keeps this off a read in progress. */
  sqlite3_db_release_memory(s->w);
  pthread_mutex_lock(&s->rmu);
  sqlite3_db_release_memory(s->r);
  pthread_mutex_unlock(&s->rmu);
  if (s->ck)
    sqlite3_db_release_memory(s->ck);
}

static void
sq_close(void *h)
{
  struct sq *s = h;
  if (!s)
    return;
  if (s->ck_started) {
    pthread_mutex_lock(&s->ck_mu);
    s->ck_stop = 1;
    pthread_cond_signal(&s->ck_cv);
    pthread_mutex_unlock(&s->ck_mu);
    pthread_join(s->ck_thread, NULL);
  }
  sqlite3_close(s->ck);
  for (int i = 0; i < S_COUNT; i++)
    sqlite3_finalize(s->st[i]);
  /* Closing the last connection checkpoints the WAL into the database. */
  sqlite3_close(s->r);
  sqlite3_close(s->w);
  if (s->wal_fd >= 0)
    close(s->wal_fd);
  /* Last: another runbookd may have the directory once every connection
   * is closed (and the WAL checkpointed). */
  if (s->lock_fd >= 0)
    close(s->lock_fd);
  pthread_mutex_destroy(&s->rmu);
  pthread_mutex_destroy(&s->ck_mu);
  pthread_cond_destroy(&s->ck_cv);
  free(s);
}

static const struct store_backend sqlite_backend = {
  .name = "sqlite",
  .begin = sq_begin,
  .commit = sq_commit,
  .rollback = sq_rollback,
  .savepoint = sq_savepoint,
  .release = sq_release,
  .rollback_to = sq_rollback_to,
  .sync = sq_sync,
  .latest_by_fingerprint = sq_latest,
  .get_for_update = sq_get_w,
  .insert_incident = sq_insert,
  .update_incident = sq_update,
  .touch_incident = sq_touch,
  .append_event = sq_event,
  .run_insert = sq_run_insert,
  .run_update = sq_run_update,
  .set_remediation_done = sq_rem_done,
  .runs_since = sq_runs_since,
  .runs_of_incident = sq_runs_of_incident,
  .pending_remediation = sq_pending_remediation,
  .get = sq_get,
  .list = sq_list,
  .timeline = sq_timeline,
  .open_counts = sq_open_counts,
  .ping = sq_ping,
  .release_memory = sq_release_memory,
  .close = sq_close,
  .esc_get = sq_esc_get,
  .esc_put = sq_esc_put,
  .page_insert = sq_page_insert,
  .page_done = sq_page_done,
  .silence_put = sq_silence_put,
  .silence_upstream = sq_silence_upstream,
  .silence_purge = sq_silence_purge,
  .esc_due_all = sq_esc_due_all,
  .esc_missing = sq_esc_missing,
  .pages_pending = sq_pages_pending,
  .page_get = sq_page_get,
  .silences_all = sq_silences_all,
  .stats_incidents = sq_stats_incidents,
  .stats_outages = sq_stats_outages,
  .stats_counts = sq_stats_counts,
  .stats_runs = sq_stats_runs,
};

static rb_status
exec_or_err(sqlite3 *db, const char *sql, char *err, const char *what)
{
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    snprintf(err, RB_ERRLEN, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return sq_map_rc(rc) == RB_OK ? RB_EUNAVAIL : sq_map_rc(rc);
  }
  return RB_OK;
}

static int
user_version(sqlite3 *db)
{
  sqlite3_stmt *st = NULL;
  int v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK
      && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static rb_status
migrate(sqlite3 *db, char *err)
{
  int v = user_version(db);
  int want = (int)RB_ARRAY_LEN(migrations);
  char sql[64];
  rb_status rc;

  if (v < 0) {
    snprintf(err, RB_ERRLEN, "cannot read the schema version: %s", sqlite3_errmsg(db));
    return RB_EUNAVAIL;
  }
  if (v > want) {
    snprintf(err, RB_ERRLEN,
             "the store's schema version %d is newer than this runbookd knows (%d)",
             v, want);
    return RB_EINVAL;
  }
  for (; v < want; v++) {
    rc = exec_or_err(db, "BEGIN IMMEDIATE", err, "migration");
    if (rc)
      return rc;
    rc = exec_or_err(db, migrations[v], err, "migration");
    if (!rc) {
      snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
      rc = exec_or_err(db, sql, err, "migration");
    }
    if (!rc)
      rc = exec_or_err(db, "COMMIT", err, "migration");
    if (rc) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return rc;
    }
    snprintf(sql, sizeof(sql), "%d", v + 1);
    rblog(LOG_INFO, "store schema migrated", "version", sql, NULL);
  }
  return RB_OK;
}

/* Opens our own descriptor of the -wal file (SQLite created it when the
 * connection went to WAL mode) and syncs the directory once, so the file's
 * name is durable too.  See the comment at the top. */
static rb_status
open_wal(struct sq *s, const char *dbpath, char *err)
{
  char wal[4200], dir[4096];
  const char *slash;
  struct stat a, b;
  int dfd;

  snprintf(wal, sizeof(wal), "%s-wal", dbpath);
  s->wal_fd = open(wal, O_RDWR | O_CLOEXEC);
  if (s->wal_fd < 0 || fstat(s->wal_fd, &a) != 0 || stat(wal, &b) != 0
      || a.st_ino != b.st_ino) {
    snprintf(err, RB_ERRLEN, "cannot open %s: %s", wal, strerror(errno));
    return RB_EUNAVAIL;
  }
  slash = strrchr(dbpath, '/');
  if (!slash)
    snprintf(dir, sizeof(dir), ".");
  else if (slash == dbpath)
    snprintf(dir, sizeof(dir), "/");
  else
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - dbpath), dbpath);
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync(dfd) != 0) {
    snprintf(err, RB_ERRLEN, "cannot sync the directory %s: %s", dir, strerror(errno));
    if (dfd >= 0)
      close(dfd);
    return RB_EUNAVAIL;
  }
  close(dfd);
  return RB_OK;
}

/* One writer per store, as Prometheus does for its data directory: an
 * exclusive flock() on <dir>/lock, held (the descriptor open) until the
 * store closes, and released by the kernel however the process ends, so a
 * crash leaves no stale lock.  The holder's PID is written into the file
 * for the message a second daemon gets.  Read-only opens (report, stats)
 * take no lock: SQLite's own locking makes them safe beside the writer. */
static rb_status
lock_dir(struct sq *s, const char *dir, char *err)
{
  char path[4200], pid[32], other[32];
  ssize_t n;
  int fd, len;

  snprintf(path, sizeof(path), "%s/lock", dir);
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    snprintf(err, RB_ERRLEN, "cannot open %s: %s", path, strerror(errno));
    return RB_EIO;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e != EWOULDBLOCK) {
      snprintf(err, RB_ERRLEN, "cannot lock %s: %s", path, strerror(e));
      close(fd);
      return RB_EIO;
    }
    memset(other, 0, sizeof(other));
    n = pread(fd, other, sizeof(other) - 1, 0);
    close(fd);
    if (n > 0 && other[0] >= '0' && other[0] <= '9')
      other[strspn(other, "0123456789")] = '\0';
    else
      snprintf(other, sizeof(other), "unknown");
    snprintf(err, RB_ERRLEN,
             "%s is in use by another runbookd (pid %s holds its lock file); "
             "stop it first or use another --storage.path",
             dir, other);
    return RB_ECONFLICT;
  }
  len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    snprintf(err, RB_ERRLEN, "cannot write %s: %s", path, strerror(errno));
    close(fd);
    return RB_EIO;
  }
  s->lock_fd = fd;
  return RB_OK;
}

/* No bulk page-cache allocation per connection (SQLite allocates and
 * touches 20 pages of each connection's cache on its first read, needed or
 * not); pages are allocated as they are used.  Only possible before SQLite
 * is initialised (it is a no-op after that), so once, at the first open. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void
sqlite_configure(void)
{
  sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

rb_status
store_sqlite_open(const struct store_options *opt,
                  const struct store_backend **be, void **h, char *err)
{
  struct sq *s = calloc(1, sizeof(*s));
  char path[4096], sql[128];
  int flags;
  rb_status rc = RB_OK;

  if (!s) {
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  pthread_once(&sqlite_once, sqlite_configure);
  pthread_mutex_init(&s->rmu, NULL);
  pthread_mutex_init(&s->ck_mu, NULL);
  pthread_cond_init(&s->ck_cv, NULL);
  s->read_only = opt->read_only;
  s->wal_fd = -1;
  s->lock_fd = -1;
  if (!opt->read_only && mkdir(opt->sqlite_dir, 0750) != 0 && errno != EEXIST) {
    snprintf(err, RB_ERRLEN, "cannot create %s: %s", opt->sqlite_dir, strerror(errno));
    rc = RB_EIO;
    goto fail;
  }
  /* Before SQLite touches anything (migrations included). */
  if (!opt->read_only) {
    rc = lock_dir(s, opt->sqlite_dir, err);
    if (rc)
      goto fail;
  }
  snprintf(path, sizeof(path), "%s/runbookd.db", opt->sqlite_dir);
  flags = SQLITE_OPEN_NOMUTEX
          | (opt->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path, &s->w, flags, NULL) != SQLITE_OK) {
    snprintf(err, RB_ERRLEN, "cannot open %s: %s", path, sqlite3_errmsg(s->w));
    rc = RB_EUNAVAIL;
    goto fail;
  }
  sqlite3_busy_handler(s->w, busy_poll, (void *)(intptr_t)50000); /* ~5 s */
  if (!opt->read_only) {
    if ((rc = exec_or_err(s->w, "PRAGMA journal_mode=WAL", err, path))
        || (rc = exec_or_err(s->w, "PRAGMA synchronous=FULL", err, path))
        || (rc = exec_or_err(s->w, "PRAGMA foreign_keys=ON", err, path))
        || (rc = migrate(s->w, err))
        || (rc = open_wal(s, path, err))
        || (rc = exec_or_err(s->w, "PRAGMA synchronous=NORMAL", err, path)))
      goto fail;
    if (opt->max_bytes > 0) {
      snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
               (long long)(opt->max_bytes / 4096 > 0 ? opt->max_bytes / 4096 : 1));
      if ((rc = exec_or_err(s->w, sql, err, path)))
        goto fail;
    }
    for (int i = 0; i < S_COUNT; i++) {
      if (sqlite3_prepare_v3(s->w, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                             &s->st[i], NULL) != SQLITE_OK) {
        snprintf(err, RB_ERRLEN, "prepare: %s", sqlite3_errmsg(s->w));
        rc = RB_EINTERNAL;
        goto fail;
      }
    }
    if ((rc = ckpt_start(s, path, err)))
      goto fail;
  } else if (user_version(s->w) != (int)RB_ARRAY_LEN(migrations)) {
    snprintf(err, RB_ERRLEN, "%s: no store of this version (run runbookd once to create it)",
             path);
    rc = RB_EINVAL;
    goto fail;
  }
  if (sqlite3_open_v2(path, &s->r, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL)
      != SQLITE_OK) {
    snprintf(err, RB_ERRLEN, "cannot open %s for reading: %s", path, sqlite3_errmsg(s->r));
    rc = RB_EUNAVAIL;
    goto fail;
  }
  sqlite3_busy_timeout(s->r, 5000);
  *be = &sqlite_backend;
  *h = s;
  return RB_OK;
fail:
  sq_close(s);
  return rc;
}

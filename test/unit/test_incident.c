/* Unit tests for incident.c over the SQLite store: the incident rules,
 * people's actions, the append-only timeline and group commit. */
#include "incident.h"
#include "payload.h"
#include "store.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static struct store *st;
static struct severity_map sev;
static const struct payload_limits lim = { 1000, 64, 256, 4096, 8192, 32 };

static void
open_store(void)
{
  struct store_options o = { .sqlite_dir = dir };
  char err[RB_ERRLEN];
  cr_assert_eq(store_open(&o, &st, err), RB_OK, "%s", err);
}

static void
setup(void)
{
  snprintf(dir, sizeof(dir), "/tmp/rbincXXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  severity_map_defaults(&sev);
  open_store();
}

static void
teardown(void)
{
  char cmd[128];
  store_close(st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
}

TestSuite(incident, .init = setup, .fini = teardown);

static struct am_payload *
alert(const char *status, const char *name, const char *starts, const char *severity)
{
  char body[1024], err[RB_ERRLEN];
  struct am_payload *p;
  snprintf(body, sizeof(body),
           "{\"version\":\"4\",\"status\":\"%s\",\"receiver\":\"hook\",\"alerts\":[{\"status\":\"%s\","
           "\"labels\":{\"alertname\":\"%s\",\"namespace\":\"ran-optimization\",\"severity\":\"%s\"},"
           "\"annotations\":{\"summary\":\"s\"},\"startsAt\":\"%s\",\"endsAt\":\"%s\"}]}",
           status, status, name, severity, starts,
           strcmp(status, "resolved") == 0 ? "2026-12-03T16:00:00Z" : "0001-01-01T00:00:00Z");
  cr_assert_eq(payload_parse(body, strlen(body), &lim, &p, err, sizeof(err)), RB_OK, "%s", err);
  return p;
}

static enum ingest_outcome
ingest(const char *status, const char *name, const char *starts, int64_t now, int64_t *id)
{
  struct am_payload *p = alert(status, name, starts, "warning");
  struct ingest_result r;
  enum ingest_outcome o;

  cr_assert_eq(incident_ingest(st, p, &sev, now, &r), RB_OK);
  cr_assert_eq(r.n, 1);
  o = r.outcome[0];
  if (id)
    *id = r.incident_id[0];
  ingest_result_free(&r);
  payload_free(p);
  return o;
}

static size_t
timeline_len(int64_t id)
{
  struct tl_event *ev;
  size_t n;
  cr_assert_eq(store_timeline(st, id, &ev, &n), RB_OK);
  tl_events_free(ev, n);
  return n;
}

static struct incident
get(int64_t id)
{
  struct incident inc;
  cr_assert_eq(store_get(st, id, &inc), RB_OK);
  return inc;
}

Test(incident, lifecycle_of_one_fingerprint)
{
  const char *t1 = "2026-12-03T15:00:00Z", *t2 = "2026-12-03T17:00:00Z";
  int64_t a, b, c;
  struct incident inc;

  cr_assert_eq(ingest("firing", "X", t1, 1000, &a), INGEST_NEW);
  inc = get(a);
  cr_assert_eq(inc.state, INC_OPEN);
  cr_assert_eq(inc.severity, SEV_MEDIUM);
  cr_assert_str_eq(inc.alertname, "X");
  cr_assert_eq(inc.deliveries, 1);
  incident_clear(&inc);

  /* Re-delivery: counter only, no timeline event. */
  cr_assert_eq(ingest("firing", "X", t1, 2000, &b), INGEST_REPEAT);
  cr_assert_eq(a, b);
  cr_assert_eq(timeline_len(a), 1);
  inc = get(a);
  cr_assert_eq(inc.deliveries, 2);
  cr_assert_eq(inc.last_seen_ms, 2000);
  incident_clear(&inc);

  cr_assert_eq(ingest("resolved", "X", t1, 3000, &b), INGEST_RESOLVED);
  cr_assert_eq(a, b);
  inc = get(a);
  cr_assert_eq(inc.state, INC_RESOLVED);
  cr_assert_str_eq(inc.resolved_by, "alertmanager");
  cr_assert_eq(inc.resolved_ms, 3000);
  incident_clear(&inc);
  cr_assert_eq(timeline_len(a), 2);

  /* The resolved notification again, and a late firing of the same start:
   * both stale. */
  cr_assert_eq(ingest("resolved", "X", t1, 4000, NULL), INGEST_STALE);
  cr_assert_eq(ingest("firing", "X", t1, 4500, NULL), INGEST_STALE);
  cr_assert_eq(timeline_len(a), 2);

  /* Firing again with a new start: a new incident. */
  cr_assert_eq(ingest("firing", "X", t2, 5000, &c), INGEST_NEW);
  cr_assert_neq(c, a);
}

Test(incident, refire_while_open_is_recorded)
{
  int64_t a, b;
  cr_assert_eq(ingest("firing", "Y", "2026-12-03T15:00:00Z", 1, &a), INGEST_NEW);
  cr_assert_eq(ingest("firing", "Y", "2026-12-03T15:30:00Z", 2, &b), INGEST_REFIRED);
  cr_assert_eq(a, b);
  cr_assert_eq(timeline_len(a), 2);
}

/* After a refire the incident follows the new firing: its re-deliveries
 * (repeat_interval, HA peers) are repeats, and the old firing's late
 * notifications are stale; startsAt stays the first firing's (MTTD). */
Test(incident, refired_incident_follows_the_new_firing)
{
  const char *t0 = "2026-12-03T14:00:00Z", *t1 = "2026-12-03T15:00:00Z",
             *t2 = "2026-12-03T15:30:00Z";
  int64_t a, b;
  struct incident inc;

  cr_assert_eq(ingest("firing", "W", t1, 1, &a), INGEST_NEW);
  cr_assert_eq(ingest("firing", "W", t2, 2, &b), INGEST_REFIRED);
  cr_assert_eq(a, b);
  cr_assert_eq(timeline_len(a), 2);
  /* The refire notification again, as an HA peer sends it. */
  cr_assert_eq(ingest("firing", "W", t2, 3, &b), INGEST_REPEAT);
  cr_assert_eq(timeline_len(a), 2, "a re-delivered refire adds no event");
  /* A late firing or resolution of the earlier firings. */
  cr_assert_eq(ingest("firing", "W", t1, 4, &b), INGEST_STALE);
  cr_assert_eq(ingest("resolved", "W", t1, 5, &b), INGEST_STALE);
  cr_assert_eq(ingest("resolved", "W", t0, 6, &b), INGEST_STALE);
  cr_assert_eq(a, b);
  inc = get(a);
  cr_assert_eq(inc.state, INC_OPEN, "the old firing's resolution leaves it open");
  cr_assert_eq(inc.deliveries, 6);
  cr_assert_eq(inc.last_seen_ms, 6);
  cr_assert_eq(inc.starts_at_ns, 1796310000LL * 1000000000, "startsAt stays the first firing's");
  cr_assert_eq(inc.firing_starts_at_ns, 1796311800LL * 1000000000);
  incident_clear(&inc);
  cr_assert_eq(timeline_len(a), 2);

  cr_assert_eq(ingest("resolved", "W", t2, 7, &b), INGEST_RESOLVED);
  inc = get(a);
  cr_assert_eq(inc.state, INC_RESOLVED);
  cr_assert_eq(inc.deliveries, 7);
  incident_clear(&inc);
  cr_assert_eq(timeline_len(a), 3);
  /* Resolved: only a firing later than the one it followed opens anew. */
  cr_assert_eq(ingest("firing", "W", t1, 8, &b), INGEST_STALE);
  cr_assert_eq(ingest("firing", "W", t2, 9, &b), INGEST_STALE);
  cr_assert_eq(ingest("firing", "W", "2026-12-03T16:00:00Z", 10, &b), INGEST_NEW);
  cr_assert_neq(a, b);
}

Test(incident, resolved_without_firing_is_kept)
{
  int64_t a;
  struct incident inc;
  cr_assert_eq(ingest("resolved", "Z", "2026-12-03T15:00:00Z", 1, &a), INGEST_RESOLVED);
  inc = get(a);
  cr_assert_eq(inc.state, INC_RESOLVED);
  incident_clear(&inc);
  cr_assert_eq(timeline_len(a), 2);
}

Test(incident, people_act_on_incidents)
{
  char msg[RB_ERRLEN];
  int64_t a;
  struct incident inc;
  struct tl_event *ev;
  size_t n;

  ingest("firing", "W", "2026-12-03T15:00:00Z", 1, &a);
  cr_assert_eq(incident_act(st, a, ACT_UNACK, "bob", NULL, 2, msg), RB_ECONFLICT);
  cr_assert_eq(incident_act(st, a, ACT_ACK, "alice", "looking", 3, msg), RB_OK, "%s", msg);
  cr_assert_eq(incident_act(st, a, ACT_ACK, "bob", NULL, 4, msg), RB_ECONFLICT);
  cr_assert(strstr(msg, "already acknowledged by alice"), "%s", msg);
  inc = get(a);
  cr_assert_eq(inc.state, INC_ACKED);
  cr_assert_str_eq(inc.acked_by, "alice");
  cr_assert_eq(inc.acked_ms, 3);
  incident_clear(&inc);
  cr_assert_eq(incident_act(st, a, ACT_UNACK, "alice", NULL, 5, msg), RB_OK);
  cr_assert_eq(incident_act(st, a, ACT_COMMENT, "carol", "db looks fine", 6, msg), RB_OK);
  cr_assert_eq(incident_act(st, a, ACT_RESOLVE, "carol", NULL, 7, msg), RB_OK);
  cr_assert_eq(incident_act(st, a, ACT_RESOLVE, "carol", NULL, 8, msg), RB_ECONFLICT);
  cr_assert_eq(incident_act(st, 999, ACT_ACK, "x", NULL, 9, msg), RB_ENOTFOUND);

  cr_assert_eq(store_timeline(st, a, &ev, &n), RB_OK);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(ev[1].kind, "acknowledged");
  cr_assert_str_eq(ev[1].actor, "alice");
  cr_assert(strstr(ev[1].detail, "looking"));
  cr_assert_str_eq(ev[2].kind, "unacknowledged");
  cr_assert_str_eq(ev[3].kind, "commented");
  cr_assert_str_eq(ev[4].kind, "resolved");
  cr_assert_str_eq(ev[4].actor, "carol");
  tl_events_free(ev, n);
}

Test(incident, list_filters)
{
  struct incident_filter f = { INC_OPEN, -1, NULL, 500, 0 };
  struct incident *v;
  size_t n;
  char msg[RB_ERRLEN];
  int64_t a;

  ingest("firing", "A", "2026-12-03T15:00:00Z", 1, &a);
  ingest("firing", "B", "2026-12-03T15:00:00Z", 1, NULL);
  ingest("firing", "C", "2026-12-03T15:00:00Z", 1, NULL);
  ingest("resolved", "C", "2026-12-03T15:00:00Z", 2, NULL);
  incident_act(st, a, ACT_ACK, "alice", NULL, 3, msg);

  cr_assert_eq(store_list(st, &f, &v, &n), RB_OK);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(v[0].alertname, "B"); /* newest first */
  incidents_free(v, n);
  f.state = INC_ACKED;
  store_list(st, &f, &v, &n);
  cr_assert_eq(n, 1);
  incidents_free(v, n);
  f.state = INC_FILTER_UNACKED;
  store_list(st, &f, &v, &n);
  cr_assert_eq(n, 1);
  incidents_free(v, n);
  f.state = -1;
  f.alertname = "C";
  store_list(st, &f, &v, &n);
  cr_assert_eq(n, 1);
  cr_assert_eq(v[0].state, INC_RESOLVED);
  incidents_free(v, n);
  f.alertname = NULL;
  f.limit = 1;
  f.offset = 2;
  store_list(st, &f, &v, &n);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(v[0].alertname, "A");
  incidents_free(v, n);

  int64_t counts[SEV_COUNT];
  cr_assert_eq(store_open_counts(st, counts), RB_OK);
  cr_assert_eq(counts[SEV_MEDIUM], 2);
}

Test(incident, timeline_is_append_only)
{
  char path[128];
  sqlite3 *db;
  int64_t a;

  ingest("firing", "T", "2026-12-03T15:00:00Z", 1, &a);
  snprintf(path, sizeof(path), "%s/runbookd.db", dir);
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  cr_assert_neq(sqlite3_exec(db, "UPDATE events SET kind = 'x'", NULL, NULL, NULL), SQLITE_OK);
  cr_assert_neq(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  cr_assert_eq(timeline_len(a), 1);
}

Test(incident, survives_reopen)
{
  int64_t a;
  ingest("firing", "R", "2026-12-03T15:00:00Z", 1, &a);
  store_close(st);
  open_store();
  cr_assert_eq(ingest("firing", "R", "2026-12-03T15:00:00Z", 2, NULL), INGEST_REPEAT);
}

/* One writer per store directory (store.h): while the store is open for
 * writing, another writable open of its directory is refused, naming the
 * directory and the holder's PID (also in <dir>/lock); a read-only open,
 * as `runbookd report` and `stats` make, works beside it; closing releases
 * the lock. */
Test(incident, store_directory_is_locked)
{
  struct store_options o = { .sqlite_dir = dir };
  struct store_options ro = { .sqlite_dir = dir, .read_only = 1 };
  struct store *other = (struct store *)1, *reader = NULL;
  char err[RB_ERRLEN] = "", pid[32], path[128], text[32] = "";
  struct incident inc;
  FILE *f;
  int64_t a;

  ingest("firing", "L", "2026-12-03T15:00:00Z", 1, &a);
  cr_assert_eq(store_open(&o, &other, err), RB_ECONFLICT, "a second writable open: %s", err);
  cr_assert_null(other);
  snprintf(pid, sizeof(pid), "pid %ld ", (long)getpid());
  cr_expect(strstr(err, dir) != NULL, "the refusal names the directory: %s", err);
  cr_expect(strstr(err, "another runbookd") != NULL, "and another runbookd: %s", err);
  cr_expect(strstr(err, pid) != NULL, "and the holder's %s: %s", pid, err);
  snprintf(path, sizeof(path), "%s/lock", dir);
  f = fopen(path, "r");
  cr_assert_not_null(f);
  cr_assert_not_null(fgets(text, sizeof(text), f));
  fclose(f);
  cr_expect_eq(strtol(text, NULL, 10), (long)getpid(), "the lock file holds our PID: %s", text);

  cr_assert_eq(store_open(&ro, &reader, err), RB_OK, "read-only beside the writer: %s", err);
  cr_assert_eq(store_get(reader, a, &inc), RB_OK);
  cr_expect_str_eq(inc.alertname, "L");
  incident_clear(&inc);
  store_close(reader);
  cr_assert_eq(ingest("firing", "L2", "2026-12-03T15:00:00Z", 2, NULL), INGEST_NEW,
               "the writer is unaffected by the refused open");

  store_close(st);
  st = NULL;
  cr_assert_eq(store_open(&o, &st, err), RB_OK, "reopened once released: %s", err);
  cr_assert_eq(ingest("firing", "L", "2026-12-03T15:00:00Z", 3, NULL), INGEST_REPEAT);
}

/* A store of schema version 4 (before firing_starts_at_ns) is migrated
 * at open: its incidents follow their own firing. */
Test(incident, schema_4_store_is_migrated)
{
  char path[128];
  sqlite3 *db;
  int64_t a;
  struct incident inc;

  ingest("firing", "M", "2026-12-03T15:00:00Z", 1, &a);
  store_close(st);
  snprintf(path, sizeof(path), "%s/runbookd.db", dir);
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db, "ALTER TABLE incidents DROP COLUMN firing_starts_at_ns;"
                                "PRAGMA user_version = 4;", NULL, NULL, NULL), SQLITE_OK,
               "%s", sqlite3_errmsg(db));
  sqlite3_close(db);
  open_store();
  inc = get(a);
  cr_assert_eq(inc.firing_starts_at_ns, inc.starts_at_ns);
  cr_assert_eq(inc.firing_starts_at_ns, 1796310000LL * 1000000000);
  incident_clear(&inc);
  cr_assert_eq(ingest("firing", "M", "2026-12-03T15:00:00Z", 2, NULL), INGEST_REPEAT);
  cr_assert_eq(ingest("firing", "M", "2026-12-03T15:30:00Z", 3, NULL), INGEST_REFIRED);
}

static void *
writer(void *arg)
{
  char name[32];
  for (int i = 0; i < 50; i++) {
    snprintf(name, sizeof(name), "G%ld-%d", (long)(intptr_t)arg, i);
    if (ingest("firing", name, "2026-12-03T15:00:00Z", 1, NULL) != INGEST_NEW)
      return (void *)1;
  }
  return NULL;
}

/* Concurrent submitters share commits and every job lands. */
Test(incident, group_commit_under_concurrency)
{
  pthread_t t[8];
  struct incident_filter f = { -1, -1, NULL, 500, 0 };
  struct incident *v;
  size_t n, total = 0;
  void *ret;

  for (intptr_t i = 0; i < 8; i++)
    pthread_create(&t[i], NULL, writer, (void *)i);
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], &ret);
    cr_assert_null(ret);
  }
  for (f.offset = 0;; f.offset += n) {
    cr_assert_eq(store_list(st, &f, &v, &n), RB_OK);
    incidents_free(v, n);
    total += n;
    if (n == 0)
      break;
  }
  cr_assert_eq(total, 400);
}

Test(incident, full_store_fails_with_unavailable)
{
  struct store_options o = { .sqlite_dir = dir, .max_bytes = 64 * 1024 };
  char err[RB_ERRLEN], name[64];
  rb_status rc = RB_OK;
  int i;

  store_close(st);
  cr_assert_eq(store_open(&o, &st, err), RB_OK, "%s", err);
  for (i = 0; i < 2000 && rc == RB_OK; i++) {
    struct am_payload *p;
    struct ingest_result r;
    snprintf(name, sizeof(name), "Full-%d", i);
    p = alert("firing", name, "2026-12-03T15:00:00Z", "high");
    rc = incident_ingest(st, p, &sev, 1, &r);
    ingest_result_free(&r);
    payload_free(p);
  }
  cr_assert_eq(rc, RB_EUNAVAIL, "store never filled after %d alerts", i);
}

/* After a burst, an idle store gives its page caches back: SQLite's memory
 * in use drops, without any call from outside. */
Test(incident, idle_store_gives_memory_back)
{
  struct store_options o = { .sqlite_dir = dir, .idle_release_ms = 20 };
  char err[RB_ERRLEN], name[64];
  sqlite3_int64 busy;
  unsigned long r0;

  store_close(st);
  cr_assert_eq(store_open(&o, &st, err), RB_OK, "%s", err);
  for (int i = 0; i < 1500; i++) {
    snprintf(name, sizeof(name), "Burst-%d", i);
    ingest("firing", name, "2026-12-03T15:00:00Z", 1, NULL);
  }
  busy = sqlite3_memory_used();
  r0 = store_memory_releases(st);
  /* The writer releases 20 ms after its last job; wait for it (bounded). */
  for (int i = 0; i < 5000 && store_memory_releases(st) == r0; i++) {
    struct timespec ms = { 0, 1000000 };
    nanosleep(&ms, NULL);
  }
  cr_assert_gt(store_memory_releases(st), r0, "no release within 5 s of idleness");
  cr_expect_lt(sqlite3_memory_used(), busy / 2, "SQLite holds %lld bytes, %lld before",
               (long long)sqlite3_memory_used(), (long long)busy);
  /* Idle without new jobs: no further release; a new job re-arms it. */
  r0 = store_memory_releases(st);
  ingest("firing", "After", "2026-12-03T15:00:00Z", 1, NULL);
  for (int i = 0; i < 5000 && store_memory_releases(st) == r0; i++) {
    struct timespec ms = { 0, 1000000 };
    nanosleep(&ms, NULL);
  }
  cr_expect_eq(store_memory_releases(st), r0 + 1);
}

/*
 * store_sqlite_stats.c - the SQLite backend's reads for statistics
 * (stats.h): incidents of a window with their first response, the
 * emergency and critical incidents that may overlap it, counts by one
 * dimension and remediation runs by outcome.  Counting and the per-incident
 * subqueries run in SQL; what needs a definition shared with the reports
 * (times, spans, percentiles) is left to stats.c.  Reads run on the
 * reader connection under its mutex, prepared per call (low rate).
 */
#include "log.h"
#include "stats.h"
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of struct stats_incident.  A person is any actor other than
 * alertmanager and runbookd; the first response is the first ack, or a
 * person's resolve when earlier (docs/reports.md). */
#define STATS_INCIDENT_COLS                                                             \
  "SELECT i.id, i.severity, i.alertname, i.namespace,"                                  \
  " COALESCE(NULLIF(json_extract(i.labels, '$.deployment'), ''), i.alertname),"        \
  " i.state = 'resolved', i.starts_at_ns, i.ends_at_ns, i.opened_ms, i.resolved_ms,"   \
  " i.resolved_by,"                                                                     \
  " (SELECT MIN(e.at_ms) FROM events e WHERE e.incident_id = i.id AND (e.kind ="       \
  "   'acknowledged' OR (e.kind = 'resolved' AND e.actor NOT IN ('alertmanager',"       \
  "   'runbookd')))),"                                                                  \
  " EXISTS (SELECT 1 FROM events e WHERE e.incident_id = i.id"                          \
  "   AND e.actor NOT IN ('alertmanager', 'runbookd'))"                                 \
  " FROM incidents i "

void
stats_incidents_free(struct stats_incident *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].alertname);
    free(v[i].namespace_);
    free(v[i].service);
    free(v[i].resolved_by);
  }
  free(v);
}

void
stats_counts_free(struct stats_count *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    free(v[i].value);
  free(v);
}

static int
stats_incident_row(sqlite3_stmt *st, void *p)
{
  struct stats_incident *r = p;

  r->id = sqlite3_column_int64(st, 0);
  r->severity = severity_parse((const char *)sqlite3_column_text(st, 1));
  r->alertname = sq_col_str(st, 2);
  r->namespace_ = sq_col_str(st, 3);
  r->service = sq_col_str(st, 4);
  r->resolved = sqlite3_column_int(st, 5);
  r->starts_at_ns = sqlite3_column_int64(st, 6);
  r->ends_at_ns = sqlite3_column_int64(st, 7);
  r->opened_ms = sqlite3_column_int64(st, 8);
  r->resolved_ms = sqlite3_column_int64(st, 9);
  r->resolved_by = sq_col_str(st, 10);
  r->first_response_ms = sqlite3_column_int64(st, 11); /* NULL reads as 0 */
  r->person_acted = sqlite3_column_int(st, 12);
  return !r->alertname || !r->service;
}

static rb_status
incident_rows(struct sq *s, const char *where, int64_t a, int64_t b,
              struct stats_incident **out, size_t *n)
{
  const struct sq_arg args[2] = { { NULL, a }, { NULL, b } };
  char sql[2048];
  rb_status ret;

  snprintf(sql, sizeof(sql), "%s%s ORDER BY i.id", STATS_INCIDENT_COLS, where);
  ret = sq_read(s, sql, args, 2, sizeof(**out), (void **)out, n, stats_incident_row);
  if (ret) {
    stats_incidents_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return ret;
}

rb_status
sq_stats_incidents(void *h, int64_t from_ms, int64_t to_ms, struct stats_incident **out,
                   size_t *n)
{
  return incident_rows(h, "WHERE i.opened_ms >= ?1 AND i.opened_ms < ?2", from_ms, to_ms, out,
                       n);
}

rb_status
sq_stats_outages(void *h, int64_t from_ms, int64_t to_ms, struct stats_incident **out,
                 size_t *n)
{
  /* A superset: the exact span (startsAt to endsAt or the resolve) is
   * computed and clipped by stats.c. */
  return incident_rows(h,
                       "WHERE i.severity IN ('emergency', 'critical')"
                       " AND (i.state != 'resolved' OR i.resolved_ms >= ?1)"
                       " AND MIN(i.opened_ms, CASE WHEN i.starts_at_ns > 0"
                       "   THEN i.starts_at_ns / 1000000 ELSE i.opened_ms END) < ?2",
                       from_ms, to_ms, out, n);
}

static int
count_row(sqlite3_stmt *st, void *p)
{
  struct stats_count *c = p;

  c->value = sq_col_str(st, 0); /* NULL: incidents without a namespace */
  c->count = sqlite3_column_int64(st, 1);
  return 0;
}

rb_status
sq_stats_counts(void *h, int dim, int64_t from_ms, int64_t to_ms, struct stats_count **out,
                size_t *n)
{
  static const char *const sql[STATS_DIM_COUNT] = {
    [STATS_BY_ALERTNAME] = "SELECT alertname, count(*) FROM incidents"
                           " WHERE opened_ms >= ?1 AND opened_ms < ?2"
                           " GROUP BY alertname ORDER BY 2 DESC, 1",
    [STATS_BY_SEVERITY] = "SELECT severity, count(*) FROM incidents"
                          " WHERE opened_ms >= ?1 AND opened_ms < ?2 GROUP BY severity"
                          " ORDER BY CASE severity WHEN 'emergency' THEN 0 WHEN 'critical'"
                          " THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 WHEN 'low' THEN 4"
                          " ELSE 5 END, 1",
    [STATS_BY_NAMESPACE] = "SELECT namespace, count(*) FROM incidents"
                           " WHERE opened_ms >= ?1 AND opened_ms < ?2"
                           " GROUP BY namespace ORDER BY 2 DESC, 1",
  };
  const struct sq_arg args[2] = { { NULL, from_ms }, { NULL, to_ms } };
  rb_status ret;

  *out = NULL;
  *n = 0;
  if (dim < 0 || dim >= STATS_DIM_COUNT)
    return RB_EINVAL;
  ret = sq_read(h, sql[dim], args, 2, sizeof(**out), (void **)out, n, count_row);
  if (ret) {
    stats_counts_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return ret;
}

static int
runs_row(sqlite3_stmt *st, void *p)
{
  struct stats_runs *out = p;
  const char *state = (const char *)sqlite3_column_text(st, 0);
  const char *outcome = (const char *)sqlite3_column_text(st, 1);
  int dry = sqlite3_column_int(st, 2);
  int64_t k = sqlite3_column_int64(st, 3);

  out->started += k;
  if (state && strcmp(state, "running") == 0)
    out->running += k;
  else if (dry)
    out->dry_run += k; /* changed nothing: kept out of the success rate */
  else if (outcome && strcmp(outcome, "succeeded") == 0)
    out->succeeded += k;
  else if (outcome && strcmp(outcome, "unverified") == 0)
    out->unverified += k;
  else
    out->failed += k;
  return 0;
}

rb_status
sq_stats_runs(void *h, int64_t from_ms, int64_t to_ms, struct stats_runs *out)
{
  const struct sq_arg args[2] = { { NULL, from_ms }, { NULL, to_ms } };
  void *acc = out;
  size_t rows;

  memset(out, 0, sizeof(*out));
  return sq_read(h,
                 "SELECT state, COALESCE(outcome, ''), dry_run, count(*) FROM remediation_runs"
                 " WHERE started_ms >= ?1 AND started_ms < ?2 GROUP BY 1, 2, 3",
                 args, 2, 0, &acc, &rows, runs_row);
}

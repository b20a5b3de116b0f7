/*
 * store_sqlite_esc.c - the SQLite backend's escalation rows, page outbox
 * and silences.  These paths are low-rate (timers, people, pages), so
 * statements are prepared per call rather than cached.
 */
#include "escalation.h"
#include "log.h"
#include "store_sqlite_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rb_status
prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
    rblog(LOG_ERROR, "sqlite prepare failed", "error", sqlite3_errmsg(db), "sql", sql, NULL);
    return RB_EUNAVAIL;
  }
  return RB_OK;
}

static rb_status
finish_step(sqlite3 *db, sqlite3_stmt *st)
{
  int rc = sqlite3_step(st);
  rb_status ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? RB_OK : sq_map_rc(rc);
  if (ret)
    rblog(LOG_ERROR, "sqlite statement failed", "error", sqlite3_errmsg(db), NULL);
  sqlite3_finalize(st);
  return ret;
}

/* Who was paged, and the ack taken into account, in the escalations row's
 * paged_mask column.  The column is from schema 3, when it held a bit mask
 * by index in the configured contacts (a reload that added or reordered
 * contacts then sent notices to people never paged).  It now holds, when
 * anyone was paged or an ack was seen, a JSON object
 * {"paged":["<contact id>",...],"ack_seen_ms":N}: SQLite keeps a text that
 * is not a number as TEXT whatever the column's affinity, so no migration
 * is needed.  An INTEGER found there is a row from an older runbookd,
 * handed on as legacy_mask.  (Columns of their own would take a migration
 * in store_sqlite.c.) */
static void
paged_read(sqlite3_stmt *st, int col, struct esc_state *out)
{
  cJSON *o, *a, *it;

  if (sqlite3_column_type(st, col) != SQLITE_TEXT) {
    out->legacy_mask = (unsigned)sqlite3_column_int64(st, col);
    return;
  }
  o = cJSON_Parse((const char *)sqlite3_column_text(st, col));
  it = cJSON_GetObjectItemCaseSensitive(o, "ack_seen_ms");
  if (cJSON_IsNumber(it))
    out->ack_seen_ms = (int64_t)it->valuedouble;
  a = cJSON_GetObjectItemCaseSensitive(o, "paged");
  cJSON_ArrayForEach(it, a)
  {
    if (cJSON_IsString(it) && esc_paged_add(out, it->valuestring) != 0)
      break;
  }
  cJSON_Delete(o);
}

/* Binds what paged_read reads; *owned gets a string to free after the
 * statement. */
static rb_status
paged_bind(sqlite3_stmt *st, int col, const struct esc_state *e, char **owned)
{
  cJSON *o, *a;

  *owned = NULL;
  if (!e->paged_len && !e->ack_seen_ms) {
    sqlite3_bind_int64(st, col, (sqlite3_int64)e->legacy_mask);
    return RB_OK;
  }
  o = cJSON_CreateObject();
  a = cJSON_AddArrayToObject(o, "paged");
  if (e->ack_seen_ms && !cJSON_AddNumberToObject(o, "ack_seen_ms", (double)e->ack_seen_ms))
    a = NULL;
  for (const char *c = esc_paged_next(e, NULL); a && c; c = esc_paged_next(e, c)) {
    cJSON *v = cJSON_CreateString(c);
    if (!v || !cJSON_AddItemToArray(a, v)) {
      cJSON_Delete(v);
      a = NULL;
    }
  }
  *owned = a ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!*owned)
    return RB_ENOMEM;
  sqlite3_bind_text(st, col, *owned, -1, SQLITE_STATIC);
  return RB_OK;
}

rb_status
sq_esc_get(void *h, int64_t incident_id, struct esc_state *out)
{
  struct sq *s = h;
  sqlite3_stmt *st;
  rb_status rc;
  int r;

  rc = prep(s->w,
            "SELECT severity, phase, level, repeats, opened_ms, level_due_ms, progress_due_ms,"
            " unavailable_due_ms, paged_mask, urgent, next_due_ms FROM escalations"
            " WHERE incident_id = ?",
            &st);
  if (rc)
    return rc;
  sqlite3_bind_int64(st, 1, incident_id);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    memset(out, 0, sizeof(*out));
    out->incident_id = incident_id;
    out->severity = (enum severity)sqlite3_column_int(st, 0);
    out->phase = (enum esc_phase)sqlite3_column_int(st, 1);
    out->level = sqlite3_column_int(st, 2);
    out->repeats = sqlite3_column_int(st, 3);
    out->opened_ms = sqlite3_column_int64(st, 4);
    out->level_due_ms = sqlite3_column_int64(st, 5);
    out->progress_due_ms = sqlite3_column_int64(st, 6);
    out->unavailable_due_ms = sqlite3_column_int64(st, 7);
    paged_read(st, 8, out);
    out->urgent = sqlite3_column_int(st, 9);
    out->stored_due_ms = sqlite3_column_int64(st, 10);
    rc = RB_OK;
  } else {
    rc = r == SQLITE_DONE ? RB_ENOTFOUND : sq_map_rc(r);
  }
  sqlite3_finalize(st);
  return rc;
}

rb_status
sq_esc_put(void *h, const struct esc_state *e, int64_t next_due_ms)
{
  struct sq *s = h;
  sqlite3_stmt *st;
  char *paged;
  rb_status rc;

  rc = prep(s->w,
            "INSERT OR REPLACE INTO escalations (incident_id, severity, phase, level, repeats,"
            " opened_ms, level_due_ms, progress_due_ms, unavailable_due_ms, paged_mask, urgent,"
            " next_due_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            &st);
  if (rc)
    return rc;
  sqlite3_bind_int64(st, 1, e->incident_id);
  sqlite3_bind_int(st, 2, (int)e->severity);
  sqlite3_bind_int(st, 3, (int)e->phase);
  sqlite3_bind_int(st, 4, e->level);
  sqlite3_bind_int(st, 5, e->repeats);
  sqlite3_bind_int64(st, 6, e->opened_ms);
  sqlite3_bind_int64(st, 7, e->level_due_ms);
  sqlite3_bind_int64(st, 8, e->progress_due_ms);
  sqlite3_bind_int64(st, 9, e->unavailable_due_ms);
  rc = paged_bind(st, 10, e, &paged);
  if (rc) {
    sqlite3_finalize(st);
    return rc;
  }
  sqlite3_bind_int(st, 11, e->urgent);
  sqlite3_bind_int64(st, 12, next_due_ms);
  rc = finish_step(s->w, st);
  cJSON_free(paged);
  return rc;
}

rb_status
sq_page_insert(void *h, struct page_row *p)
{
  struct sq *s = h;
  sqlite3_stmt *st;
  rb_status rc;

  rc = prep(s->w,
            "INSERT INTO pages (incident_id, contact, event, level, severity, reason,"
            " delivery_id, created_ms) VALUES (?,?,?,?,?,?,?,?)",
            &st);
  if (rc)
    return rc;
  sqlite3_bind_int64(st, 1, p->incident_id);
  sqlite3_bind_text(st, 2, p->contact, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, p->event);
  sqlite3_bind_int(st, 4, p->level);
  sqlite3_bind_int(st, 5, p->severity);
  if (p->reason)
    sqlite3_bind_text(st, 6, p->reason, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, p->delivery_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, p->created_ms);
  rc = finish_step(s->w, st);
  if (!rc)
    p->id = sqlite3_last_insert_rowid(s->w);
  return rc;
}

rb_status
sq_page_done(void *h, int64_t id)
{
  struct sq *s = h;
  sqlite3_stmt *st;
  rb_status rc = prep(s->w, "UPDATE pages SET done = 1 WHERE id = ?", &st);
  if (rc)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  return finish_step(s->w, st);
}

rb_status
sq_silence_put(void *h, const struct silence_row *r)
{
  struct sq *s = h;
  sqlite3_stmt *st;
  rb_status rc;

  rc = prep(s->w,
            "INSERT INTO silences (id, matchers, starts_ms, ends_ms, updated_ms,"
            " created_by, comment, upstream_id) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers,"
            " starts_ms = excluded.starts_ms, ends_ms = excluded.ends_ms,"
            " updated_ms = excluded.updated_ms, created_by = excluded.created_by,"
            " comment = excluded.comment,"
            " upstream_id = COALESCE(excluded.upstream_id, silences.upstream_id)",
            &st);
  if (rc)
    return rc;
  sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->matchers_json, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, r->starts_ms);
  sqlite3_bind_int64(st, 4, r->ends_ms);
  sqlite3_bind_int64(st, 5, r->updated_ms);
  sqlite3_bind_text(st, 6, r->created_by ? r->created_by : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, r->comment ? r->comment : "", -1, SQLITE_STATIC);
  if (r->upstream_id[0])
    sqlite3_bind_text(st, 8, r->upstream_id, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 8);
  return finish_step(s->w, st);
}

rb_status
sq_silence_upstream(void *h, const char *id, const char *upstream_id)
{
  struct sq *s = h;
  sqlite3_stmt *st;
  rb_status rc;

  rc = prep(s->w, "UPDATE silences SET upstream_id = ? WHERE id = ?", &st);
  if (rc)
    return rc;
  if (upstream_id && *upstream_id)
    sqlite3_bind_text(st, 1, upstream_id, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 1);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  return finish_step(s->w, st);
}

rb_status
sq_silence_purge(void *h, int64_t ended_ms, size_t *n)
{
  struct sq *s = h;
  sqlite3_stmt *st;
  rb_status rc;

  *n = 0;
  rc = prep(s->w, "DELETE FROM silences WHERE ends_ms <= ?", &st);
  if (rc)
    return rc;
  sqlite3_bind_int64(st, 1, ended_ms);
  rc = finish_step(s->w, st);
  if (!rc)
    *n = (size_t)sqlite3_changes(s->w);
  return rc;
}

static int
due_row(sqlite3_stmt *st, void *p)
{
  struct esc_due_row *r = p;
  r->incident_id = sqlite3_column_int64(st, 0);
  r->due_ms = sqlite3_column_int64(st, 1);
  return 0;
}

rb_status
sq_esc_due_all(void *h, struct esc_due_row **out, size_t *n)
{
  rb_status rc = sq_read(h, "SELECT incident_id, next_due_ms FROM escalations WHERE next_due_ms > 0",
                         NULL, 0, sizeof(**out), (void **)out, n, due_row);
  if (rc) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int
sq_id_row(sqlite3_stmt *st, void *p)
{
  *(int64_t *)p = sqlite3_column_int64(st, 0);
  return 0;
}

/* The incidents the pager must look at when it starts (or paging is
 * turned on): unresolved ones without an escalation row (a crash between
 * the webhook's commit and the pager's), and those whose escalation does
 * not follow their state (an ack, unack or resolve whose hook was lost in
 * a crash between the incident's commit and the pager's, or that came
 * while paging was off).  An acknowledged incident's active escalation is
 * listed too: it may be one the unavailable trigger made active again
 * after the ack, which the pager tells apart (ack_seen_ms) and leaves. */
rb_status
sq_esc_missing(void *h, int64_t **ids, size_t *n)
{
  rb_status rc = sq_read(h,
                         "SELECT i.id FROM incidents i LEFT JOIN escalations e"
                         " ON e.incident_id = i.id WHERE i.state != 'resolved'"
                         " AND e.incident_id IS NULL"
                         " UNION SELECT e.incident_id FROM escalations e"
                         " JOIN incidents i ON i.id = e.incident_id WHERE e.phase != 2"
                         " AND (i.state = 'resolved' OR (i.state = 'open' AND e.phase = 1)"
                         " OR (i.state = 'acked' AND e.phase = 0))"
                         " ORDER BY 1",
                         NULL, 0, sizeof(**ids), (void **)ids, n, sq_id_row);
  if (rc) {
    free(*ids);
    *ids = NULL;
    *n = 0;
  }
  return rc;
}

#define PAGE_COLS "id, incident_id, contact, event, level, severity, reason, delivery_id, created_ms"

static int
page_row_fill(sqlite3_stmt *st, void *p)
{
  struct page_row *r = p;
  r->id = sqlite3_column_int64(st, 0);
  r->incident_id = sqlite3_column_int64(st, 1);
  r->contact = sq_col_str(st, 2);
  r->event = sqlite3_column_int(st, 3);
  r->level = sqlite3_column_int(st, 4);
  r->severity = sqlite3_column_int(st, 5);
  r->reason = sq_col_str(st, 6);
  r->delivery_id = sq_col_str(st, 7);
  r->created_ms = sqlite3_column_int64(st, 8);
  return !r->contact || !r->delivery_id;
}

rb_status
sq_pages_pending(void *h, struct page_row **out, size_t *n)
{
  rb_status rc = sq_read(h, "SELECT " PAGE_COLS " FROM pages WHERE done = 0 ORDER BY id", NULL,
                         0, sizeof(**out), (void **)out, n, page_row_fill);
  if (rc) {
    page_rows_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

rb_status
sq_page_get(void *h, int64_t id, struct page_row *out)
{
  struct page_row *v = NULL;
  size_t n = 0;
  struct sq_arg a = { NULL, id };
  rb_status rc = sq_read(h, "SELECT " PAGE_COLS " FROM pages WHERE id = ?1", &a, 1, sizeof(*v),
                         (void **)&v, &n, page_row_fill);
  if (!rc && n == 0)
    rc = RB_ENOTFOUND;
  if (!rc) {
    *out = v[0];
    memset(&v[0], 0, sizeof(v[0]));
  }
  page_rows_free(v, n);
  return rc;
}

static int
silence_row_fill(sqlite3_stmt *st, void *p)
{
  struct silence_row *r = p;
  const unsigned char *id = sqlite3_column_text(st, 0);
  snprintf(r->id, sizeof(r->id), "%s", id ? (const char *)id : "");
  r->matchers_json = sq_col_str(st, 1);
  r->starts_ms = sqlite3_column_int64(st, 2);
  r->ends_ms = sqlite3_column_int64(st, 3);
  r->updated_ms = sqlite3_column_int64(st, 4);
  r->created_by = sq_col_str(st, 5);
  r->comment = sq_col_str(st, 6);
  {
    const unsigned char *up = sqlite3_column_text(st, 7);
    snprintf(r->upstream_id, sizeof(r->upstream_id), "%s", up ? (const char *)up : "");
  }
  return !r->matchers_json;
}

rb_status
sq_silences_all(void *h, struct silence_row **out, size_t *n)
{
  rb_status rc = sq_read(h,
                         "SELECT id, matchers, starts_ms, ends_ms, updated_ms, created_by,"
                         " comment, upstream_id FROM silences ORDER BY updated_ms",
                         NULL, 0, sizeof(**out), (void **)out, n, silence_row_fill);
  if (rc) {
    silence_rows_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

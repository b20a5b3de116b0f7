/*
 * incident.c - turn Alertmanager notifications into incidents, and apply
 * people's actions to them.  The rules are in incident.h; each function
 * here that writes runs as a store job (on the writer thread, inside the
 * group-commit transaction).
 */
#include "incident.h"
#include "buf.h"
#include "payload.h"
#include "rbtime.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[INC_STATE_COUNT] = { "open", "acked", "resolved" };
static const char *const outcome_names[INGEST_OUTCOME_COUNT] = {
  "new", "repeat", "refired", "resolved", "stale"
};

const char *
incident_state_name(enum incident_state s)
{
  return (unsigned)s < INC_STATE_COUNT ? state_names[s] : "unknown";
}

int
incident_state_parse(const char *s)
{
  for (int i = 0; s && i < INC_STATE_COUNT; i++)
    if (strcmp(s, state_names[i]) == 0)
      return i;
  return -1;
}

const char *
ingest_outcome_name(enum ingest_outcome o)
{
  return (unsigned)o < INGEST_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

void
incident_clear(struct incident *inc)
{
  if (!inc)
    return;
  free(inc->alertname);
  free(inc->namespace_);
  free(inc->summary);
  free(inc->labels_json);
  free(inc->annotations_json);
  free(inc->acked_by);
  free(inc->resolved_by);
  memset(inc, 0, sizeof(*inc));
}

void
tl_event_clear(struct tl_event *ev)
{
  if (!ev)
    return;
  free(ev->kind);
  free(ev->actor);
  free(ev->detail);
  memset(ev, 0, sizeof(*ev));
}

/* What b holds, copied into the arena; NULL when b ran out of memory. */
static char *
arena_copy(struct rb_arena *a, rb_status rc, const struct buf *b)
{
  return rc || !b->data ? NULL : rb_arena_strndup(a, b->data, b->len);
}

static char *
labels_to_json(struct rb_arena *a, struct buf *b, const struct am_labels *ls)
{
  rb_status rc;

  buf_reset(b);
  rc = buf_puts(b, "{");
  for (size_t i = 0; !rc && i < ls->n; i++) {
    if (i)
      buf_puts(b, ",");
    buf_json_str(b, ls->kv[i].name);
    buf_puts(b, ":");
    rc = buf_json_str(b, ls->kv[i].value);
  }
  if (!rc)
    rc = buf_puts(b, "}");
  return arena_copy(a, rc, b);
}

/* One alert made ready for the writer: everything that does not depend on
 * what the store holds is built here, on the submitting thread, so the
 * writer only looks up, binds and steps. */
struct alert_prep {
  struct incident tmpl;   /* the incident a new firing opens (strings in mem) */
  char *received;         /* detail of its "received" event (in mem) */
};

struct ingest_job {
  struct store_job job;
  const struct am_payload *p;
  int64_t now;
  struct rb_arena mem;    /* prep and its strings: freed with the job */
  struct alert_prep *prep;
  struct ingest_result *res;
  struct ingest_result own;   /* res points here for incident_ingest_submit */
  void (*done)(void *arg, rb_status rc);
  void *done_arg;
};

/* The detail of a "received" event: where the notification came from. */
static char *
received_detail(struct rb_arena *m, struct buf *b, const struct am_payload *p,
                const struct am_alert *a)
{
  char ts[48];

  buf_reset(b);
  buf_puts(b, "{\"status\":");
  buf_json_str(b, a->resolved ? "resolved" : "firing");
  buf_puts(b, ",\"startsAt\":");
  buf_json_str(b, rb_time_fmt_ns(a->starts_at_ns, ts, sizeof(ts)));
  buf_puts(b, ",\"receiver\":");
  buf_json_str(b, p->receiver);
  buf_puts(b, ",\"groupKey\":");
  buf_json_str(b, p->group_key);
  buf_puts(b, ",\"externalURL\":");
  buf_json_str(b, p->external_url);
  buf_puts(b, ",\"generatorURL\":");
  buf_json_str(b, a->generator_url);
  return arena_copy(m, buf_printf(b, ",\"fingerprintComputed\":%s,\"truncatedAlerts\":%lld}",
                                  a->fingerprint_computed ? "true" : "false",
                                  (long long)p->truncated_alerts),
                    b);
}

static char *
arena_dup_or_null(struct rb_arena *a, const char *s, int *oom)
{
  char *r = s ? rb_arena_strdup(a, s) : NULL;

  if (s && !r)
    *oom = 1;
  return r;
}

static rb_status
prepare_alert(struct ingest_job *j, const struct severity_map *sev, const struct am_alert *a,
              struct buf *scratch, struct alert_prep *pr)
{
  struct incident *inc = &pr->tmpl;
  const char *summary;
  int oom = 0;

  memcpy(inc->fingerprint, a->fingerprint, sizeof(inc->fingerprint));
  inc->state = INC_OPEN;
  inc->severity = severity_normalise(sev, am_label(&a->labels, "severity"));
  inc->alertname = arena_dup_or_null(&j->mem, am_label(&a->labels, "alertname"), &oom);
  inc->namespace_ = arena_dup_or_null(&j->mem, am_label(&a->labels, "namespace"), &oom);
  summary = am_label(&a->annotations, "summary");
  if (!summary)
    summary = am_label(&a->annotations, "description");
  inc->summary = arena_dup_or_null(&j->mem, summary, &oom);
  inc->labels_json = labels_to_json(&j->mem, scratch, &a->labels);
  inc->annotations_json = labels_to_json(&j->mem, scratch, &a->annotations);
  inc->starts_at_ns = a->starts_at_ns;
  inc->firing_starts_at_ns = a->starts_at_ns;
  inc->opened_ms = j->now;
  inc->last_seen_ms = j->now;
  inc->deliveries = 1;
  inc->remediation_pending = !a->resolved && a->remediate;
  if (a->resolved) {
    /* We missed the firing (runbookd was down or not yet a receiver):
     * keep the record anyway, already resolved. */
    inc->state = INC_RESOLVED;
    inc->ends_at_ns = a->ends_at_ns;
    inc->resolved_ms = j->now;
    inc->resolved_by = arena_dup_or_null(&j->mem, "alertmanager", &oom);
  }
  pr->received = received_detail(&j->mem, scratch, j->p, a);
  if (oom || !inc->labels_json || !inc->annotations_json || !pr->received)
    return RB_ENOMEM;
  return RB_OK;
}

static rb_status
open_incident(struct store *st, const struct ingest_job *j,
              const struct am_alert *a, const struct alert_prep *pr, int64_t *id)
{
  struct incident inc = pr->tmpl; /* shallow: the strings stay the prep's */
  rb_status rc;

  rc = store_w_insert_incident(st, &inc);
  if (!rc)
    rc = store_w_append_event(st, inc.id, j->now, "received", "alertmanager",
                              pr->received);
  if (!rc && a->resolved)
    rc = store_w_append_event(st, inc.id, j->now, "resolved", "alertmanager",
                              "{\"reason\":\"resolved notification for an alert "
                              "runbookd had not seen firing\"}");
  *id = inc.id;
  return rc;
}

static rb_status
ingest_alert(struct store *st, const struct ingest_job *j,
             const struct am_alert *a, const struct alert_prep *pr,
             struct buf *detail, int64_t *id, enum ingest_outcome *outcome)
{
  struct incident_ref ref;
  struct incident cur;
  char ts[48], ts2[48];
  rb_status rc;

  rc = store_w_latest_by_fingerprint(st, a->fingerprint, &ref);
  if (rc == RB_ENOTFOUND) {
    *outcome = a->resolved ? INGEST_RESOLVED : INGEST_NEW;
    return open_incident(st, j, a, pr, id);
  }
  if (rc)
    return rc;
  *id = ref.id;

  /* Judged against the firing the incident follows (its own, or the
   * latest refire's), so that every notification has one effect. */
  if (ref.state == INC_RESOLVED) {
    if (!a->resolved && a->starts_at_ns > ref.firing_starts_at_ns) {
      /* Firing again after resolution: a new incident. */
      *outcome = INGEST_NEW;
      return open_incident(st, j, a, pr, id);
    }
    /* The same notification again (or an older one) about a closed
     * incident: count it, change nothing else. */
    *outcome = INGEST_STALE;
    return store_w_touch_incident(st, ref.id, j->now);
  }
  if (!a->resolved && a->starts_at_ns == ref.firing_starts_at_ns) {
    /* Re-delivery: only the counter and the last-seen time change, so
     * the row is not read. */
    *outcome = INGEST_REPEAT;
    return store_w_touch_incident(st, ref.id, j->now);
  }
  if (a->starts_at_ns < ref.firing_starts_at_ns) {
    /* A late firing or resolution of an earlier firing than the one the
     * open incident follows. */
    *outcome = INGEST_STALE;
    return store_w_touch_incident(st, ref.id, j->now);
  }

  /* The incident changes: read all of it. */
  memset(&cur, 0, sizeof(cur));
  rc = store_w_get(st, ref.id, &cur);
  if (rc)
    return rc == RB_ENOTFOUND ? RB_EINTERNAL : rc;
  cur.last_seen_ms = j->now;
  cur.deliveries++;
  buf_reset(detail);
  if (!a->resolved) {
    /* A later startsAt while open: the resolution was not delivered.  The
     * incident follows the new firing from now on; its startsAt stays the
     * first firing's, from which reports measure. */
    *outcome = INGEST_REFIRED;
    cur.remediation_pending = a->remediate;
    buf_puts(detail, "{\"startsAt\":");
    buf_json_str(detail, rb_time_fmt_ns(a->starts_at_ns, ts, sizeof(ts)));
    buf_puts(detail, ",\"previousStartsAt\":");
    buf_json_str(detail, rb_time_fmt_ns(cur.firing_starts_at_ns, ts2, sizeof(ts2)));
    cur.firing_starts_at_ns = a->starts_at_ns;
    buf_puts(detail, ",\"reason\":\"firing with a new startsAt while the incident is "
                     "open (its resolution was not delivered)\"}");
    rc = detail->data ? RB_OK : RB_ENOMEM;
    if (!rc)
      rc = store_w_append_event(st, cur.id, j->now, "repeated", "alertmanager",
                                detail->data);
  } else {
    *outcome = INGEST_RESOLVED;
    cur.state = INC_RESOLVED;
    cur.ends_at_ns = a->ends_at_ns;
    cur.resolved_ms = j->now;
    free(cur.resolved_by);
    cur.resolved_by = strdup("alertmanager");
    buf_puts(detail, "{\"endsAt\":");
    buf_json_str(detail, rb_time_fmt_ns(a->ends_at_ns, ts, sizeof(ts)));
    buf_puts(detail, ",\"receiver\":");
    buf_json_str(detail, j->p->receiver);
    buf_puts(detail, "}");
    rc = detail->data && cur.resolved_by ? RB_OK : RB_ENOMEM;
    if (!rc)
      rc = store_w_append_event(st, cur.id, j->now, "resolved", "alertmanager",
                                detail->data);
  }
  if (!rc)
    rc = store_w_update_incident(st, &cur);
  incident_clear(&cur);
  return rc;
}

/* The writer's part.  It fails only for storage reasons (or out of
 * memory), which fail the whole batch, so it runs without a savepoint
 * (STORE_JOB_NO_SAVEPOINT). */
static rb_status
ingest_fn(struct store *st, void *arg)
{
  struct ingest_job *j = arg;
  struct buf detail;
  rb_status rc = RB_OK;

  memset(j->res->count, 0, sizeof(j->res->count));
  buf_init(&detail, 0);
  for (size_t i = 0; i < j->p->n_alerts && !rc; i++) {
    rc = ingest_alert(st, j, &j->p->alerts[i], &j->prep[i], &detail,
                      &j->res->incident_id[i], &j->res->outcome[i]);
    if (!rc)
      j->res->count[j->res->outcome[i]]++;
  }
  buf_free(&detail);
  return rc;
}

static void
job_free(struct ingest_job *j)
{
  if (!j)
    return;
  rb_arena_free(&j->mem);
  ingest_result_free(&j->own);
  free(j);
}

/* Builds the job: result arrays and every alert's prepared data. */
static rb_status
job_new(const struct am_payload *p, const struct severity_map *sev,
        int64_t now_ms, struct ingest_result *res, struct ingest_job **out)
{
  struct ingest_job *j = calloc(1, sizeof(*j));
  struct buf scratch;
  rb_status rc = RB_OK;

  *out = NULL;
  if (!j)
    return RB_ENOMEM;
  /* About 1 KB of prepared strings per alert; the arena doubles its
   * chunks past the first. */
  rb_arena_init(&j->mem, NULL, 0,
                p->n_alerts < 4096 ? 1024 + 1024 * p->n_alerts : (size_t)4 << 20);
  j->p = p;
  j->now = now_ms;
  j->res = res ? res : &j->own;
  memset(j->res, 0, sizeof(*j->res));
  j->res->n = p->n_alerts;
  if (p->n_alerts) {
    j->res->incident_id = calloc(p->n_alerts, sizeof(*j->res->incident_id));
    j->res->outcome = calloc(p->n_alerts, sizeof(*j->res->outcome));
    j->prep = rb_arena_alloc(&j->mem, p->n_alerts * sizeof(*j->prep));
    if (!j->res->incident_id || !j->res->outcome || !j->prep)
      rc = RB_ENOMEM;
    else
      memset(j->prep, 0, p->n_alerts * sizeof(*j->prep));
  }
  buf_init(&scratch, 0);
  for (size_t i = 0; !rc && i < p->n_alerts; i++)
    rc = prepare_alert(j, sev, &p->alerts[i], &scratch, &j->prep[i]);
  buf_free(&scratch);
  if (rc) {
    if (res)
      ingest_result_free(res);
    job_free(j);
    return rc;
  }
  *out = j;
  return RB_OK;
}

rb_status
incident_ingest(struct store *st, const struct am_payload *p,
                const struct severity_map *sev, int64_t now_ms,
                struct ingest_result *res)
{
  struct ingest_job *j;
  rb_status rc;

  rc = job_new(p, sev, now_ms, res, &j);
  if (rc)
    return rc;
  rc = store_submit_flags(st, ingest_fn, j, STORE_JOB_NO_SAVEPOINT);
  if (rc)
    ingest_result_free(res);
  job_free(j);
  return rc;
}

static void
async_done(struct store_job *job, rb_status rc)
{
  struct ingest_job *j = job->done_arg;
  /* The callback may free j (incident_ingest_free): nothing after it. */
  j->done(j->done_arg, rc);
}

rb_status
incident_ingest_start(struct store *st, const struct am_payload *p,
                      const struct severity_map *sev, int64_t now_ms,
                      void (*done)(void *arg, rb_status rc), void *arg,
                      struct ingest_job **out)
{
  struct ingest_job *j;
  rb_status rc;

  *out = NULL;
  rc = job_new(p, sev, now_ms, NULL, &j);
  if (rc)
    return rc;
  j->done = done;
  j->done_arg = arg;
  j->job.fn = ingest_fn;
  j->job.arg = j;
  j->job.flags = STORE_JOB_NO_SAVEPOINT;
  j->job.done = async_done;
  j->job.done_arg = j;
  *out = j;
  rc = store_submit_async(st, &j->job);
  if (rc) {
    job_free(j);
    *out = NULL;
  }
  return rc;
}

const struct ingest_result *
incident_ingest_result(const struct ingest_job *j)
{
  return &j->own;
}

void
incident_ingest_free(struct ingest_job *j)
{
  job_free(j);
}

void
ingest_result_free(struct ingest_result *res)
{
  if (!res)
    return;
  free(res->incident_id);
  free(res->outcome);
  res->incident_id = NULL;
  res->outcome = NULL;
}

struct act_job {
  int64_t id;
  enum incident_action act;
  const char *by;
  const char *comment;
  int64_t now;
  char *msg;
};

static rb_status
act_fn(struct store *st, void *arg)
{
  struct act_job *j = arg;
  struct incident inc;
  const char *kind = NULL;
  struct buf detail;
  rb_status rc;

  rc = store_w_get(st, j->id, &inc);
  if (rc == RB_ENOTFOUND) {
    snprintf(j->msg, RB_ERRLEN, "no incident %lld", (long long)j->id);
    return rc;
  }
  if (rc)
    return rc;
  switch (j->act) {
  case ACT_ACK:
    if (inc.state != INC_OPEN) {
      snprintf(j->msg, RB_ERRLEN, "incident %lld is %s%s%s", (long long)j->id,
               inc.state == INC_ACKED ? "already acknowledged by " : "resolved",
               inc.state == INC_ACKED && inc.acked_by ? inc.acked_by : "", "");
      rc = RB_ECONFLICT;
      goto out;
    }
    inc.state = INC_ACKED;
    inc.acked_ms = j->now;
    free(inc.acked_by);
    inc.acked_by = strdup(j->by);
    kind = "acknowledged";
    break;
  case ACT_UNACK:
    if (inc.state != INC_ACKED) {
      snprintf(j->msg, RB_ERRLEN, "incident %lld is %s, not acknowledged",
               (long long)j->id, incident_state_name(inc.state));
      rc = RB_ECONFLICT;
      goto out;
    }
    inc.state = INC_OPEN;
    inc.acked_ms = 0;
    free(inc.acked_by);
    inc.acked_by = NULL;
    kind = "unacknowledged";
    break;
  case ACT_RESOLVE:
    if (inc.state == INC_RESOLVED) {
      snprintf(j->msg, RB_ERRLEN, "incident %lld is already resolved", (long long)j->id);
      rc = RB_ECONFLICT;
      goto out;
    }
    inc.state = INC_RESOLVED;
    inc.resolved_ms = j->now;
    free(inc.resolved_by);
    inc.resolved_by = strdup(j->by);
    kind = "resolved";
    break;
  case ACT_COMMENT:
    kind = "commented";
    break;
  }
  buf_init(&detail, 0);
  buf_puts(&detail, "{\"comment\":");
  buf_json_str(&detail, j->comment ? j->comment : "");
  buf_puts(&detail, "}");
  rc = detail.data ? RB_OK : RB_ENOMEM;
  if (!rc && j->act != ACT_COMMENT)
    rc = store_w_update_incident(st, &inc);
  if (!rc)
    rc = store_w_append_event(st, inc.id, j->now, kind, j->by, detail.data);
  buf_free(&detail);
  if (!rc)
    snprintf(j->msg, RB_ERRLEN, "incident %lld %s by %s", (long long)j->id, kind, j->by);
out:
  incident_clear(&inc);
  return rc;
}

rb_status
incident_act(struct store *st, int64_t id, enum incident_action act,
             const char *by, const char *comment, int64_t now_ms, char *msg)
{
  struct act_job j = { id, act, by, comment, now_ms, msg };
  rb_status rc;

  msg[0] = '\0';
  rc = store_submit(st, act_fn, &j);
  if (rc == RB_EUNAVAIL && !msg[0])
    snprintf(msg, RB_ERRLEN, "the store is unavailable; try again");
  return rc;
}

static void
json_time_ms(struct buf *b, const char *key, int64_t ms)
{
  char ts[48];
  buf_printf(b, ",\"%s\":", key);
  if (ms)
    buf_json_str(b, rb_time_fmt_ms(ms, ts, sizeof(ts)));
  else
    buf_puts(b, "null");
}

static void
json_opt_str(struct buf *b, const char *key, const char *v)
{
  buf_printf(b, ",\"%s\":", key);
  if (v)
    buf_json_str(b, v);
  else
    buf_puts(b, "null");
}

rb_status
incident_to_json(struct buf *b, const struct incident *inc, int with_timeline,
                 const struct tl_event *events, size_t n_events)
{
  char ts[48];

  buf_printf(b, "{\"id\":\"%lld\",\"fingerprint\":", (long long)inc->id);
  buf_json_str(b, inc->fingerprint);
  buf_printf(b, ",\"state\":\"%s\",\"severity\":\"%s\"",
             incident_state_name(inc->state), severity_name(inc->severity));
  json_opt_str(b, "alertname", inc->alertname);
  json_opt_str(b, "namespace", inc->namespace_);
  json_opt_str(b, "summary", inc->summary);
  buf_printf(b, ",\"labels\":%s,\"annotations\":%s",
             inc->labels_json ? inc->labels_json : "{}",
             inc->annotations_json ? inc->annotations_json : "{}");
  buf_puts(b, ",\"startsAt\":");
  buf_json_str(b, rb_time_fmt_ns(inc->starts_at_ns, ts, sizeof(ts)));
  if (inc->firing_starts_at_ns != inc->starts_at_ns) {
    buf_puts(b, ",\"firingStartsAt\":");
    buf_json_str(b, rb_time_fmt_ns(inc->firing_starts_at_ns, ts, sizeof(ts)));
  }
  buf_puts(b, ",\"endsAt\":");
  if (inc->ends_at_ns)
    buf_json_str(b, rb_time_fmt_ns(inc->ends_at_ns, ts, sizeof(ts)));
  else
    buf_puts(b, "null");
  json_time_ms(b, "openedAt", inc->opened_ms);
  json_time_ms(b, "lastSeenAt", inc->last_seen_ms);
  json_time_ms(b, "ackedAt", inc->acked_ms);
  json_opt_str(b, "ackedBy", inc->acked_by);
  json_time_ms(b, "resolvedAt", inc->resolved_ms);
  json_opt_str(b, "resolvedBy", inc->resolved_by);
  buf_printf(b, ",\"deliveries\":%lld", (long long)inc->deliveries);
  if (with_timeline) {
    buf_puts(b, ",\"timeline\":[");
    for (size_t i = 0; i < n_events; i++) {
      const struct tl_event *e = &events[i];
      buf_printf(b, "%s{\"id\":\"%lld\",\"at\":", i ? "," : "", (long long)e->id);
      buf_json_str(b, rb_time_fmt_ms(e->at_ms, ts, sizeof(ts)));
      buf_puts(b, ",\"kind\":");
      buf_json_str(b, e->kind);
      buf_puts(b, ",\"actor\":");
      buf_json_str(b, e->actor);
      buf_printf(b, ",\"detail\":%s}", e->detail && *e->detail ? e->detail : "{}");
    }
    buf_puts(b, "]");
  }
  return buf_puts(b, "}");
}

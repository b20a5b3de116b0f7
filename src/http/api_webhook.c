/*
 * api_webhook.c - POST /webhook: Alertmanager's notifications.
 *
 * The body is parsed and bounded (payload.c), every alert is prepared and
 * queued as one job of the writer's group commit (incident.c), and the
 * connection is suspended; the store's thread resumes it once the commit is
 * durable, and only then is the answer 200.  A store that cannot take
 * it gets 503, which Alertmanager retries; a malformed body gets 400 (never
 * retried) with a message that names the problem.
 */
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "incident.h"
#include "log.h"
#include "payload.h"
#include "pager.h"
#include "remediate.h"
#include "rbtime.h"

#include <malloc.h>
#include <stdio.h>

/* Deliveries at least this large give freed memory back afterwards. */
#define TRIM_ALERTS 256

static void
limits_from(const struct rb_config *c, struct payload_limits *l)
{
  l->max_alerts = c->max_alerts;
  l->max_labels = c->max_labels;
  l->max_label_name_bytes = c->max_label_name_bytes;
  l->max_label_value_bytes = c->max_label_value_bytes;
  l->max_annotation_bytes = c->max_annotation_bytes;
  l->max_depth = c->max_json_depth;
}

/* What follows a durable commit: metrics and remediation.  Done on the
 * store's thread, before resuming, so it happens even when the sender has
 * gone away meanwhile (the delivery is stored either way). */
static void
after_commit(struct http_req *r)
{
  const struct am_payload *p = r->payload;
  const struct ingest_result *res = incident_ingest_result(r->ingest);
  char num[32];

  metrics_webhook(WH_ACCEPTED);
  for (size_t i = 0; i < res->n; i++) {
    metrics_alerts(p->alerts[i].resolved, res->outcome[i], 1);
    /* Remediation decides off the request path; engine_submit never
     * blocks. */
    if (p->alerts[i].remediate
        && (res->outcome[i] == INGEST_NEW || res->outcome[i] == INGEST_REFIRED))
      engine_submit(r->app->engine, res->incident_id[i], r->t0_ns);
    /* Paging starts (or ends) with the incident, on the pager's thread. */
    if (res->outcome[i] == INGEST_NEW && !p->alerts[i].resolved)
      pager_opened(r->app->pager, res->incident_id[i]);
    else if (res->outcome[i] == INGEST_RESOLVED)
      pager_resolved(r->app->pager, res->incident_id[i]);
  }
  if (p->truncated_alerts > 0) {
    metrics_truncated(p->truncated_alerts);
    snprintf(num, sizeof(num), "%lld", (long long)p->truncated_alerts);
    rblog(LOG_WARN, "notification was truncated by Alertmanager (max_alerts)",
          "receiver", p->receiver, "group_key", p->group_key, "truncated_alerts", num,
          NULL);
  }
}

/* Runs on the store's thread once the delivery's commit is durable (or
 * failed).  Resuming is the last use of r: the connection may go on and
 * complete on its own thread at once. */
static void
stored(void *arg, rb_status rc)
{
  struct http_req *r = arg;

  if (rc)
    metrics_webhook(WH_UNAVAILABLE);
  else
    after_commit(r);
  r->ingest_rc = rc;
  atomic_store(&r->ingest_done, 1);
  http_resume(r);
}

void
api_webhook_cleanup(struct http_req *r)
{
  incident_ingest_free(r->ingest);
  r->ingest = NULL;
  payload_free(r->payload);
  r->payload = NULL;
}

/* Second half, after the store answered: the response. */
static enum MHD_Result
answer(struct http_req *r)
{
  const struct am_payload *p = r->payload;
  const struct ingest_result *res;
  struct buf out;
  enum MHD_Result ret;
  int big;

  if (r->ingest_rc)
    return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "the incident store cannot take this notification now (%s); "
                            "retry later",
                            rb_strerror(r->ingest_rc));
  res = incident_ingest_result(r->ingest);
  buf_init(&out, 0);
  buf_printf(&out,
             "{\"status\":\"success\",\"alerts\":%zu,\"new\":%zu,\"repeat\":%zu,"
             "\"refired\":%zu,\"resolved\":%zu,\"stale\":%zu,\"truncatedAlerts\":%lld}\n",
             p->n_alerts, res->count[INGEST_NEW], res->count[INGEST_REPEAT],
             res->count[INGEST_REFIRED], res->count[INGEST_RESOLVED],
             res->count[INGEST_STALE], (long long)p->truncated_alerts);
  ret = http_reply(r, MHD_HTTP_OK, NULL, out.data ? out.data : "{}", out.len);
  buf_free(&out);
  big = p->n_alerts >= TRIM_ALERTS;
  api_webhook_cleanup(r);
  /* A large delivery's parse tree and copies were many small blocks that
   * glibc keeps after they are freed (46 MB idle after 10,000 alerts);
   * hand the free pages back to the system. */
  if (big)
    malloc_trim(0);
  return ret;
}

enum MHD_Result
api_webhook(struct http_req *r)
{
  struct payload_limits lim;
  struct am_payload *p = NULL;
  char err[RB_ERRLEN];
  rb_status rc;

  if (r->wh_state == WH_WAITING) {
    /* Called again: by the resume, or spuriously before it. */
    if (!atomic_load(&r->ingest_done))
      return MHD_YES;
    r->wh_state = WH_STORED;
    return answer(r);
  }
  limits_from(r->cfg, &lim);
  rc = payload_parse(r->body.data, r->body.len, &lim, &p, err, sizeof(err));
  buf_free(&r->body); /* parsed: the copy is no longer needed */
  if (rc == RB_EINVAL || rc == RB_ETOOBIG) {
    metrics_webhook(rc == RB_ETOOBIG ? WH_TOO_LARGE : WH_BAD_REQUEST);
    rblog(LOG_WARN, "webhook refused", "reason", err, NULL);
    return http_reply_error(r, rc == RB_ETOOBIG ? MHD_HTTP_CONTENT_TOO_LARGE
                                                : MHD_HTTP_BAD_REQUEST,
                            "%s", err);
  }
  if (rc) {
    metrics_webhook(WH_UNAVAILABLE);
    return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
  }
  /* Which alerts a plan matches is decided here, off the writer thread, so
   * only those incidents wait for a remediation decision. */
  for (size_t i = 0; i < p->n_alerts; i++)
    if (!p->alerts[i].resolved)
      p->alerts[i].remediate = engine_wants(
        r->app->engine, &p->alerts[i].labels,
        severity_normalise(&r->cfg->severity, am_label(&p->alerts[i].labels, "severity")));
  r->payload = p;
  r->wh_state = WH_WAITING;
  /* Suspend before queueing, so the store's resume can never come first. */
  http_suspend(r);
  rc = incident_ingest_start(r->app->store, p, &r->cfg->severity, rb_wall_ms(), stored, r,
                             &r->ingest);
  if (rc) {
    /* Nothing was queued: answer 503 on the resumed call. */
    metrics_webhook(WH_UNAVAILABLE);
    r->ingest_rc = rc;
    atomic_store(&r->ingest_done, 1);
    http_resume(r);
  }
  return MHD_YES;
}

/*
 * metrics.h - runbookd's own Prometheus metrics.
 *
 * Counters and histograms are process-wide atomics, updated from any
 * thread without locks; metrics_render() writes the text exposition format
 * (version 0.0.4) that `promtool check metrics` accepts.  Gauges that
 * describe the store (incidents open by severity) are read from it at
 * scrape time.
 */
#ifndef RUNBOOKD_METRICS_H
#define RUNBOOKD_METRICS_H

#include "incident.h"
#include "rb.h"

struct buf;
struct store;

enum webhook_outcome {
  WH_ACCEPTED = 0,
  WH_BAD_REQUEST,
  WH_UNAUTHORIZED,
  WH_TOO_LARGE,
  WH_UNSUPPORTED_MEDIA_TYPE,
  WH_METHOD_NOT_ALLOWED,
  WH_UNAVAILABLE,
  WH_OUTCOME_COUNT
};

enum http_handler {
  H_WEBHOOK = 0,
  H_INCIDENTS,
  H_METRICS,
  H_HEALTH,
  H_RELOAD,
  H_OTHER,
  H_HANDLER_COUNT
};

void metrics_init(void);
void metrics_webhook(enum webhook_outcome o);
void metrics_alerts(int resolved, enum ingest_outcome o, size_t n);
void metrics_truncated(int64_t n);
void metrics_request(enum http_handler h, int64_t duration_ns);
/* Request body bytes held by requests in progress, on all connections
 * (runbookd_http_body_bytes_held): holds n more unless that would pass max
 * (then -1). */
int metrics_body_hold(size_t n, size_t max);
void metrics_body_release(size_t n);
void metrics_commit(int64_t duration_ns, size_t jobs);
/* One flush of the store to disk (the sync that makes commits durable). */
void metrics_sync(int64_t duration_ns);
void metrics_store_error(void);
void metrics_reload(int ok);

/* Remediation. */
enum rem_decision {
  DEC_MATCHED = 0, /* a run started */
  DEC_NO_PLAN,
  DEC_REFUSED,     /* a limit or guard refused it */
  DEC_COALESCED,   /* the target already has a run going */
  DEC_SILENCED,
  DEC_RESOLVED,    /* resolved before a decision */
  DEC_COUNT
};
void metrics_rem_decision(enum rem_decision d);
/* outcome: "succeeded", "failed", "refused", "skipped" (steps) or
 * "unverified"; plan and kind become labels. */
void metrics_rem_step(const char *plan, const char *kind, const char *outcome);
void metrics_rem_run(const char *outcome);
void metrics_rem_escalation(void);
void metrics_rem_queue(size_t len);
void metrics_rem_first_request(int64_t duration_ns);
void metrics_kube_request(long status);
/* A page attempt through a method: sent or failed. */
void metrics_page(const char *method, int sent);
void metrics_timers(size_t pending);
/* How late an escalation timer fired after its due time. */
void metrics_timer_lateness(int64_t late_ms);

/* A silence change forwarded to the upstream Alertmanager: "ok", "retry"
 * (an attempt failed and will be repeated), "failed" (retries exhausted),
 * "rejected" (the upstream refused it), "dropped" (queue full) or
 * "skipped" (an expiry of a silence the upstream never had). */
void metrics_silence_forward(const char *outcome);

/* Appends the exposition text to b; st may be NULL (gauges from the store
 * are then omitted). */
rb_status metrics_render(struct buf *b, struct store *st);

#endif

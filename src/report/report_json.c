/*
 * report_json.c - the post-incident report as JSON (one object, keys in a
 * fixed order, no wall clock unless the incident is unresolved), for
 * tools and golden files.  Times are RFC 3339 with milliseconds; durations
 * are integers of milliseconds, null when not defined.
 */
#include "report_int.h"

#include "rbtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
time_or_null(struct rp_w *w, int64_t ms)
{
  char t[48];
  if (ms > 0)
    w_json(w, rb_time_fmt_ms(ms, t, sizeof(t)));
  else
    w_puts(w, "null");
}

static void
ms_or_null(struct rp_w *w, int64_t ms)
{
  if (ms >= 0)
    w_printf(w, "%lld", (long long)ms);
  else
    w_puts(w, "null");
}

/* A stored JSON text, re-emitted compactly (null when it does not parse). */
static void
raw(struct rp_w *w, const cJSON *v)
{
  char *c = rp_compact(v);
  w_puts(w, c ? c : "null");
  free(c);
}

static void
measure(struct rp_w *w, const char *name, const char *from, int64_t from_ms, const char *to,
        int64_t to_ms, int64_t ms, const char *by)
{
  w_printf(w, "\"%s\":{\"from\":", name);
  w_json(w, from);
  w_puts(w, ",\"fromTime\":");
  time_or_null(w, from_ms);
  w_puts(w, ",\"to\":");
  w_json(w, to);
  w_puts(w, ",\"toTime\":");
  time_or_null(w, ms >= 0 ? to_ms : 0);
  w_puts(w, ",\"ms\":");
  ms_or_null(w, ms);
  if (by) {
    w_puts(w, ",\"by\":");
    w_json(w, by);
  }
  w_puts(w, "}");
}

static void
run_json(const struct report *r, const struct rem_run *run, struct rp_w *w)
{
  int first = 1;

  w_printf(w, "{\"run\":\"%lld\",\"plan\":", (long long)run->id);
  w_json(w, run->plan);
  w_puts(w, ",\"namespace\":");
  w_json(w, run->namespace_);
  w_puts(w, ",\"deployment\":");
  w_json(w, run->deployment);
  w_printf(w, ",\"dryRun\":%s,\"state\":\"%s\",\"outcome\":", run->dry_run ? "true" : "false",
           run_state_name(run->state));
  w_json(w, run->outcome);
  w_puts(w, ",\"startedAt\":");
  time_or_null(w, run->started_ms);
  w_puts(w, ",\"finishedAt\":");
  time_or_null(w, run->finished_ms);
  w_puts(w, ",\"durationMs\":");
  ms_or_null(w, run->finished_ms ? run->finished_ms - run->started_ms : -1);
  w_puts(w, ",\"steps\":[");
  for (size_t i = 0; i < r->n_steps; i++) {
    const struct rp_step *s = &r->steps[i];
    if (s->run_id != run->id)
      continue;
    w_printf(w, "%s{\"ref\":\"S%zu\",\"phase\":", first ? "" : ",", s->seq);
    first = 0;
    w_json(w, s->phase);
    w_printf(w, ",\"index\":%d,\"name\":", s->index);
    w_json(w, s->name);
    w_puts(w, ",\"kind\":");
    w_json(w, s->kind);
    w_puts(w, ",\"namespace\":");
    w_json(w, s->ns);
    w_puts(w, ",\"deployment\":");
    w_json(w, s->deployment);
    w_puts(w, ",\"outcome\":");
    w_json(w, s->outcome);
    w_puts(w, ",\"startedAt\":");
    time_or_null(w, s->started_ms);
    w_puts(w, ",\"endedAt\":");
    time_or_null(w, s->ended_ms);
    w_puts(w, ",\"sent\":");
    w_puts(w, s->sent < 0 ? "null" : s->sent ? "true" : "false");
    w_printf(w, ",\"attempts\":%d,\"resumed\":%s,\"conflicts\":%d,\"note\":", s->attempts,
             s->resumed ? "true" : "false", s->conflicts);
    w_json(w, s->note);
    w_puts(w, ",\"requests\":");
    raw(w, s->requests ? s->requests : s->argv);
    w_puts(w, ",\"responses\":");
    raw(w, s->responses);
    w_puts(w, ",\"result\":");
    raw(w, s->result);
    w_puts(w, "}");
  }
  w_puts(w, "]}");
}

void
rp_render_json(const struct report *r, struct rp_w *w)
{
  const struct incident *inc = &r->inc;
  char t[48];
  struct buf text;

  w_puts(w, "{\"report\":\"post-incident\",\"version\":1,");
  if (r->as_of_ms) {
    w_puts(w, "\"asOf\":");
    time_or_null(w, r->as_of_ms);
    w_puts(w, ",");
  }
  w_printf(w, "\"incident\":{\"id\":\"%lld\",\"fingerprint\":", (long long)inc->id);
  w_json(w, inc->fingerprint);
  w_puts(w, ",\"alertname\":");
  w_json(w, inc->alertname);
  w_puts(w, ",\"service\":");
  w_json(w, r->service);
  w_puts(w, ",\"namespace\":");
  w_json(w, inc->namespace_);
  w_printf(w, ",\"severity\":\"%s\",\"state\":\"%s\",\"summary\":", severity_name(inc->severity),
           incident_state_name(inc->state));
  w_json(w, inc->summary);
  w_puts(w, ",\"labels\":");
  raw(w, r->labels);
  w_puts(w, ",\"annotations\":");
  raw(w, r->annotations);
  w_puts(w, ",\"startsAt\":");
  w_json(w, inc->starts_at_ns > 0 ? rb_time_fmt_ns(inc->starts_at_ns, t, sizeof(t)) : NULL);
  w_puts(w, ",\"endsAt\":");
  w_json(w, inc->ends_at_ns > 0 ? rb_time_fmt_ns(inc->ends_at_ns, t, sizeof(t)) : NULL);
  w_puts(w, ",\"receivedAt\":");
  time_or_null(w, inc->opened_ms);
  w_puts(w, ",\"lastSeenAt\":");
  time_or_null(w, inc->last_seen_ms);
  w_puts(w, ",\"resolvedAt\":");
  time_or_null(w, inc->resolved_ms);
  w_puts(w, ",\"resolvedBy\":");
  w_json(w, inc->resolved_by);
  w_printf(w, ",\"deliveries\":%lld},", (long long)inc->deliveries);

  /* Impact and duration. */
  w_puts(w, "\"impact\":{\"firingFrom\":");
  time_or_null(w, r->t.start_ms);
  w_puts(w, ",\"firingUntil\":");
  time_or_null(w, r->t.end_ms);
  w_printf(w, ",\"ongoing\":%s,\"durationMs\":", r->t.end_ms ? "false" : "true");
  ms_or_null(w, r->t.end_ms ? r->t.ttr_ms
                            : (r->as_of_ms > r->t.start_ms ? r->as_of_ms - r->t.start_ms : 0));
  w_printf(w, ",\"remediationRuns\":%zu,\"pagesDelivered\":", r->n_runs);
  {
    size_t ok = 0;
    for (size_t i = 0; i < r->n_pages; i++)
      ok += (size_t)r->pages[i].delivered;
    w_printf(w, "%zu,\"pagesFailed\":%zu,", ok, r->n_pages - ok);
  }
  w_printf(w, "\"peoplePaged\":%zu,\"highestLevel\":", r->n_people);
  if (r->max_level >= 0)
    w_printf(w, "%d", r->max_level + 1);
  else
    w_puts(w, "null");
  w_puts(w, "},");

  /* Detection, acknowledgement, resolution. */
  w_puts(w, "\"times\":{");
  measure(w, "detection", "startsAt", r->t.ttd_ms >= 0 ? r->t.start_ms : 0, "received",
          r->t.received_ms, r->t.ttd_ms, NULL);
  w_puts(w, ",");
  measure(w, "acknowledgement", "received", r->t.received_ms, "first response",
          r->t.response_ms, r->t.tta_ms, r->t.response_ms ? r->ack_by : NULL);
  w_puts(w, ",");
  measure(w, "resolution", r->inc.starts_at_ns > 0 ? "startsAt" : "received", r->t.start_ms,
          r->t.end_is_ends_at ? "endsAt" : "resolved", r->t.end_ms,
          r->t.ttr_ms, r->t.end_ms ? r->inc.resolved_by : NULL);
  w_printf(w, ",\"missedFiring\":%s},", r->t.missed_firing ? "true" : "false");

  /* The full timeline. */
  w_puts(w, "\"timeline\":[");
  buf_init(&text, 0);
  for (size_t i = 0; i < r->n_ev; i++) {
    const struct tl_event *e = &r->ev[i];
    buf_reset(&text);
    rp_event_text(r, i, &text);
    w_puts(w, i ? ",{\"at\":" : "{\"at\":");
    time_or_null(w, e->at_ms);
    w_printf(w, ",\"offsetMs\":%lld,\"kind\":", (long long)(e->at_ms - r->t0_ms));
    w_json(w, e->kind);
    w_puts(w, ",\"actor\":");
    w_json(w, e->actor);
    w_puts(w, ",\"text\":");
    w_json(w, text.data ? text.data : "");
    w_puts(w, ",\"detail\":");
    /* The stored text when it parsed (it is JSON, and compact as written),
     * which saves printing it again. */
    if (r->det[i] && e->detail)
      w_puts(w, e->detail);
    else
      w_puts(w, "null");
    w_puts(w, "}");
  }
  buf_free(&text);
  w_puts(w, "],");

  w_puts(w, "\"remediation\":[");
  for (size_t i = 0; i < r->n_runs; i++) {
    if (i)
      w_puts(w, ",");
    run_json(r, &r->runs[i], w);
  }
  w_puts(w, "],");

  w_puts(w, "\"paging\":{\"pages\":[");
  for (size_t i = 0; i < r->n_pages; i++) {
    const struct rp_page *p = &r->pages[i];
    w_printf(w, "%s{\"ref\":\"P%zu\",\"at\":", i ? "," : "", p->seq);
    time_or_null(w, r->ev[p->ev].at_ms);
    w_printf(w, ",\"outcome\":\"%s\",\"contact\":", p->delivered ? "delivered" : "failed");
    w_json(w, p->contact);
    w_puts(w, ",\"method\":");
    w_json(w, p->method);
    w_puts(w, ",\"notice\":");
    w_json(w, p->notice);
    w_printf(w, ",\"level\":%d,\"attempts\":%ld,\"status\":%ld,\"reason\":", p->level + 1,
             p->attempts, p->status);
    w_json(w, p->reason);
    w_puts(w, ",\"detail\":");
    w_json(w, p->detail);
    w_puts(w, ",\"delivery\":");
    w_json(w, p->delivery);
    w_puts(w, "}");
  }
  w_puts(w, "],\"escalations\":[");
  for (size_t i = 0; i < r->n_escs; i++) {
    const struct rp_esc *x = &r->escs[i];
    w_printf(w, "%s{\"ref\":\"E%zu\",\"at\":", i ? "," : "", x->seq);
    time_or_null(w, r->ev[x->ev].at_ms);
    w_puts(w, ",\"kind\":");
    w_json(w, x->kind);
    w_puts(w, ",\"level\":");
    if (x->level >= 0)
      w_printf(w, "%d", x->level + 1);
    else
      w_puts(w, "null");
    w_puts(w, ",\"contact\":");
    w_json(w, x->contact);
    w_puts(w, ",\"severity\":");
    w_json(w, x->severity);
    w_puts(w, ",\"reason\":");
    w_json(w, x->reason);
    w_puts(w, "}");
  }
  w_puts(w, "]},");

  w_puts(w, "\"silences\":[");
  for (size_t i = 0; i < r->n_sil; i++) {
    const struct rp_silence *s = &r->sil[i];
    w_puts(w, i ? ",{\"id\":" : "{\"id\":");
    w_json(w, s->id);
    w_puts(w, ",\"matchers\":");
    w_json(w, s->matchers);
    w_puts(w, ",\"startsAt\":");
    time_or_null(w, s->starts_ms);
    w_puts(w, ",\"endsAt\":");
    time_or_null(w, s->ends_ms);
    w_puts(w, ",\"createdBy\":");
    w_json(w, s->created_by);
    w_puts(w, ",\"comment\":");
    w_json(w, s->comment);
    w_printf(w, ",\"onTimeline\":%s}", s->on_timeline ? "true" : "false");
  }
  w_puts(w, "],");

  /* Left for the review (the seed's Root Cause Analysis and Follow-up
   * Actions). */
  w_puts(w, "\"rootCause\":{\"primary\":null,\"contributingFactors\":[],"
            "\"preventiveMeasures\":[]},\"followUpActions\":[]}\n");
}

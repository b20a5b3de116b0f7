/*
 * report_md.c - the post-incident report as Markdown (CommonMark with
 * GitHub tables), laid out after the seed's "Post-Incident Procedures".
 * Text from the network is backslash-escaped (w_md) and request bodies go
 * into fenced blocks whose fence outgrows any backticks inside, so no
 * label can open a link, a table cell or raw HTML.
 */
#include "report_int.h"

#include "rbtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
row2(struct rp_w *w, const char *k, const char *v)
{
  w_printf(w, "| %s | ", k);
  w_md(w, v && *v ? v : "—");
  w_puts(w, " |\n");
}

void
rp_summary(const struct report *r, struct buf *o)
{
  const struct incident *inc = &r->inc;
  char a[48], d[48];

  buf_printf(o, "%s (%s) on %s", inc->alertname ? inc->alertname : "?",
             severity_name(inc->severity), r->service);
  if (inc->namespace_)
    buf_printf(o, " in namespace %s", inc->namespace_);
  if (inc->summary)
    buf_printf(o, ": %s", inc->summary);
  buf_printf(o, ". Firing from %s", rp_time(r->t.start_ms, a, sizeof(a)));
  if (r->t.end_ms)
    buf_printf(o, " for %s; resolved by %s", rp_dur(r->t.ttr_ms, d, sizeof(d)),
               inc->resolved_by ? inc->resolved_by : "?");
  else
    buf_printf(o, ", still %s after %s", incident_state_name(inc->state),
               rp_dur(r->as_of_ms - r->t.start_ms, d, sizeof(d)));
  buf_puts(o, ".");
  if (r->t.response_ms)
    buf_printf(o, " First response by %s after %s.", r->ack_by ? r->ack_by : "?",
               rp_dur(r->t.tta_ms, d, sizeof(d)));
  else
    buf_puts(o, " Nobody acknowledged it.");
  if (r->n_runs) {
    buf_printf(o, " %zu remediation run%s:", r->n_runs, r->n_runs == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_runs; i++)
      buf_printf(o, "%s %s %s", i ? "," : "", r->runs[i].plan,
                 r->runs[i].outcome ? r->runs[i].outcome : run_state_name(r->runs[i].state));
    buf_puts(o, ".");
  } else {
    buf_puts(o, " No remediation ran.");
  }
  if (r->n_people)
    buf_printf(o, " %zu contact%s paged, up to level %d.", r->n_people,
               r->n_people == 1 ? "" : "s", r->max_level + 1);
  else
    buf_puts(o, " Nobody was paged.");
}

static void
labels_table(struct rp_w *w, const char *title, const cJSON *obj)
{
  const cJSON *kv;

  if (!cJSON_GetArraySize(obj))
    return;
  w_printf(w, "\n**%s**\n\n| Name | Value |\n|---|---|\n", title);
  cJSON_ArrayForEach(kv, obj)
  {
    w_puts(w, "| ");
    w_md(w, kv->string);
    w_puts(w, " | ");
    w_md(w, cJSON_IsString(kv) ? kv->valuestring : "");
    w_puts(w, " |\n");
  }
}

static void
measure_row(struct rp_w *w, const struct report *r, const char *name, const char *from,
            int64_t from_ms, const char *to, int64_t to_ms, int64_t ms, const char *by)
{
  char a[48], b[48], d[48];

  w_printf(w, "| %s | %s %s | %s %s", name, from, ms >= 0 ? rp_time(from_ms, a, sizeof(a)) : "",
           to, ms >= 0 ? rp_time(to_ms, b, sizeof(b)) : "");
  if (ms >= 0 && by) {
    w_puts(w, " by ");
    w_md(w, by);
  }
  w_printf(w, " | %s | %s |\n", rp_dur(ms, d, sizeof(d)),
           ms >= 0 ? (snprintf(a, sizeof(a), "%lld", (long long)ms), a) : "—");
}

static void
steps_md(const struct report *r, const struct rem_run *run, struct rp_w *w)
{
  char a[48], b[48];
  int any = 0;

  for (size_t i = 0; i < r->n_steps; i++) {
    const struct rp_step *s = &r->steps[i];
    if (s->run_id != run->id)
      continue;
    if (!any)
      w_puts(w, "\n| Ref | Phase | # | Step | Kind | Started | Ended | Outcome |\n"
                "|---|---|---|---|---|---|---|---|\n");
    any = 1;
    w_printf(w, "| S%zu | ", s->seq);
    w_md(w, s->phase);
    w_printf(w, " | %d | ", s->index + 1);
    w_md(w, s->name ? s->name : "");
    w_puts(w, " | ");
    w_md(w, s->kind ? s->kind : "");
    w_printf(w, " | %s | %s | %s |\n", rp_offset(r, s->started_ms, a, sizeof(a)),
             s->ended_ms ? rp_offset(r, s->ended_ms, b, sizeof(b)) : "—",
             rp_step_outcome_label(s->outcome));
  }
  if (!any) {
    w_puts(w, "\nNo step was recorded for this run.\n");
    return;
  }
  for (size_t i = 0; i < r->n_steps; i++) {
    const struct rp_step *s = &r->steps[i];
    const cJSON *x;
    if (s->run_id != run->id)
      continue;
    w_printf(w, "\n#### S%zu: ", s->seq);
    w_md(w, s->name ? s->name : s->kind);
    w_printf(w, " — %s\n\n", rp_step_outcome_label(s->outcome));
    w_puts(w, "- Target: ");
    w_md(w, s->ns ? s->ns : "?");
    w_puts(w, "/");
    w_md(w, s->deployment ? s->deployment : "?");
    w_puts(w, "\n");
    if (s->sent >= 0)
      w_printf(w, "- Sent: %s\n", s->sent ? "yes" : "no (recorded only)");
    if (s->attempts > 1)
      w_printf(w, "- Attempts: %d\n", s->attempts);
    if (s->resumed)
      w_puts(w, "- Resumed after a restart with the requests recorded before it\n");
    if (s->conflicts)
      w_printf(w, "- Conflicts (409, read afresh): %d\n", s->conflicts);
    if (s->note) {
      w_puts(w, "- Note: ");
      w_md(w, s->note);
      w_puts(w, "\n");
    }
    cJSON_ArrayForEach(x, s->responses)
    {
      w_puts(w, "- Response: ");
      w_md(w, rp_str(x, "method"));
      w_puts(w, " ");
      w_md(w, rp_str(x, "path"));
      w_printf(w, " → %ld (%d attempt%s)", (long)rp_num(x, "status", 0),
               (int)rp_num(x, "attempts", 0), rp_num(x, "attempts", 0) == 1 ? "" : "s");
      if (rp_str(x, "reason") || rp_str(x, "message")) {
        w_puts(w, ": ");
        w_md(w, rp_str(x, "reason"));
        w_puts(w, " ");
        w_md(w, rp_str(x, "message"));
      }
      w_puts(w, "\n");
    }
    if (s->requests || s->argv) {
      char *c = rp_lines(s->requests ? s->requests : s->argv);
      w_printf(w, "\n%s:\n\n", s->requests ? "Requests" : "Command");
      w_md_code(w, "json", c ? c : "");
      free(c);
    }
    if (s->result) {
      char *c = rp_lines(s->result);
      w_puts(w, "\nResult:\n\n");
      w_md_code(w, "json", c ? c : "");
      free(c);
    }
  }
}

void
rp_render_md(const struct report *r, struct rp_w *w)
{
  const struct incident *inc = &r->inc;
  char a[48], b[48], id[32];
  struct buf text;

  buf_init(&text, 0);
  snprintf(id, sizeof(id), "%lld", (long long)inc->id);
  w_printf(w, "# Post-incident report: incident %s — ", id);
  w_md(w, inc->alertname);
  w_puts(w, "\n\n");
  if (r->as_of_ms)
    w_printf(w, "_As of %s: the incident is still %s; figures may change._\n\n",
             rp_time(r->as_of_ms, a, sizeof(a)), incident_state_name(inc->state));

  w_puts(w, "## Summary\n\n");
  rp_summary(r, &text);
  w_md(w, text.data);
  w_puts(w, "\n\n| | |\n|---|---|\n");
  row2(w, "Incident", id);
  row2(w, "Alert", inc->alertname);
  row2(w, "Severity", severity_name(inc->severity));
  row2(w, "Service", r->service);
  row2(w, "Namespace", inc->namespace_);
  row2(w, "State", incident_state_name(inc->state));
  row2(w, "Summary", inc->summary);
  row2(w, "Fingerprint", inc->fingerprint);
  labels_table(w, "Labels", r->labels);
  labels_table(w, "Annotations", r->annotations);

  w_puts(w, "\n## Impact and duration\n\n| | |\n|---|---|\n");
  row2(w, "Firing from", rp_time(r->t.start_ms, a, sizeof(a)));
  row2(w, "Firing until", r->t.end_ms ? rp_time(r->t.end_ms, a, sizeof(a)) : "still open");
  row2(w, r->t.end_ms ? "Duration" : "Open for",
       rp_dur(r->t.end_ms ? r->t.ttr_ms : r->as_of_ms - r->t.start_ms, a, sizeof(a)));
  snprintf(a, sizeof(a), "%lld", (long long)inc->deliveries);
  row2(w, "Notifications received", a);
  snprintf(a, sizeof(a), "%zu", r->n_runs);
  row2(w, "Remediation runs", a);
  snprintf(a, sizeof(a), "%zu", r->n_people);
  row2(w, "Contacts paged", a);
  if (r->max_level >= 0)
    snprintf(a, sizeof(a), "%d", r->max_level + 1);
  row2(w, "Highest escalation level", r->max_level >= 0 ? a : NULL);

  w_puts(w, "\n## Detection, acknowledgement and resolution\n\n"
            "| Measure | From | To | Time | ms |\n|---|---|---|---|---|\n");
  measure_row(w, r, "Time to detect (TTD)", "startsAt", r->t.start_ms, "received",
              r->t.received_ms, r->t.ttd_ms, NULL);
  measure_row(w, r, "Time to acknowledge (TTA)", "received", r->t.received_ms,
              "first response", r->t.response_ms, r->t.tta_ms, r->ack_by);
  measure_row(w, r, "Time to resolve (TTR)", inc->starts_at_ns > 0 ? "startsAt" : "received",
              r->t.start_ms, r->t.end_is_ends_at ? "endsAt" : "resolved", r->t.end_ms,
              r->t.ttr_ms, inc->resolved_by);
  if (r->t.missed_firing)
    w_puts(w, "\nrunbookd first heard of this alert when it was already resolved, so it"
              " has no detection time.\n");
  w_puts(w, "\nDefinitions: docs/reports.md. Times are UTC; offsets (T+) count from the"
            " alert's start.\n");

  w_printf(w, "\n## Timeline\n\n%zu event%s.\n\n| Time (UTC) | T+ | Event | Actor | Detail |\n"
              "|---|---|---|---|---|\n",
           r->n_ev, r->n_ev == 1 ? "" : "s");
  for (size_t i = 0; i < r->n_ev; i++) {
    const struct tl_event *e = &r->ev[i];
    buf_reset(&text);
    rp_event_text(r, i, &text);
    w_printf(w, "| %s | %s | ", rp_time(e->at_ms, a, sizeof(a)), rp_offset(r, e->at_ms, b, sizeof(b)));
    w_md(w, e->kind);
    w_puts(w, " | ");
    w_md(w, e->actor);
    w_puts(w, " | ");
    w_md(w, text.data);
    w_puts(w, " |\n");
  }

  w_puts(w, "\n## Remediation\n");
  if (!r->n_runs)
    w_puts(w, "\nNo remediation ran (see the timeline for the decision).\n");
  for (size_t i = 0; i < r->n_runs; i++) {
    const struct rem_run *run = &r->runs[i];
    w_printf(w, "\n### Run %lld: plan ", (long long)run->id);
    w_md(w, run->plan);
    w_puts(w, " on ");
    w_md(w, run->namespace_);
    w_puts(w, "/");
    w_md(w, run->deployment);
    w_printf(w, "%s\n\n", run->dry_run ? " (dry-run)" : "");
    w_printf(w, "Started %s, ", rp_time(run->started_ms, a, sizeof(a)));
    if (run->finished_ms)
      w_printf(w, "finished %s after %s: **%s**.\n", rp_time(run->finished_ms, a, sizeof(a)),
               rp_dur(run->finished_ms - run->started_ms, b, sizeof(b)),
               run->outcome ? run->outcome : run_state_name(run->state));
    else
      w_printf(w, "still %s (phase %s).\n", run_state_name(run->state), run_phase_name(run->phase));
    steps_md(r, run, w);
  }

  w_puts(w, "\n## Paging and escalation\n");
  if (!r->n_pages)
    w_puts(w, "\nNobody was paged.\n");
  else
    w_puts(w, "\n| Ref | Time (UTC) | T+ | Contact | Method | Notice | Level | Outcome | Attempts"
              " | Status | Reason |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < r->n_pages; i++) {
    const struct rp_page *p = &r->pages[i];
    int64_t at = r->ev[p->ev].at_ms;
    w_printf(w, "| P%zu | %s | %s | ", p->seq, rp_time(at, a, sizeof(a)),
             rp_offset(r, at, b, sizeof(b)));
    w_md(w, p->contact);
    w_puts(w, " | ");
    w_md(w, p->method);
    w_puts(w, " | ");
    w_md(w, p->notice);
    w_printf(w, " | %d | %s | %ld | %ld | ", p->level + 1, p->delivered ? "delivered" : "FAILED",
             p->attempts, p->status);
    w_md(w, p->reason);
    if (p->detail && *p->detail) {
      w_puts(w, " (");
      w_md(w, p->detail);
      w_puts(w, ")");
    }
    w_puts(w, " |\n");
  }
  if (r->n_escs) {
    w_puts(w, "\n| Ref | Time (UTC) | T+ | Event | Level | Contact | Reason |\n"
              "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < r->n_escs; i++) {
      const struct rp_esc *x = &r->escs[i];
      int64_t at = r->ev[x->ev].at_ms;
      w_printf(w, "| E%zu | %s | %s | ", x->seq, rp_time(at, a, sizeof(a)),
               rp_offset(r, at, b, sizeof(b)));
      w_md(w, x->kind);
      if (x->level >= 0)
        w_printf(w, " | %d | ", x->level + 1);
      else
        w_puts(w, " | — | ");
      w_md(w, x->contact ? x->contact : "—");
      w_puts(w, " | ");
      w_md(w, x->reason);
      if (x->severity) {
        w_puts(w, " (severity ");
        w_md(w, x->severity);
        w_puts(w, ")");
      }
      w_puts(w, " |\n");
    }
  }

  w_puts(w, "\n## Silences\n");
  if (!r->n_sil)
    w_puts(w, "\nNo silence applied.\n");
  else
    w_puts(w, "\n| Silence | Matchers | From | Until | Created by | Comment | On the timeline |\n"
              "|---|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < r->n_sil; i++) {
    const struct rp_silence *s = &r->sil[i];
    w_puts(w, "| ");
    w_md(w, s->id);
    w_puts(w, " | ");
    w_md(w, s->matchers ? s->matchers : "(no longer stored)");
    w_printf(w, " | %s | %s | ", rp_time(s->starts_ms, a, sizeof(a)),
             rp_time(s->ends_ms, b, sizeof(b)));
    w_md(w, s->created_by ? s->created_by : "—");
    w_puts(w, " | ");
    w_md(w, s->comment ? s->comment : "—");
    w_printf(w, " | %s |\n", s->on_timeline ? "yes" : "no (matched its labels while open)");
  }

  w_puts(w, "\n## Root cause\n\n"
            "_To be completed in the incident review: analyse the data above, identify the"
            " contributing factors, determine the primary root cause, assess preventive"
            " measures._\n\n"
            "### Contributing factors\n\n-\n\n"
            "### Primary root cause\n\n-\n\n"
            "### Preventive measures\n\n-\n\n"
            "## Follow-up actions\n\n"
            "_Update runbooks and procedures, implement preventive measures, schedule"
            " training if needed, update monitoring and alerting, share lessons learned._\n\n"
            "| Action | Owner | Due | Status |\n|---|---|---|---|\n| | | | |\n");
  buf_free(&text);
}

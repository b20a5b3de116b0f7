/*
 * report_html.c - the post-incident report as one self-contained HTML
 * file: inline style sheet (with a print style), the inline SVG chart
 * (svg.c), no scripts, no external styles, fonts or images.  The markup is
 * well-formed XML as well as HTML (every element closed, attributes
 * quoted), and every string is escaped (w_html), so labels from the
 * network can neither add markup nor break out of an attribute.
 */
#include "report_int.h"

#include "rbtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char css[] =
  "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;"
  "max-width:70em;padding:0 1em;color:#1b1b1b;line-height:1.4}\n"
  "h1{font-size:1.6em}h2{border-bottom:1px solid #999;padding-bottom:.2em;margin-top:1.6em}\n"
  "table{border-collapse:collapse;margin:.6em 0;width:100%}\n"
  "th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top;"
  "font-size:.9em}\n"
  "th{background:#eee}\n"
  "table.kv{width:auto}table.kv th{width:14em}\n"
  "td.detail{word-break:break-word}\n"
  "pre{background:#f4f4f4;border:1px solid #ccc;padding:.5em;overflow-x:auto;font-size:.85em;"
  "white-space:pre-wrap;word-break:break-all}\n"
  ".asof{border:2px dashed #a60;padding:.4em}\n"
  ".outcome{font-weight:bold}\n"
  ".o-ok{color:#075}.o-fail{color:#b00}.o-other{color:#555}\n"
  ".todo{border:1px dashed #888;min-height:3em;padding:.4em;color:#555}\n"
  "svg.chart{border:1px solid #bbb;background:#fff}\n"
  ".lane{fill:#fff}.lane.alt{fill:#f3f3f3}\n"
  ".lane-label{font-size:13px;font-weight:bold;fill:#222}\n"
  ".axis{stroke:#222;stroke-width:1}.tick{stroke:#ccc;stroke-width:1}\n"
  ".tick-label,.tick-time{font-size:11px;fill:#222;text-anchor:middle}\n"
  ".tick-time{fill:#666}\n"
  ".firing{fill:url(#hatch);stroke:#b00;stroke-width:1.5}\n"
  ".hatch-bg{fill:#fdd}.hatch-line{stroke:#b00;stroke-width:2}\n"
  ".step{fill:#999}\n"
  ".m-ok{fill:#075;stroke:#075;stroke-width:1.5}\n"
  ".m-open{fill:#fff;stroke:#333;stroke-width:1.5}\n"
  ".m-fail{fill:none;stroke:#b00;stroke-width:2.5}\n"
  ".m-refused{fill:#fff;stroke:#a60;stroke-width:2}\n"
  ".m-esc{fill:#a60;stroke:#a60}\n"
  ".mark-label,.rule-label{font-size:11px;fill:#222}\n"
  ".rule-label{font-weight:bold}\n"
  ".legend{font-size:11px;fill:#222}\n"
  ".rule-ack{stroke:#075;stroke-width:1.5;stroke-dasharray:4 3}\n"
  ".rule-resolved{stroke:#222;stroke-width:1.5}\n"
  "@media print{body{margin:0;max-width:none;font-size:10pt;color:#000}"
  "h2{page-break-after:avoid}section{page-break-inside:auto}"
  "tr,figure,pre{page-break-inside:avoid}"
  "th{background:#fff}pre{background:#fff}"
  ".lane.alt{fill:#fff}.m-ok,.m-esc{fill:#000;stroke:#000}.m-fail{stroke:#000}"
  ".m-refused,.m-open{stroke:#000}.hatch-bg{fill:#fff}.hatch-line{stroke:#000}"
  ".firing{stroke:#000}.rule-ack{stroke:#000}.o-ok,.o-fail,.o-other{color:#000}"
  ".step{fill:#555}}\n";

static void
cell(struct rp_w *w, const char *s)
{
  w_puts(w, "<td>");
  w_html(w, s && *s ? s : "—");
  w_puts(w, "</td>");
}

static void
kv(struct rp_w *w, const char *k, const char *v)
{
  w_puts(w, "<tr><th scope=\"row\">");
  w_html(w, k);
  w_puts(w, "</th>");
  cell(w, v);
  w_puts(w, "</tr>\n");
}

static const char *
outcome_class(const char *o)
{
  if (!o)
    return "o-other";
  if (strcmp(o, "succeeded") == 0 || strcmp(o, "verified") == 0 || strcmp(o, "delivered") == 0)
    return "o-ok";
  if (strcmp(o, "failed") == 0 || strcmp(o, "not verified") == 0 || strcmp(o, "refused") == 0)
    return "o-fail";
  return "o-other";
}

static void
labels_table(struct rp_w *w, const char *title, const cJSON *obj)
{
  const cJSON *x;

  if (!cJSON_GetArraySize(obj))
    return;
  w_puts(w, "<h3>");
  w_html(w, title);
  w_puts(w, "</h3>\n<table class=\"kv\"><tbody>\n");
  cJSON_ArrayForEach(x, obj)
    kv(w, x->string, cJSON_IsString(x) ? x->valuestring : "");
  w_puts(w, "</tbody></table>\n");
}

static void
pre_json(struct rp_w *w, const char *title, const cJSON *v)
{
  char *c = v ? rp_lines(v) : NULL;
  if (!c)
    return;
  w_puts(w, "<p>");
  w_html(w, title);
  w_puts(w, ":</p>\n<pre>");
  w_html(w, c);
  w_puts(w, "</pre>\n");
  free(c);
}

static void
measure(struct rp_w *w, const char *name, const char *from, int64_t from_ms, const char *to,
        int64_t to_ms, int64_t ms, const char *by)
{
  char a[48], b[48], d[48];

  w_puts(w, "<tr><th scope=\"row\">");
  w_html(w, name);
  w_puts(w, "</th><td>");
  w_html(w, from);
  if (ms >= 0) {
    w_puts(w, " ");
    w_html(w, rp_time(from_ms, a, sizeof(a)));
  }
  w_puts(w, "</td><td>");
  w_html(w, to);
  if (ms >= 0) {
    w_puts(w, " ");
    w_html(w, rp_time(to_ms, b, sizeof(b)));
    if (by) {
      w_puts(w, " by ");
      w_html(w, by);
    }
  }
  w_printf(w, "</td><td>%s</td></tr>\n", rp_dur(ms, d, sizeof(d)));
}

static void
steps_html(const struct report *r, const struct rem_run *run, struct rp_w *w)
{
  char a[48], b[48];
  int any = 0;

  for (size_t i = 0; i < r->n_steps; i++) {
    const struct rp_step *s = &r->steps[i];
    const cJSON *x;
    if (s->run_id != run->id)
      continue;
    any = 1;
    w_printf(w, "<h4 id=\"S%zu\">S%zu: ", s->seq, s->seq);
    w_html(w, s->name ? s->name : s->kind);
    w_printf(w, " <span class=\"outcome %s\">[%s]</span></h4>\n<table class=\"kv\"><tbody>\n",
             outcome_class(s->outcome), rp_step_outcome_label(s->outcome));
    kv(w, "Phase, step", s->phase);
    kv(w, "Kind", s->kind);
    snprintf(a, sizeof(a), "%s/%s", s->ns ? s->ns : "?", s->deployment ? s->deployment : "?");
    kv(w, "Target", a);
    snprintf(a, sizeof(a), "%s", rp_time(s->started_ms, b, sizeof(b)));
    kv(w, "Started", a);
    kv(w, "Ended", s->ended_ms ? rp_time(s->ended_ms, b, sizeof(b)) : NULL);
    if (s->sent >= 0)
      kv(w, "Sent", s->sent ? "yes" : "no (recorded only)");
    if (s->attempts > 1) {
      snprintf(a, sizeof(a), "%d", s->attempts);
      kv(w, "Attempts", a);
    }
    if (s->resumed)
      kv(w, "Resumed", "after a restart, with the requests recorded before it");
    if (s->conflicts) {
      snprintf(a, sizeof(a), "%d", s->conflicts);
      kv(w, "Conflicts (409)", a);
    }
    if (s->note)
      kv(w, "Note", s->note);
    cJSON_ArrayForEach(x, s->responses)
    {
      struct buf t;
      buf_init(&t, 0);
      buf_printf(&t, "%s %s → %ld (%d attempt%s)", rp_str(x, "method") ? rp_str(x, "method") : "?",
                 rp_str(x, "path") ? rp_str(x, "path") : "?", (long)rp_num(x, "status", 0),
                 (int)rp_num(x, "attempts", 0), rp_num(x, "attempts", 0) == 1 ? "" : "s");
      if (rp_str(x, "reason"))
        buf_printf(&t, ": %s", rp_str(x, "reason"));
      if (rp_str(x, "message"))
        buf_printf(&t, " %s", rp_str(x, "message"));
      kv(w, "Response", t.data ? t.data : "");
      buf_free(&t);
    }
    w_puts(w, "</tbody></table>\n");
    pre_json(w, s->requests ? "Requests" : "Command", s->requests ? s->requests : s->argv);
    pre_json(w, "Result", s->result);
  }
  if (!any)
    w_puts(w, "<p>No step was recorded for this run.</p>\n");
}

void
rp_render_html(const struct report *r, struct rp_w *w)
{
  const struct incident *inc = &r->inc;
  char a[48], b[48], id[32];
  struct buf text;

  buf_init(&text, 0);
  snprintf(id, sizeof(id), "%lld", (long long)inc->id);
  w_puts(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
            "<title>Post-incident report: incident ");
  w_puts(w, id);
  w_puts(w, " — ");
  w_html(w, inc->alertname);
  w_puts(w, "</title>\n<style>\n");
  w_puts(w, css);
  w_puts(w, "</style>\n</head>\n<body>\n<header>\n<h1>Post-incident report: incident ");
  w_puts(w, id);
  w_puts(w, " — ");
  w_html(w, inc->alertname);
  w_puts(w, "</h1>\n");
  if (r->as_of_ms)
    w_printf(w, "<p class=\"asof\">As of %s: the incident is still %s; figures may change.</p>\n",
             rp_time(r->as_of_ms, a, sizeof(a)), incident_state_name(inc->state));
  w_puts(w, "</header>\n");

  /* Summary: the markdown's sentence, built the same way. */
  w_puts(w, "<section id=\"summary\">\n<h2>Summary</h2>\n<p>");
  rp_summary(r, &text);
  w_html(w, text.data);
  w_puts(w, "</p>\n<table class=\"kv\"><tbody>\n");
  kv(w, "Incident", id);
  kv(w, "Alert", inc->alertname);
  kv(w, "Severity", severity_name(inc->severity));
  kv(w, "Service", r->service);
  kv(w, "Namespace", inc->namespace_);
  kv(w, "State", incident_state_name(inc->state));
  kv(w, "Summary", inc->summary);
  kv(w, "Fingerprint", inc->fingerprint);
  w_puts(w, "</tbody></table>\n");
  labels_table(w, "Labels", r->labels);
  labels_table(w, "Annotations", r->annotations);
  w_puts(w, "</section>\n");

  w_puts(w, "<section id=\"impact\">\n<h2>Impact and duration</h2>\n<table class=\"kv\"><tbody>\n");
  kv(w, "Firing from", rp_time(r->t.start_ms, a, sizeof(a)));
  kv(w, "Firing until", r->t.end_ms ? rp_time(r->t.end_ms, a, sizeof(a)) : "still open");
  kv(w, r->t.end_ms ? "Duration" : "Open for",
     rp_dur(r->t.end_ms ? r->t.ttr_ms : r->as_of_ms - r->t.start_ms, a, sizeof(a)));
  snprintf(a, sizeof(a), "%lld", (long long)inc->deliveries);
  kv(w, "Notifications received", a);
  snprintf(a, sizeof(a), "%zu", r->n_runs);
  kv(w, "Remediation runs", a);
  snprintf(a, sizeof(a), "%zu", r->n_people);
  kv(w, "Contacts paged", a);
  snprintf(a, sizeof(a), "%d", r->max_level + 1);
  kv(w, "Highest escalation level", r->max_level >= 0 ? a : NULL);
  w_puts(w, "</tbody></table>\n</section>\n");

  w_puts(w, "<section id=\"times\">\n<h2>Detection, acknowledgement and resolution</h2>\n"
            "<table><thead><tr><th>Measure</th><th>From</th><th>To</th><th>Time</th></tr>"
            "</thead><tbody>\n");
  measure(w, "Time to detect (TTD)", "startsAt", r->t.start_ms, "received", r->t.received_ms,
          r->t.ttd_ms, NULL);
  measure(w, "Time to acknowledge (TTA)", "received", r->t.received_ms, "first response",
          r->t.response_ms, r->t.tta_ms, r->ack_by);
  measure(w, "Time to resolve (TTR)", inc->starts_at_ns > 0 ? "startsAt" : "received",
          r->t.start_ms, r->t.end_is_ends_at ? "endsAt" : "resolved", r->t.end_ms, r->t.ttr_ms,
          inc->resolved_by);
  w_puts(w, "</tbody></table>\n<p>Definitions: docs/reports.md. Times are UTC; offsets (T+)"
            " count from the alert's start.</p>\n</section>\n");

  w_puts(w, "<section id=\"chart\">\n<h2>Timeline chart</h2>\n<figure>\n");
  rp_svg(r, w);
  w_puts(w, "<figcaption>Lanes: the alert's firing span and its receipt; remediation steps"
            " (S<em>n</em>, as in the Remediation section) and refusals; pages (P<em>n</em>)"
            " and escalations (E<em>n</em>); people's acknowledgements, comments and the"
            " resolution. Shapes and labels carry each outcome.</figcaption>\n</figure>\n"
            "</section>\n");

  w_printf(w, "<section id=\"timeline\">\n<h2>Timeline</h2>\n<p>%zu event%s.</p>\n"
              "<table><thead><tr><th>Time (UTC)</th><th>T+</th><th>Event</th><th>Actor</th>"
              "<th>Detail</th></tr></thead><tbody>\n",
           r->n_ev, r->n_ev == 1 ? "" : "s");
  for (size_t i = 0; i < r->n_ev; i++) {
    const struct tl_event *e = &r->ev[i];
    buf_reset(&text);
    rp_event_text(r, i, &text);
    w_printf(w, "<tr><td>%s</td><td>%s</td>", rp_time(e->at_ms, a, sizeof(a)),
             rp_offset(r, e->at_ms, b, sizeof(b)));
    cell(w, e->kind);
    cell(w, e->actor);
    w_puts(w, "<td class=\"detail\">");
    w_html(w, text.data);
    w_puts(w, "</td></tr>\n");
  }
  w_puts(w, "</tbody></table>\n</section>\n");

  w_puts(w, "<section id=\"remediation\">\n<h2>Remediation</h2>\n");
  if (!r->n_runs)
    w_puts(w, "<p>No remediation ran (see the timeline for the decision).</p>\n");
  for (size_t i = 0; i < r->n_runs; i++) {
    const struct rem_run *run = &r->runs[i];
    const char *oc = run->outcome ? run->outcome : run_state_name(run->state);
    w_printf(w, "<h3>Run %lld: plan ", (long long)run->id);
    w_html(w, run->plan);
    w_puts(w, " on ");
    w_html(w, run->namespace_);
    w_puts(w, "/");
    w_html(w, run->deployment);
    w_printf(w, "%s <span class=\"outcome %s\">[", run->dry_run ? " (dry-run)" : "",
             outcome_class(oc));
    w_html(w, oc);
    w_puts(w, "]</span></h3>\n<p>");
    w_printf(w, "Started %s", rp_time(run->started_ms, a, sizeof(a)));
    if (run->finished_ms)
      w_printf(w, ", finished %s after %s.", rp_time(run->finished_ms, a, sizeof(a)),
               rp_dur(run->finished_ms - run->started_ms, b, sizeof(b)));
    else
      w_printf(w, "; still %s (phase %s).", run_state_name(run->state),
               run_phase_name(run->phase));
    w_puts(w, "</p>\n");
    steps_html(r, run, w);
  }
  w_puts(w, "</section>\n");

  w_puts(w, "<section id=\"paging\">\n<h2>Paging and escalation</h2>\n");
  if (!r->n_pages)
    w_puts(w, "<p>Nobody was paged.</p>\n");
  else
    w_puts(w, "<table><thead><tr><th>Ref</th><th>Time (UTC)</th><th>T+</th><th>Contact</th>"
              "<th>Method</th><th>Notice</th><th>Level</th><th>Outcome</th><th>Attempts</th>"
              "<th>Status</th><th>Reason</th></tr></thead><tbody>\n");
  for (size_t i = 0; i < r->n_pages; i++) {
    const struct rp_page *p = &r->pages[i];
    int64_t at = r->ev[p->ev].at_ms;
    w_printf(w, "<tr><td>P%zu</td><td>%s</td><td>%s</td>", p->seq, rp_time(at, a, sizeof(a)),
             rp_offset(r, at, b, sizeof(b)));
    cell(w, p->contact);
    cell(w, p->method);
    cell(w, p->notice);
    w_printf(w, "<td>%d</td><td class=\"outcome %s\">%s</td><td>%ld</td><td>%ld</td>",
             p->level + 1, p->delivered ? "o-ok" : "o-fail", p->delivered ? "delivered" : "FAILED",
             p->attempts, p->status);
    w_puts(w, "<td>");
    w_html(w, p->reason);
    if (p->detail && *p->detail) {
      w_puts(w, " (");
      w_html(w, p->detail);
      w_puts(w, ")");
    }
    w_puts(w, "</td></tr>\n");
  }
  if (r->n_pages)
    w_puts(w, "</tbody></table>\n");
  if (r->n_escs) {
    w_puts(w, "<table><thead><tr><th>Ref</th><th>Time (UTC)</th><th>T+</th><th>Event</th>"
              "<th>Level</th><th>Contact</th><th>Reason</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_escs; i++) {
      const struct rp_esc *x = &r->escs[i];
      int64_t at = r->ev[x->ev].at_ms;
      w_printf(w, "<tr><td>E%zu</td><td>%s</td><td>%s</td>", x->seq, rp_time(at, a, sizeof(a)),
               rp_offset(r, at, b, sizeof(b)));
      cell(w, x->kind);
      if (x->level >= 0)
        w_printf(w, "<td>%d</td>", x->level + 1);
      else
        w_puts(w, "<td>—</td>");
      cell(w, x->contact);
      w_puts(w, "<td>");
      w_html(w, x->reason);
      if (x->severity) {
        w_puts(w, " (severity ");
        w_html(w, x->severity);
        w_puts(w, ")");
      }
      w_puts(w, "</td></tr>\n");
    }
    w_puts(w, "</tbody></table>\n");
  }
  w_puts(w, "</section>\n");

  w_puts(w, "<section id=\"silences\">\n<h2>Silences</h2>\n");
  if (!r->n_sil)
    w_puts(w, "<p>No silence applied.</p>\n");
  else
    w_puts(w, "<table><thead><tr><th>Silence</th><th>Matchers</th><th>From</th><th>Until</th>"
              "<th>Created by</th><th>Comment</th><th>On the timeline</th></tr></thead><tbody>\n");
  for (size_t i = 0; i < r->n_sil; i++) {
    const struct rp_silence *s = &r->sil[i];
    w_puts(w, "<tr>");
    cell(w, s->id);
    cell(w, s->matchers ? s->matchers : "(no longer stored)");
    cell(w, rp_time(s->starts_ms, a, sizeof(a)));
    cell(w, rp_time(s->ends_ms, b, sizeof(b)));
    cell(w, s->created_by);
    cell(w, s->comment);
    cell(w, s->on_timeline ? "yes" : "no (matched its labels while open)");
    w_puts(w, "</tr>\n");
  }
  if (r->n_sil)
    w_puts(w, "</tbody></table>\n");
  w_puts(w, "</section>\n");

  w_puts(w, "<section id=\"root-cause\">\n<h2>Root cause</h2>\n"
            "<p><em>To be completed in the incident review: analyse the data above, identify"
            " the contributing factors, determine the primary root cause, assess preventive"
            " measures.</em></p>\n"
            "<h3>Contributing factors</h3>\n<div class=\"todo\"></div>\n"
            "<h3>Primary root cause</h3>\n<div class=\"todo\"></div>\n"
            "<h3>Preventive measures</h3>\n<div class=\"todo\"></div>\n</section>\n"
            "<section id=\"follow-up\">\n<h2>Follow-up actions</h2>\n"
            "<p><em>Update runbooks and procedures, implement preventive measures, schedule"
            " training if needed, update monitoring and alerting, share lessons learned.</em></p>\n"
            "<table><thead><tr><th>Action</th><th>Owner</th><th>Due</th><th>Status</th></tr>"
            "</thead><tbody><tr><td>&#160;</td><td>&#160;</td><td>&#160;</td><td>&#160;</td>"
            "</tr></tbody></table>\n</section>\n"
            "<footer><p>Generated by runbookd from its incident store.</p></footer>\n"
            "</body>\n</html>\n");
  buf_free(&text);
}

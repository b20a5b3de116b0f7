/*
 * report.c - the post-incident report's model: reads an incident, its
 * timeline, remediation runs and silences from the store, and derives what
 * the renderers show (the times, the steps with their requests and
 * outcomes, the pages, the escalations, the silences that applied).  The
 * definitions of the times are shared with the statistics (stats.c) and
 * documented in docs/reports.md.
 */
#include "report_int.h"

#include "matcher.h"
#include "payload.h"
#include "rbtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- formats ------------------------------------------------------------ */

int
report_format_parse(const char *s)
{
  if (!s || strcmp(s, "md") == 0 || strcmp(s, "markdown") == 0)
    return s ? REPORT_MD : -1;
  if (strcmp(s, "html") == 0)
    return REPORT_HTML;
  if (strcmp(s, "json") == 0)
    return REPORT_JSON;
  return -1;
}

const char *
report_format_type(enum report_format f)
{
  switch (f) {
  case REPORT_HTML: return "text/html; charset=utf-8";
  case REPORT_JSON: return "application/json";
  default: return "text/markdown; charset=utf-8";
  }
}

/* ---- the times ---------------------------------------------------------- */

int
report_actor_is_person(const char *actor)
{
  return actor && strcmp(actor, "alertmanager") != 0 && strcmp(actor, "runbookd") != 0;
}

void
report_times_compute(const struct incident *inc, int64_t first_response_ms,
                     struct report_times *t)
{
  int resolved = inc->state == INC_RESOLVED;
  int by_am = inc->resolved_by && strcmp(inc->resolved_by, "alertmanager") == 0;

  memset(t, 0, sizeof(*t));
  t->received_ms = inc->opened_ms;
  t->start_ms = inc->starts_at_ns > 0 ? inc->starts_at_ns / 1000000 : inc->opened_ms;
  t->missed_firing = resolved && by_am && inc->resolved_ms == inc->opened_ms;
  t->ttd_ms = t->tta_ms = t->ttr_ms = -1;
  if (inc->starts_at_ns > 0 && !t->missed_firing)
    t->ttd_ms = t->received_ms > t->start_ms ? t->received_ms - t->start_ms : 0;
  if (first_response_ms > 0) {
    t->response_ms = first_response_ms;
    t->tta_ms = first_response_ms > t->received_ms ? first_response_ms - t->received_ms : 0;
  }
  if (resolved) {
    int64_t end = inc->resolved_ms;
    /* Alertmanager's endsAt is when the alert stopped firing; its
     * resolved notification comes a group_interval or more later.  Taken
     * when it is plausible (after the start, not after its receipt). */
    if (by_am && inc->ends_at_ns > 0) {
      int64_t ea = inc->ends_at_ns / 1000000;
      if (ea >= t->start_ms && ea <= inc->resolved_ms) {
        end = ea;
        t->end_is_ends_at = 1;
      }
    }
    t->end_ms = end;
    t->ttr_ms = end > t->start_ms ? end - t->start_ms : 0;
  }
}

void
report_service(const struct incident *inc, char *out, size_t outlen)
{
  cJSON *l = inc->labels_json ? cJSON_Parse(inc->labels_json) : NULL;
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(l, "deployment");

  if (cJSON_IsString(d) && d->valuestring[0])
    snprintf(out, outlen, "%s", d->valuestring);
  else
    snprintf(out, outlen, "%s", inc->alertname ? inc->alertname : "");
  cJSON_Delete(l);
}

/* ---- writers ------------------------------------------------------------ */

void
w_puts(struct rp_w *w, const char *s)
{
  rb_status rc = buf_puts(w->b, s ? s : "");
  if (rc && !w->rc)
    w->rc = rc;
}

void
w_printf(struct rp_w *w, const char *fmt, ...)
{
  va_list ap;
  rb_status rc;

  va_start(ap, fmt);
  rc = buf_vprintf(w->b, fmt, ap);
  va_end(ap);
  if (rc && !w->rc)
    w->rc = rc;
}

static void
w_append(struct rp_w *w, const char *p, size_t n)
{
  rb_status rc = buf_append(w->b, p, n);
  if (rc && !w->rc)
    w->rc = rc;
}

void
w_json(struct rp_w *w, const char *s)
{
  rb_status rc = s ? buf_json_str(w->b, s) : buf_puts(w->b, "null");
  if (rc && !w->rc)
    w->rc = rc;
}

void
w_html(struct rp_w *w, const char *s)
{
  const char *p = s ? s : "", *run = p;

  for (; *p; p++) {
    const char *rep = NULL;
    unsigned char c = (unsigned char)*p;
    switch (c) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&#39;"; break;
    default:
      /* Control characters are not allowed in XML (nor useful here). */
      if (c < 0x20 && c != '\n' && c != '\t')
        rep = " ";
      else if (c == 0x7f)
        rep = " ";
    }
    if (rep) {
      w_append(w, run, (size_t)(p - run));
      w_puts(w, rep);
      run = p + 1;
    }
  }
  w_append(w, run, (size_t)(p - run));
}

/* 1: backslash-escaped in Markdown; 2: replaced by a space. */
static const unsigned char md_special[256] = {
  [1] = 2, [2] = 2, [3] = 2, [4] = 2, [5] = 2, [6] = 2, [7] = 2, [8] = 2, [9] = 2, [10] = 2,
  [11] = 2, [12] = 2, [13] = 2, [14] = 2, [15] = 2, [16] = 2, [17] = 2, [18] = 2, [19] = 2,
  [20] = 2, [21] = 2, [22] = 2, [23] = 2, [24] = 2, [25] = 2, [26] = 2, [27] = 2, [28] = 2,
  [29] = 2, [30] = 2, [31] = 2, [127] = 2,
  ['\\'] = 1, ['`'] = 1, ['*'] = 1, ['_'] = 1, ['['] = 1, [']'] = 1, ['<'] = 1, ['>'] = 1,
  ['|'] = 1, ['~'] = 1, ['&'] = 1, ['#'] = 1, ['!'] = 1, ['{'] = 1, ['}'] = 1,
};

void
w_md(struct rp_w *w, const char *s)
{
  const char *p = s ? s : "", *run = p;

  for (; *p; p++) {
    unsigned char c = (unsigned char)*p;
    const char *rep = NULL;
    char esc[3] = { '\\', (char)c, '\0' };
    /* Backslash escapes every character that could start markup, a link,
     * raw HTML or a table cell; line breaks would end a table row. */
    if (!md_special[c])
      continue;
    if (md_special[c] == 1)
      rep = esc;
    else
      rep = " ";
    if (rep) {
      w_append(w, run, (size_t)(p - run));
      w_puts(w, rep);
      run = p + 1;
    }
  }
  w_append(w, run, (size_t)(p - run));
}

void
w_md_code(struct rp_w *w, const char *lang, const char *s)
{
  size_t longest = 0, cur = 0, n;
  char fence[64];

  for (const char *p = s ? s : ""; *p; p++) {
    cur = *p == '`' ? cur + 1 : 0;
    if (cur > longest)
      longest = cur;
  }
  n = longest < 3 ? 3 : longest + 1;
  if (n >= sizeof(fence))
    n = sizeof(fence) - 1;
  memset(fence, '`', n);
  fence[n] = '\0';
  w_printf(w, "%s%s\n", fence, lang ? lang : "");
  w_puts(w, s);
  w_printf(w, "\n%s\n", fence);
}

/* ---- formatting helpers -------------------------------------------------- */

const char *
rp_time(int64_t ms, char *out, size_t outlen)
{
  /* Reports format thousands of times within the same few seconds:
   * gmtime once per second (per thread). */
  static _Thread_local int64_t last_s = -1;
  static _Thread_local char last[32];

  if (ms <= 0) {
    snprintf(out, outlen, "—");
    return out;
  }
  if (ms / 1000 != last_s) {
    rb_time_fmt_ms(ms / 1000 * 1000, last, sizeof(last));
    last_s = ms / 1000;
  }
  snprintf(out, outlen, "%.20s%03dZ", last, (int)(ms % 1000));
  return out;
}

const char *
rp_dur(int64_t ms, char *out, size_t outlen)
{
  int64_t s = ms / 1000;

  if (ms < 0)
    snprintf(out, outlen, "—");
  else if (ms < 1000)
    snprintf(out, outlen, "%lld ms", (long long)ms);
  else if (s < 60)
    snprintf(out, outlen, ms % 1000 ? "%lld.%03lld s" : "%lld s", (long long)s,
             (long long)(ms % 1000));
  else if (s < 3600)
    snprintf(out, outlen, "%lld m %lld s", (long long)(s / 60), (long long)(s % 60));
  else if (s < 86400)
    snprintf(out, outlen, "%lld h %lld m", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else
    snprintf(out, outlen, "%lld d %lld h", (long long)(s / 86400),
             (long long)(s % 86400 / 3600));
  return out;
}

const char *
rp_offset(const struct report *r, int64_t ms, char *out, size_t outlen)
{
  char d[48];
  int64_t off = ms - r->t0_ms;

  snprintf(out, outlen, "%s%s", off < 0 ? "-" : "+", rp_dur(off < 0 ? -off : off, d, sizeof(d)));
  return out;
}

const char *
rp_str(const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

double
rp_num(const cJSON *o, const char *key, double dflt)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

char *
rp_compact(const cJSON *o)
{
  return o ? cJSON_PrintUnformatted(o) : NULL;
}

char *
rp_lines(const cJSON *v)
{
  struct buf b;
  const cJSON *x;

  if (!cJSON_IsArray(v))
    return rp_compact(v);
  buf_init(&b, 0);
  cJSON_ArrayForEach(x, v)
  {
    char *c = cJSON_PrintUnformatted(x);
    if (b.len)
      buf_puts(&b, "\n");
    buf_puts(&b, c ? c : "null");
    free(c);
  }
  if (!b.data)
    return strdup("");
  return buf_steal(&b);
}

const char *
rp_step_outcome_label(const char *outcome)
{
  if (!outcome)
    return "unknown";
  if (strcmp(outcome, "succeeded") == 0)
    return "OK";
  if (strcmp(outcome, "verified") == 0)
    return "VERIFIED";
  if (strcmp(outcome, "failed") == 0)
    return "FAILED";
  if (strcmp(outcome, "not verified") == 0)
    return "NOT VERIFIED";
  if (strcmp(outcome, "refused") == 0)
    return "REFUSED";
  if (strcmp(outcome, "skipped") == 0)
    return "SKIPPED";
  return "RUNNING";
}

/* ---- one line per event ------------------------------------------------ */

static void
put_kv(struct buf *o, const char *sep, const char *label, const char *v)
{
  if (v && *v)
    buf_printf(o, "%s%s%s", sep, label, v);
}

static void
step_text(const cJSON *d, struct buf *o)
{
  const cJSON *rq = cJSON_GetObjectItemCaseSensitive(d, "responses");
  const cJSON *q = cJSON_GetObjectItemCaseSensitive(d, "requests");
  const cJSON *x;

  const char *phase = rp_str(d, "phase");

  buf_printf(o, "plan %s, %s %d", rp_str(d, "plan") ? rp_str(d, "plan") : "?",
             !phase || strcmp(phase, "steps") == 0 ? "step" : phase,
             (int)rp_num(d, "index", 0) + 1);
  put_kv(o, " ", "", rp_str(d, "step"));
  put_kv(o, " ", "(", rp_str(d, "kind"));
  if (rp_str(d, "kind") && *rp_str(d, "kind"))
    buf_puts(o, ")");
  if (rp_str(d, "namespace"))
    buf_printf(o, " on %s/%s", rp_str(d, "namespace"),
               rp_str(d, "deployment") ? rp_str(d, "deployment") : "");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "dryRun")))
    buf_puts(o, ", dry-run");
  cJSON_ArrayForEach(x, rq)
  {
    buf_printf(o, "; %s %s: %ld", rp_str(x, "method") ? rp_str(x, "method") : "?",
               rp_str(x, "path") ? rp_str(x, "path") : "?", (long)rp_num(x, "status", 0));
    put_kv(o, " ", "", rp_str(x, "reason"));
    put_kv(o, " ", "", rp_str(x, "message"));
  }
  if (!rq && cJSON_IsArray(q))
    buf_printf(o, "; %d request%s", cJSON_GetArraySize(q),
               cJSON_GetArraySize(q) == 1 ? "" : "s");
  put_kv(o, "; ", "", rp_str(d, "note"));
  if ((x = cJSON_GetObjectItemCaseSensitive(d, "result")) != NULL) {
    char *c = rp_compact(x);
    buf_printf(o, "; %d attempt%s, result %s", (int)rp_num(d, "attempts", 1),
               rp_num(d, "attempts", 1) == 1 ? "" : "s", c ? c : "{}");
    free(c);
  }
}

void
rp_event_text(const struct report *r, size_t i, struct buf *o)
{
  const struct tl_event *e = &r->ev[i];
  const cJSON *d = r->det[i];
  const char *k = e->kind ? e->kind : "";
  const char *reason = rp_str(d, "reason");
  const char *comment = rp_str(d, "comment");

  if (strcmp(k, "received") == 0) {
    buf_puts(o, "alert received from Alertmanager");
    put_kv(o, ", ", "receiver ", rp_str(d, "receiver"));
    if (rp_num(d, "truncatedAlerts", 0) > 0)
      buf_printf(o, ", %d alerts truncated", (int)rp_num(d, "truncatedAlerts", 0));
  } else if (strcmp(k, "repeated") == 0) {
    buf_puts(o, "fired again");
    put_kv(o, " ", "with startsAt ", rp_str(d, "startsAt"));
    put_kv(o, " ", "(previous ", rp_str(d, "previousStartsAt"));
    if (rp_str(d, "previousStartsAt") && *rp_str(d, "previousStartsAt"))
      buf_puts(o, ")");
  } else if (strcmp(k, "resolved") == 0 && !report_actor_is_person(e->actor)) {
    buf_puts(o, "resolved by Alertmanager");
    put_kv(o, ", ", "endsAt ", rp_str(d, "endsAt"));
    put_kv(o, ": ", "", reason);
  } else if (strcmp(k, "resolved") == 0 || strcmp(k, "acknowledged") == 0
             || strcmp(k, "unacknowledged") == 0 || strcmp(k, "commented") == 0) {
    buf_printf(o, "%s by %s", k, e->actor ? e->actor : "?");
    put_kv(o, ": ", "", comment);
  } else if (strncmp(k, "step ", 5) == 0 || strcmp(k, "verified") == 0
             || strcmp(k, "verification failed") == 0) {
    step_text(d, o);
  } else if (strcmp(k, "plan matched") == 0) {
    buf_printf(o, "plan %s matched", rp_str(d, "plan") ? rp_str(d, "plan") : "?");
    put_kv(o, " ", "(", rp_str(d, "runbook"));
    if (rp_str(d, "runbook") && *rp_str(d, "runbook"))
      buf_puts(o, ")");
    buf_printf(o, ", %d steps%s", (int)rp_num(d, "steps", 0),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "dryRun")) ? ", dry-run" : "");
  } else if (strcmp(k, "rate-limited") == 0) {
    buf_printf(o, "plan %s on %s held back by limit %s",
               rp_str(d, "plan") ? rp_str(d, "plan") : "?",
               rp_str(d, "target") ? rp_str(d, "target") : "?",
               rp_str(d, "limit") ? rp_str(d, "limit") : "?");
    put_kv(o, ": ", "", reason);
  } else if (strcmp(k, "remediation finished") == 0) {
    char dur[48];
    buf_printf(o, "run %s of plan %s finished: %s in %s", rp_str(d, "run") ? rp_str(d, "run") : "?",
               rp_str(d, "plan") ? rp_str(d, "plan") : "?",
               rp_str(d, "outcome") ? rp_str(d, "outcome") : "?",
               rp_dur((int64_t)rp_num(d, "durationMs", -1), dur, sizeof(dur)));
  } else if (strcmp(k, "paged") == 0 || strcmp(k, "page failed") == 0) {
    buf_printf(o, "%s %s", strcmp(k, "paged") == 0 ? "paged" : "could not page",
               rp_str(d, "contact") ? rp_str(d, "contact") : "?");
    put_kv(o, " ", "by ", rp_str(d, "method"));
    put_kv(o, " ", "(", rp_str(d, "event"));
    if (rp_str(d, "event") && *rp_str(d, "event"))
      buf_printf(o, " notice, level %d, %d attempt%s, status %ld)", (int)rp_num(d, "level", 0) + 1,
                 (int)rp_num(d, "attempts", 0), rp_num(d, "attempts", 0) == 1 ? "" : "s",
                 (long)rp_num(d, "status", 0));
    put_kv(o, ": ", "", reason);
    put_kv(o, "; ", "", rp_str(d, "detail"));
  } else if (strcmp(k, "escalated") == 0) {
    buf_puts(o, "escalated");
    if (cJSON_GetObjectItemCaseSensitive(d, "level"))
      buf_printf(o, " to level %d", (int)rp_num(d, "level", 0) + 1);
    put_kv(o, " ", "(", rp_str(d, "contact"));
    if (rp_str(d, "contact") && *rp_str(d, "contact"))
      buf_puts(o, ")");
    put_kv(o, ", ", "severity ", rp_str(d, "severity"));
    put_kv(o, ": ", "", reason);
    put_kv(o, ", ", "", rp_str(d, "action"));
  } else if (strcmp(k, "silenced") == 0) {
    buf_printf(o, "silenced by %s", rp_str(d, "silence") ? rp_str(d, "silence") : "?");
    put_kv(o, ": ", "", rp_str(d, "effect") ? rp_str(d, "effect") : reason);
  } else if (strcmp(k, "progress update") == 0) {
    buf_puts(o, "progress update sent to everyone paged");
  } else if (reason) {
    const char *plan = rp_str(d, "plan");
    if (plan)
      buf_printf(o, "plan %s: ", plan);
    buf_puts(o, reason);
  } else if (d && cJSON_GetArraySize(d) > 0) {
    char *c = rp_compact(d);
    buf_puts(o, c ? c : "");
    free(c);
  }
}

/* ---- loading ------------------------------------------------------------ */

static int
is_step_event(const char *k)
{
  return strncmp(k, "step ", 5) == 0 || strcmp(k, "verified") == 0
         || strcmp(k, "verification failed") == 0;
}

static struct rp_step *
find_step(struct report *r, int64_t run, const char *phase, int index)
{
  /* Steps arrive in order: the one sought is nearly always the last. */
  for (size_t i = r->n_steps; i > 0; i--) {
    struct rp_step *s = &r->steps[i - 1];
    if (s->run_id == run && s->index == index && strcmp(s->phase, phase) == 0)
      return s;
  }
  return NULL;
}

static rb_status
add_step_event(struct report *r, size_t i, size_t *cap)
{
  const struct tl_event *e = &r->ev[i];
  const cJSON *d = r->det[i];
  const char *k = e->kind, *run = rp_str(d, "run"), *phase = rp_str(d, "phase");
  int index = (int)rp_num(d, "index", 0);
  int64_t run_id = run ? strtoll(run, NULL, 10) : 0;
  const cJSON *x;
  struct rp_step *s;

  if (!phase)
    phase = "steps";
  s = find_step(r, run_id, phase, index);
  /* A new attempt after the step ended is a new row only for a new run. */
  if (!s) {
    if (rb_grow((void **)&r->steps, cap, r->n_steps, sizeof(*r->steps)))
      return RB_ENOMEM;
    s = &r->steps[r->n_steps++];
    s->seq = r->n_steps;
    s->run_id = run_id;
    s->phase = phase;
    s->index = index;
    s->sent = -1;
    s->outcome = "running";
    s->started_ms = e->at_ms;
  }
  if (rp_str(d, "step"))
    s->name = rp_str(d, "step");
  if (rp_str(d, "kind"))
    s->kind = rp_str(d, "kind");
  if (rp_str(d, "namespace"))
    s->ns = rp_str(d, "namespace");
  if (rp_str(d, "deployment"))
    s->deployment = rp_str(d, "deployment");
  if (rp_str(d, "note"))
    s->note = rp_str(d, "note");
  if ((x = cJSON_GetObjectItemCaseSensitive(d, "requests")) != NULL)
    s->requests = x;
  if ((x = cJSON_GetObjectItemCaseSensitive(d, "responses")) != NULL) {
    s->responses = x;
    s->sent = 1;
  }
  if ((x = cJSON_GetObjectItemCaseSensitive(d, "result")) != NULL)
    s->result = x;
  if ((x = cJSON_GetObjectItemCaseSensitive(d, "argv")) != NULL)
    s->argv = x;
  if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "sent")))
    s->sent = 0;
  if (cJSON_GetObjectItemCaseSensitive(d, "attempts") && s->result)
    s->attempts = (int)rp_num(d, "attempts", 1);

  if (strcmp(k, "step started") == 0 || strcmp(k, "step retried") == 0) {
    s->attempts++;
    s->outcome = "running";
  } else if (strcmp(k, "step resumed") == 0) {
    s->resumed = 1;
    s->outcome = "running";
  } else if (strcmp(k, "step conflict") == 0) {
    s->conflicts++;
  } else {
    s->ended_ms = e->at_ms;
    s->outcome = strcmp(k, "step succeeded") == 0        ? "succeeded"
                 : strcmp(k, "verified") == 0            ? "verified"
                 : strcmp(k, "verification failed") == 0 ? "not verified"
                 : strcmp(k, "step refused") == 0        ? "refused"
                 : strcmp(k, "step skipped") == 0        ? "skipped"
                                                         : "failed";
  }
  return RB_OK;
}

/* Adds silence rows that applied: named on the timeline, or matching the
 * incident's labels while it was open. */
static rb_status
load_silences(struct store *st, struct report *r)
{
  struct silence_row *rows = NULL;
  size_t n = 0, cap = 0;
  struct am_labels ls;
  int have_labels;
  int64_t from = r->inc.opened_ms, to = r->t.end_ms ? r->inc.resolved_ms : r->as_of_ms;
  rb_status rc;

  have_labels = am_labels_from_json(r->inc.labels_json, &ls) == RB_OK;
  rc = store_silences_all(st, &rows, &n);
  if (rc) {
    if (have_labels)
      am_labels_free(&ls);
    return rc == RB_ENOMEM ? rc : RB_OK; /* a store without silences */
  }
  /* Ids named by `silenced` events first, in timeline order. */
  for (size_t i = 0; i < r->n_ev; i++) {
    const char *id = rp_str(r->det[i], "silence");
    int dup = 0;
    if (strcmp(r->ev[i].kind, "silenced") != 0 || !id)
      continue;
    for (size_t k = 0; k < r->n_sil; k++)
      dup |= strcmp(r->sil[k].id, id) == 0;
    if (dup)
      continue;
    if (rb_grow((void **)&r->sil, &cap, r->n_sil, sizeof(*r->sil))) {
      rc = RB_ENOMEM;
      goto out;
    }
    snprintf(r->sil[r->n_sil].id, sizeof(r->sil[0].id), "%s", id);
    r->sil[r->n_sil++].on_timeline = 1;
  }
  for (size_t i = 0; i < n; i++) {
    struct rp_silence *s = NULL;
    struct matchers ms = { NULL, 0 };
    cJSON *mj = cJSON_Parse(rows[i].matchers_json ? rows[i].matchers_json : "[]");
    const cJSON *m;
    int ok = cJSON_IsArray(mj);
    struct buf fb;

    for (size_t k = 0; k < r->n_sil; k++)
      if (strcmp(r->sil[k].id, rows[i].id) == 0)
        s = &r->sil[k];
    ms.m = calloc((size_t)cJSON_GetArraySize(mj) + 1, sizeof(*ms.m));
    ok = ok && ms.m;
    if (!ok) {
      cJSON_Delete(mj);
      mj = NULL;
    }
    cJSON_ArrayForEach(m, mj)
    {
      char err[RB_ERRLEN];
      const cJSON *eq = cJSON_GetObjectItemCaseSensitive(m, "isEqual");
      if (!rp_str(m, "name") || !rp_str(m, "value")
          || matcher_from_api(rp_str(m, "name"), rp_str(m, "value"),
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "isRegex")),
                              eq ? cJSON_IsTrue(eq) : 1, &ms.m[ms.n], err)) {
        ok = 0;
        break;
      }
      ms.n++;
    }
    cJSON_Delete(mj);
    if (!s && ok && have_labels && rows[i].starts_ms < to && rows[i].ends_ms > from
        && matchers_match(&ms, &ls)) {
      rc = rb_grow((void **)&r->sil, &cap, r->n_sil, sizeof(*r->sil));
      if (!rc) {
        s = &r->sil[r->n_sil++];
        snprintf(s->id, sizeof(s->id), "%s", rows[i].id);
      }
    }
    if (s && ok) {
      buf_init(&fb, 0);
      matchers_format(&ms, &fb);
      s->matchers = buf_steal(&fb);
      s->starts_ms = rows[i].starts_ms;
      s->ends_ms = rows[i].ends_ms;
      s->created_by = rows[i].created_by ? strdup(rows[i].created_by) : NULL;
      s->comment = rows[i].comment ? strdup(rows[i].comment) : NULL;
    }
    for (size_t k = 0; k < ms.n; k++)
      matcher_free(ms.m[k]);
    free(ms.m);
    if (rc)
      break;
  }
out:
  silence_rows_free(rows, n);
  if (have_labels)
    am_labels_free(&ls);
  return rc;
}

static rb_status
derive(struct report *r)
{
  size_t step_cap = 0, page_cap = 0, esc_cap = 0;
  int64_t first_response = 0;
  char seen[64][128];
  size_t n_seen = 0;

  r->max_level = -1;
  for (size_t i = 0; i < r->n_ev; i++) {
    const struct tl_event *e = &r->ev[i];
    const cJSON *d = r->det[i];
    const char *k = e->kind;

    if (!first_response && (strcmp(k, "acknowledged") == 0
                            || (strcmp(k, "resolved") == 0 && report_actor_is_person(e->actor)))) {
      first_response = e->at_ms;
      r->ack_by = e->actor;
    }
    if (strcmp(k, "resolved") == 0)
      r->resolved_by = e->actor;
    if (is_step_event(k) && rp_str(d, "run")) {
      if (add_step_event(r, i, &step_cap))
        return RB_ENOMEM;
    } else if (strcmp(k, "paged") == 0 || strcmp(k, "page failed") == 0) {
      struct rp_page *p;
      if (rb_grow((void **)&r->pages, &page_cap, r->n_pages, sizeof(*r->pages)))
        return RB_ENOMEM;
      p = &r->pages[r->n_pages++];
      p->ev = i;
      p->seq = r->n_pages;
      p->delivered = strcmp(k, "paged") == 0;
      p->contact = rp_str(d, "contact");
      p->method = rp_str(d, "method");
      p->notice = rp_str(d, "event");
      p->reason = rp_str(d, "reason");
      p->detail = rp_str(d, "detail");
      p->delivery = rp_str(d, "delivery");
      p->level = (int)rp_num(d, "level", 0);
      p->attempts = (long)rp_num(d, "attempts", 0);
      p->status = (long)rp_num(d, "status", 0);
      if (p->delivered) {
        size_t s;
        if (p->level > r->max_level)
          r->max_level = p->level;
        for (s = 0; s < n_seen && p->contact; s++)
          if (strcmp(seen[s], p->contact) == 0)
            break;
        if (p->contact && s == n_seen && n_seen < RB_ARRAY_LEN(seen))
          snprintf(seen[n_seen++], sizeof(seen[0]), "%s", p->contact);
      }
    } else if (strcmp(k, "escalated") == 0 || strcmp(k, "escalation requested") == 0
               || strcmp(k, "escalation exhausted") == 0) {
      struct rp_esc *x;
      if (rb_grow((void **)&r->escs, &esc_cap, r->n_escs, sizeof(*r->escs)))
        return RB_ENOMEM;
      x = &r->escs[r->n_escs++];
      x->ev = i;
      x->seq = r->n_escs;
      x->kind = k;
      x->contact = rp_str(d, "contact");
      x->severity = rp_str(d, "severity");
      x->reason = rp_str(d, "reason");
      x->level = cJSON_GetObjectItemCaseSensitive(d, "level") ? (int)rp_num(d, "level", 0) : -1;
    }
  }
  r->n_people = n_seen;
  report_times_compute(&r->inc, first_response, &r->t);
  if (r->inc.state == INC_RESOLVED)
    r->as_of_ms = 0;
  r->t0_ms = r->t.start_ms;
  return RB_OK;
}

rb_status
report_load(struct store *st, int64_t id, int64_t now_ms, struct report **out)
{
  struct report *r = calloc(1, sizeof(*r));
  rb_status rc;

  *out = NULL;
  if (!r)
    return RB_ENOMEM;
  rc = store_get(st, id, &r->inc);
  if (rc) {
    free(r);
    return rc;
  }
  r->as_of_ms = now_ms;
  rc = store_timeline(st, id, &r->ev, &r->n_ev);
  if (!rc)
    rc = store_runs_of_incident(st, id, &r->runs, &r->n_runs);
  if (rc)
    goto fail;
  r->det = calloc(r->n_ev + 1, sizeof(*r->det));
  if (!r->det) {
    rc = RB_ENOMEM;
    goto fail;
  }
  for (size_t i = 0; i < r->n_ev; i++) {
    if (!r->ev[i].kind) {
      r->ev[i].kind = strdup("");
      if (!r->ev[i].kind) {
        rc = RB_ENOMEM;
        goto fail;
      }
    }
    r->det[i] = r->ev[i].detail ? cJSON_Parse(r->ev[i].detail) : NULL;
  }
  r->labels = r->inc.labels_json ? cJSON_Parse(r->inc.labels_json) : NULL;
  r->annotations = r->inc.annotations_json ? cJSON_Parse(r->inc.annotations_json) : NULL;
  report_service(&r->inc, r->service, sizeof(r->service));
  rc = derive(r);
  if (!rc)
    rc = load_silences(st, r);
  if (rc)
    goto fail;
  *out = r;
  return RB_OK;
fail:
  report_free(r);
  return rc;
}

void
report_free(struct report *r)
{
  if (!r)
    return;
  for (size_t i = 0; r->det && i < r->n_ev; i++)
    cJSON_Delete(r->det[i]);
  free(r->det);
  tl_events_free(r->ev, r->n_ev);
  rem_runs_free(r->runs, r->n_runs);
  for (size_t i = 0; i < r->n_sil; i++) {
    free(r->sil[i].matchers);
    free(r->sil[i].created_by);
    free(r->sil[i].comment);
  }
  free(r->sil);
  free(r->steps);
  free(r->pages);
  free(r->escs);
  cJSON_Delete(r->labels);
  cJSON_Delete(r->annotations);
  incident_clear(&r->inc);
  free(r);
}

rb_status
report_render(const struct report *r, enum report_format f, struct buf *out)
{
  struct rp_w w = { out, RB_OK };

  switch (f) {
  case REPORT_HTML: rp_render_html(r, &w); break;
  case REPORT_JSON: rp_render_json(r, &w); break;
  default: rp_render_md(r, &w); break;
  }
  return w.rc;
}

rb_status
report_build(struct store *st, int64_t id, enum report_format f, int64_t now_ms, struct buf *out)
{
  struct report *r = NULL;
  rb_status rc = report_load(st, id, now_ms, &r);

  if (!rc)
    rc = report_render(r, f, out);
  report_free(r);
  return rc;
}

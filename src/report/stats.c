/*
 * stats.c - operations statistics over a window (stats.h).  The store
 * gives rows and counts (store_sqlite_stats.c); this file applies the
 * report's per-incident definitions (report_times_compute) and turns them
 * into means, medians, 90th percentiles, rates and availability.  Every
 * figure is defined in docs/reports.md; keep the two in step.
 */
#include "stats.h"

#include "incident.h"
#include "rbtime.h"
#include "report.h"
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pure helpers ------------------------------------------------------- */

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

void
stats_dist_compute(int64_t *v, size_t n, struct stats_dist *out)
{
  double sum = 0;

  out->n = n;
  if (!n) {
    out->mean_ms = out->median_ms = out->p90_ms = -1;
    return;
  }
  qsort(v, n, sizeof(*v), cmp_i64);
  for (size_t i = 0; i < n; i++)
    sum += (double)v[i];
  out->mean_ms = sum / (double)n;
  /* Median: the middle value, or the mean of the two middle values. */
  out->median_ms = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
  /* p90: nearest rank, the smallest value with at least 90% at or below
   * it: v[ceil(0.9 n) - 1]. */
  out->p90_ms = (double)v[(9 * n + 9) / 10 - 1];
}

static int
cmp_span(const void *a, const void *b)
{
  const struct stats_span *x = a, *y = b;
  return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

int64_t
stats_union_ms(struct stats_span *v, size_t n, int64_t from, int64_t to)
{
  int64_t total = 0, cs = 0, ce = 0;
  int open = 0;

  if (n)
    qsort(v, n, sizeof(*v), cmp_span);
  for (size_t i = 0; i < n; i++) {
    int64_t s = v[i].start_ms < from ? from : v[i].start_ms;
    int64_t e = v[i].end_ms > to ? to : v[i].end_ms;
    if (e <= s)
      continue;
    if (open && s <= ce) {
      if (e > ce)
        ce = e;
      continue;
    }
    if (open)
      total += ce - cs;
    cs = s;
    ce = e;
    open = 1;
  }
  if (open)
    total += ce - cs;
  return total;
}

rb_status
stats_parse_time(const char *s, int64_t *out_ms)
{
  int64_t ns;

  if (!s || !*s)
    return RB_EINVAL;
  if (strspn(s, "0123456789.") == strlen(s)) {
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || v < 0 || v > 9.2e9 || s[0] == '.')
      return RB_EINVAL;
    *out_ms = (int64_t)llround(v * 1000.0);
    return RB_OK;
  }
  if (rb_time_parse_ns(s, &ns) != RB_OK || ns <= 0)
    return RB_EINVAL;
  *out_ms = ns / 1000000;
  return RB_OK;
}

/* ---- computing ---------------------------------------------------------- */

static void
as_incident(const struct stats_incident *s, struct incident *inc)
{
  memset(inc, 0, sizeof(*inc));
  inc->id = s->id;
  inc->state = s->resolved ? INC_RESOLVED : INC_OPEN;
  inc->starts_at_ns = s->starts_at_ns;
  inc->ends_at_ns = s->ends_at_ns;
  inc->opened_ms = s->opened_ms;
  inc->resolved_ms = s->resolved_ms;
  inc->resolved_by = s->resolved_by; /* borrowed */
}

static struct stats_service *
service(struct stats *st, const char *name, size_t *cap)
{
  for (size_t i = 0; i < st->n_services; i++)
    if (strcmp(st->services[i].service, name) == 0)
      return &st->services[i];
  if (rb_grow((void **)&st->services, cap, st->n_services, sizeof(*st->services)))
    return NULL;
  st->services[st->n_services].service = strdup(name);
  if (!st->services[st->n_services].service)
    return NULL;
  return &st->services[st->n_services++];
}

static int
cmp_service(const void *a, const void *b)
{
  const struct stats_service *x = a, *y = b;
  if (x->availability != y->availability)
    return x->availability < y->availability ? -1 : 1;
  return strcmp(x->service, y->service);
}

rb_status
stats_compute(struct store *store, int64_t from_ms, int64_t to_ms, int64_t now_ms,
              struct stats *out)
{
  struct stats_incident *v = NULL, *o = NULL;
  size_t n = 0, no = 0, cap = 0;
  int64_t *ttd = NULL, *tta = NULL, *ttr = NULL;
  size_t nd = 0, na = 0, nr = 0;
  rb_status rc;

  memset(out, 0, sizeof(*out));
  out->from_ms = from_ms;
  out->to_ms = to_ms;
  out->now_ms = now_ms;
  if (from_ms >= to_ms)
    return RB_EINVAL;
  rc = store_stats_incidents(store, from_ms, to_ms, &v, &n);
  if (!rc)
    rc = store_stats_outages(store, from_ms, to_ms, &o, &no);
  for (int d = 0; !rc && d < STATS_DIM_COUNT; d++)
    rc = store_stats_counts(store, d, from_ms, to_ms, &out->by[d], &out->n_by[d]);
  if (!rc)
    rc = store_stats_runs(store, from_ms, to_ms, &out->runs);
  if (rc)
    goto out;

  ttd = calloc(n + 1, sizeof(*ttd));
  tta = calloc(n + 1, sizeof(*tta));
  ttr = calloc(n + 1, sizeof(*ttr));
  if (!ttd || !tta || !ttr) {
    rc = RB_ENOMEM;
    goto out;
  }
  out->incidents = (int64_t)n;
  for (size_t i = 0; i < n; i++) {
    struct incident inc;
    struct report_times t;
    struct stats_service *s;

    as_incident(&v[i], &inc);
    report_times_compute(&inc, v[i].first_response_ms, &t);
    if (t.ttd_ms >= 0)
      ttd[nd++] = t.ttd_ms;
    if (t.tta_ms >= 0)
      tta[na++] = t.tta_ms;
    if (t.ttr_ms >= 0)
      ttr[nr++] = t.ttr_ms;
    if (v[i].resolved) {
      out->resolved++;
      if (v[i].resolved_by && strcmp(v[i].resolved_by, "alertmanager") == 0
          && !v[i].first_response_ms && !v[i].person_acted)
        out->auto_resolved++;
    } else {
      out->open++;
    }
    s = service(out, v[i].service, &cap);
    if (!s) {
      rc = RB_ENOMEM;
      goto out;
    }
    s->incidents++;
  }
  stats_dist_compute(ttd, nd, &out->mttd);
  stats_dist_compute(tta, na, &out->mtta);
  stats_dist_compute(ttr, nr, &out->mttr);
  {
    int64_t ended = out->runs.succeeded + out->runs.failed + out->runs.unverified;
    out->success_rate = ended ? (double)out->runs.succeeded / (double)ended : -1;
  }
  out->auto_share = out->resolved ? (double)out->auto_resolved / (double)out->resolved : -1;

  /* Availability: per service, the union of its emergency and critical
   * incidents' spans within the window. */
  for (size_t i = 0; i < no; i++)
    if (!service(out, o[i].service, &cap)) {
      rc = RB_ENOMEM;
      goto out;
    }
  {
    struct stats_span *sp = calloc(no + 1, sizeof(*sp));
    if (!sp) {
      rc = RB_ENOMEM;
      goto out;
    }
    for (size_t k = 0; k < out->n_services; k++) {
      struct stats_service *s = &out->services[k];
      size_t m = 0;
      for (size_t i = 0; i < no; i++) {
        struct incident inc;
        struct report_times t;
        if (strcmp(o[i].service, s->service) != 0)
          continue;
        as_incident(&o[i], &inc);
        report_times_compute(&inc, 0, &t);
        sp[m].start_ms = t.start_ms;
        sp[m].end_ms = t.end_ms ? t.end_ms : now_ms;
        m++;
      }
      s->down_ms = stats_union_ms(sp, m, from_ms, to_ms);
      s->availability = 1.0 - (double)s->down_ms / (double)(to_ms - from_ms);
    }
    free(sp);
  }
  if (out->n_services)
    qsort(out->services, out->n_services, sizeof(*out->services), cmp_service);
out:
  free(ttd);
  free(tta);
  free(ttr);
  stats_incidents_free(v, n);
  stats_incidents_free(o, no);
  if (rc)
    stats_clear(out);
  return rc;
}

void
stats_clear(struct stats *s)
{
  if (!s)
    return;
  for (int d = 0; d < STATS_DIM_COUNT; d++) {
    stats_counts_free(s->by[d], s->n_by[d]);
    s->by[d] = NULL;
    s->n_by[d] = 0;
  }
  for (size_t i = 0; i < s->n_services; i++)
    free(s->services[i].service);
  free(s->services);
  s->services = NULL;
  s->n_services = 0;
}

/* ---- output ------------------------------------------------------------- */

static void
secs(struct buf *b, double ms)
{
  if (ms < 0)
    buf_puts(b, "null");
  else
    buf_printf(b, "%.3f", ms / 1000.0);
}

static void
dist_json(struct buf *b, const char *name, const struct stats_dist *d)
{
  buf_printf(b, "\"%s\":{\"count\":%zu,\"meanSeconds\":", name, d->n);
  secs(b, d->mean_ms);
  buf_puts(b, ",\"medianSeconds\":");
  secs(b, d->median_ms);
  buf_puts(b, ",\"p90Seconds\":");
  secs(b, d->p90_ms);
  buf_puts(b, "}");
}

static void
ratio(struct buf *b, double v)
{
  if (v < 0)
    buf_puts(b, "null");
  else
    buf_printf(b, "%.6f", v);
}

rb_status
stats_to_json(const struct stats *s, struct buf *b)
{
  static const char *const dims[STATS_DIM_COUNT] = { "alertname", "severity", "namespace" };
  static const char *const keys[STATS_DIM_COUNT] = { "byAlertname", "bySeverity",
                                                     "byNamespace" };
  char t[48];
  rb_status rc;

  buf_puts(b, "{\"from\":");
  buf_json_str(b, rb_time_fmt_ms(s->from_ms, t, sizeof(t)));
  buf_puts(b, ",\"to\":");
  buf_json_str(b, rb_time_fmt_ms(s->to_ms, t, sizeof(t)));
  buf_printf(b, ",\"windowSeconds\":%.3f,", (double)(s->to_ms - s->from_ms) / 1000.0);
  buf_printf(b, "\"incidents\":{\"total\":%lld,\"resolved\":%lld,\"open\":%lld},",
             (long long)s->incidents, (long long)s->resolved, (long long)s->open);
  dist_json(b, "mttd", &s->mttd);
  buf_puts(b, ",");
  dist_json(b, "mtta", &s->mtta);
  buf_puts(b, ",");
  dist_json(b, "mttr", &s->mttr);
  buf_puts(b, ",\"frequency\":{");
  for (int d = 0; d < STATS_DIM_COUNT; d++) {
    buf_printf(b, "%s\"%s\":[", d ? "," : "", keys[d]);
    for (size_t i = 0; i < s->n_by[d]; i++) {
      buf_printf(b, "%s{\"%s\":", i ? "," : "", dims[d]);
      if (s->by[d][i].value)
        buf_json_str(b, s->by[d][i].value);
      else
        buf_puts(b, "null");
      buf_printf(b, ",\"count\":%lld}", (long long)s->by[d][i].count);
    }
    buf_puts(b, "]");
  }
  buf_printf(b,
             "},\"remediation\":{\"runs\":%lld,\"running\":%lld,\"succeeded\":%lld,"
             "\"failed\":%lld,\"unverified\":%lld,\"dryRun\":%lld,\"successRate\":",
             (long long)s->runs.started, (long long)s->runs.running, (long long)s->runs.succeeded,
             (long long)s->runs.failed, (long long)s->runs.unverified, (long long)s->runs.dry_run);
  ratio(b, s->success_rate);
  buf_printf(b, "},\"resolvedWithoutHuman\":{\"resolved\":%lld,\"withoutHuman\":%lld,\"share\":",
             (long long)s->resolved, (long long)s->auto_resolved);
  ratio(b, s->auto_share);
  buf_puts(b, "},\"availability\":[");
  for (size_t i = 0; i < s->n_services; i++) {
    const struct stats_service *v = &s->services[i];
    buf_puts(b, i ? ",{\"service\":" : "{\"service\":");
    buf_json_str(b, v->service);
    buf_printf(b, ",\"incidents\":%lld,\"downSeconds\":%.3f,\"availability\":", (long long)v->incidents,
               (double)v->down_ms / 1000.0);
    ratio(b, v->availability);
    buf_puts(b, "}");
  }
  rc = buf_puts(b, "]}\n");
  return b->data ? rc : RB_ENOMEM;
}

static void
dur_text(struct buf *b, double ms)
{
  if (ms < 0)
    buf_puts(b, "-");
  else if (ms < 60000)
    buf_printf(b, "%.1fs", ms / 1000);
  else if (ms < 3600000)
    buf_printf(b, "%.1fm", ms / 60000);
  else
    buf_printf(b, "%.2fh", ms / 3600000);
}

/* Terminal text: printable ASCII of network strings only. */
static void
safe(struct buf *b, const char *s)
{
  for (const char *p = s ? s : "(none)"; *p; p++) {
    char c = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    buf_append(b, &c, 1);
  }
}

rb_status
stats_to_text(const struct stats *s, struct buf *b)
{
  static const char *const titles[STATS_DIM_COUNT] = { "By alertname", "By severity",
                                                       "By namespace" };
  static const char *const names[3] = { "MTTD (startsAt to receipt)",
                                        "MTTA (receipt to first response)",
                                        "MTTR (startsAt to resolution)" };
  const struct stats_dist *d[3] = { &s->mttd, &s->mtta, &s->mttr };
  char a[48], c[48];
  rb_status rc;

  buf_printf(b, "Window: %s to %s\n", rb_time_fmt_ms(s->from_ms, a, sizeof(a)),
             rb_time_fmt_ms(s->to_ms, c, sizeof(c)));
  buf_printf(b, "Incidents: %lld (%lld resolved, %lld open)\n\n", (long long)s->incidents,
             (long long)s->resolved, (long long)s->open);
  buf_printf(b, "%-34s %6s %9s %9s %9s\n", "", "count", "mean", "median", "p90");
  for (int i = 0; i < 3; i++) {
    buf_printf(b, "%-34s %6zu ", names[i], d[i]->n);
    size_t before = b->len;
    dur_text(b, d[i]->mean_ms);
    buf_printf(b, "%*s", (int)(10 - (b->len - before)), "");
    before = b->len;
    dur_text(b, d[i]->median_ms);
    buf_printf(b, "%*s", (int)(10 - (b->len - before)), "");
    dur_text(b, d[i]->p90_ms);
    buf_puts(b, "\n");
  }
  for (int k = 0; k < STATS_DIM_COUNT; k++) {
    buf_printf(b, "\n%s:\n", titles[k]);
    if (!s->n_by[k])
      buf_puts(b, "  (none)\n");
    for (size_t i = 0; i < s->n_by[k]; i++) {
      buf_printf(b, "  %6lld  ", (long long)s->by[k][i].count);
      safe(b, s->by[k][i].value);
      buf_puts(b, "\n");
    }
  }
  buf_printf(b, "\nRemediation runs: %lld started, %lld succeeded, %lld failed, %lld unverified,"
                " %lld dry-run, %lld running; success rate ",
             (long long)s->runs.started, (long long)s->runs.succeeded, (long long)s->runs.failed,
             (long long)s->runs.unverified, (long long)s->runs.dry_run,
             (long long)s->runs.running);
  if (s->success_rate < 0)
    buf_puts(b, "-\n");
  else
    buf_printf(b, "%.1f%%\n", s->success_rate * 100);
  buf_printf(b, "Resolved without a human: %lld of %lld", (long long)s->auto_resolved,
             (long long)s->resolved);
  if (s->auto_share >= 0)
    buf_printf(b, " (%.1f%%)", s->auto_share * 100);
  buf_puts(b, "\n\nAvailability (emergency or critical incidents open):\n");
  if (!s->n_services)
    buf_puts(b, "  (no incidents)\n");
  for (size_t i = 0; i < s->n_services; i++) {
    buf_printf(b, "  %9.5f%%  down ", s->services[i].availability * 100);
    dur_text(b, (double)s->services[i].down_ms);
    buf_puts(b, "  ");
    safe(b, s->services[i].service);
    buf_puts(b, "\n");
  }
  rc = buf_puts(b, "");
  return b->data ? rc : RB_ENOMEM;
}

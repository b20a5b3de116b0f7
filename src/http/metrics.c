/*
 * metrics.c - runbookd's own metrics in the Prometheus text format.
 */
#include "metrics.h"
#include "buf.h"
#include "store.h"
#include "version.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Seconds; the same upper bounds serve request and commit latency. */
static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NB RB_ARRAY_LEN(bounds)
/* A disk flush takes 0.1-0.2 ms on a good disk: finer buckets, as many. */
static const double fine_bounds[NB] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                        0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25, 0.5, 1 };

struct histo {
  const double *le;             /* NB upper bounds; NULL: bounds */
  atomic_ullong bucket[NB + 1]; /* last is +Inf */
  atomic_ullong sum_ns;
  atomic_ullong count;
};

static const char *const wh_names[WH_OUTCOME_COUNT] = {
  "accepted", "bad_request", "unauthorized", "too_large",
  "unsupported_media_type", "method_not_allowed", "unavailable"
};
static const char *const handler_names[H_HANDLER_COUNT] = {
  "/webhook", "/api/v1/incidents", "/metrics", "/-/healthy", "/-/reload", "other"
};

static struct {
  atomic_ullong webhook[WH_OUTCOME_COUNT];
  atomic_ullong alerts[2][INGEST_OUTCOME_COUNT];
  atomic_ullong truncated;
  struct histo req[H_HANDLER_COUNT];
  struct histo commit;
  struct histo sync;
  atomic_ullong commit_jobs;
  atomic_ullong store_errors;
  atomic_ullong decisions[DEC_COUNT];
  atomic_ullong escalations;
  atomic_ullong queue_len;
  atomic_ullong body_held;
  atomic_ullong timers;
  atomic_ullong kube[5]; /* 2xx, 3xx, 4xx, 5xx, no answer */
  struct histo first_request;
  struct histo lateness;
  atomic_int reload_ok;
  atomic_llong reload_ts;
  double start_time;
} m;

void
metrics_init(void)
{
  memset(&m, 0, sizeof(m));
  m.sync.le = fine_bounds;
  atomic_store(&m.reload_ok, 1);
  atomic_store(&m.reload_ts, (long long)time(NULL));
  m.start_time = (double)time(NULL);
}

static void
observe(struct histo *h, int64_t ns)
{
  const double *le = h->le ? h->le : bounds;
  double s = (double)ns / 1e9;
  size_t i = 0;
  while (i < NB && s > le[i])
    i++;
  atomic_fetch_add(&h->bucket[i], 1);
  atomic_fetch_add(&h->sum_ns, (unsigned long long)(ns > 0 ? ns : 0));
  atomic_fetch_add(&h->count, 1);
}

void metrics_webhook(enum webhook_outcome o) { atomic_fetch_add(&m.webhook[o], 1); }
void metrics_truncated(int64_t n) { atomic_fetch_add(&m.truncated, (unsigned long long)n); }
void metrics_store_error(void) { atomic_fetch_add(&m.store_errors, 1); }
void metrics_request(enum http_handler h, int64_t ns) { observe(&m.req[h], ns); }

void
metrics_alerts(int resolved, enum ingest_outcome o, size_t n)
{
  atomic_fetch_add(&m.alerts[resolved ? 1 : 0][o], n);
}

static const char *const decision_names[DEC_COUNT] = {
  "matched", "no_plan", "refused", "coalesced", "silenced", "resolved"
};

/* Counters with free-form labels (plan, step kind, outcome): few distinct
 * values, so a small locked table; past its size new series are dropped. */
#define LABELED_MAX 512
struct labeled {
  char labels[256];
  unsigned long long n;
};
static struct {
  pthread_mutex_t mu;
  struct labeled steps[LABELED_MAX];
  size_t nsteps;
  struct labeled runs[16];
  size_t nruns;
  struct labeled pages[16];
  size_t npages;
} lm = { PTHREAD_MUTEX_INITIALIZER, { { "", 0 } }, 0, { { "", 0 } }, 0, { { "", 0 } }, 0 };

static void
labeled_inc(struct labeled *v, size_t *n, size_t max, const char *labels)
{
  pthread_mutex_lock(&lm.mu);
  for (size_t i = 0; i < *n; i++) {
    if (strcmp(v[i].labels, labels) == 0) {
      v[i].n++;
      pthread_mutex_unlock(&lm.mu);
      return;
    }
  }
  if (*n < max) {
    snprintf(v[*n].labels, sizeof(v[*n].labels), "%s", labels);
    v[(*n)++].n = 1;
  }
  pthread_mutex_unlock(&lm.mu);
}

/* Label values come from plan files (validated names) and fixed words, but
 * escape them anyway. */
static void
label_value(char *out, size_t n, const char *v)
{
  size_t o = 0;
  for (; *v && o + 3 < n; v++) {
    if (*v == '"' || *v == '\\')
      out[o++] = '\\';
    out[o++] = *v == '\n' ? ' ' : *v;
  }
  out[o] = '\0';
}

void
metrics_rem_step(const char *plan, const char *kind, const char *outcome)
{
  char p[128], k[64], o[32], labels[256];
  label_value(p, sizeof(p), plan);
  label_value(k, sizeof(k), kind);
  label_value(o, sizeof(o), outcome);
  snprintf(labels, sizeof(labels), "plan=\"%s\",kind=\"%s\",outcome=\"%s\"", p, k, o);
  labeled_inc(lm.steps, &lm.nsteps, LABELED_MAX, labels);
}

void
metrics_rem_run(const char *outcome)
{
  char o[32], labels[64];
  label_value(o, sizeof(o), outcome);
  snprintf(labels, sizeof(labels), "outcome=\"%s\"", o);
  labeled_inc(lm.runs, &lm.nruns, 16, labels);
}

void
metrics_page(const char *method, int sent)
{
  char mv[32], labels[96];
  label_value(mv, sizeof(mv), method);
  snprintf(labels, sizeof(labels), "method=\"%s\",outcome=\"%s\"", mv, sent ? "sent" : "failed");
  labeled_inc(lm.pages, &lm.npages, 16, labels);
}

static const char *const fwd_names[] = { "ok", "retry", "failed", "rejected", "dropped",
                                         "skipped" };
static atomic_ullong fwd_counts[RB_ARRAY_LEN(fwd_names)];

void
metrics_silence_forward(const char *outcome)
{
  for (size_t i = 0; i < RB_ARRAY_LEN(fwd_names); i++)
    if (strcmp(fwd_names[i], outcome) == 0)
      atomic_fetch_add(&fwd_counts[i], 1);
}

void metrics_timers(size_t pending) { atomic_store(&m.timers, pending); }
void metrics_timer_lateness(int64_t late_ms) { observe(&m.lateness, late_ms * 1000000); }

void metrics_rem_decision(enum rem_decision d) { atomic_fetch_add(&m.decisions[d], 1); }
void metrics_rem_escalation(void) { atomic_fetch_add(&m.escalations, 1); }
void metrics_rem_queue(size_t len) { atomic_store(&m.queue_len, len); }

int
metrics_body_hold(size_t n, size_t max)
{
  unsigned long long cur = atomic_load(&m.body_held);

  do {
    if (cur > max || n > max - cur)
      return -1;
  } while (!atomic_compare_exchange_weak(&m.body_held, &cur, cur + n));
  return 0;
}

void metrics_body_release(size_t n) { atomic_fetch_sub(&m.body_held, n); }
void metrics_rem_first_request(int64_t ns) { observe(&m.first_request, ns); }

void
metrics_kube_request(long status)
{
  int i = status >= 200 && status < 600 ? (int)(status / 100) - 2 : 4;
  atomic_fetch_add(&m.kube[i], 1);
}

static void
render_labeled(struct buf *b, const char *name, const struct labeled *v, size_t n)
{
  pthread_mutex_lock(&lm.mu);
  for (size_t i = 0; i < n; i++)
    buf_printf(b, "%s{%s} %llu\n", name, v[i].labels, v[i].n);
  pthread_mutex_unlock(&lm.mu);
}

void
metrics_commit(int64_t ns, size_t jobs)
{
  observe(&m.commit, ns);
  atomic_fetch_add(&m.commit_jobs, jobs);
}

void
metrics_sync(int64_t ns)
{
  observe(&m.sync, ns);
}

void
metrics_reload(int ok)
{
  atomic_store(&m.reload_ok, ok ? 1 : 0);
  if (ok)
    atomic_store(&m.reload_ts, (long long)time(NULL));
}

static void
render_histo(struct buf *b, const char *name, const char *labels,
             const struct histo *h)
{
  const double *le = h->le ? h->le : bounds;
  unsigned long long cum = 0;
  const char *sep = *labels ? "," : "";

  for (size_t i = 0; i <= NB; i++) {
    cum += atomic_load(&h->bucket[i]);
    if (i < NB)
      buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, le[i], cum);
    else
      buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, cum);
  }
  buf_printf(b, "%s_sum%s%s%s %.9f\n", name, *labels ? "{" : "", labels,
             *labels ? "}" : "", (double)atomic_load(&h->sum_ns) / 1e9);
  buf_printf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
             *labels ? "}" : "", cum);
}

static long
rss_bytes(void)
{
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
      rss = 0;
    fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

rb_status
metrics_render(struct buf *b, struct store *st)
{
  char labels[128];
  int64_t open[SEV_COUNT];

  buf_puts(b, "# HELP runbookd_build_info A metric with a constant '1' value labeled by version.\n"
              "# TYPE runbookd_build_info gauge\n");
  buf_printf(b, "runbookd_build_info{version=\"%s\"} 1\n", RUNBOOKD_VERSION);

  buf_puts(b, "# HELP runbookd_webhook_requests_total Webhook deliveries by outcome.\n"
              "# TYPE runbookd_webhook_requests_total counter\n");
  for (int i = 0; i < WH_OUTCOME_COUNT; i++)
    buf_printf(b, "runbookd_webhook_requests_total{outcome=\"%s\"} %llu\n", wh_names[i],
               atomic_load(&m.webhook[i]));

  buf_puts(b, "# HELP runbookd_alerts_total Alerts received, by status and what they did to incidents.\n"
              "# TYPE runbookd_alerts_total counter\n");
  for (int s = 0; s < 2; s++)
    for (int o = 0; o < INGEST_OUTCOME_COUNT; o++)
      buf_printf(b, "runbookd_alerts_total{status=\"%s\",result=\"%s\"} %llu\n",
                 s ? "resolved" : "firing", ingest_outcome_name((enum ingest_outcome)o),
                 atomic_load(&m.alerts[s][o]));

  buf_puts(b, "# HELP runbookd_alerts_truncated_total Alerts Alertmanager left out of notifications (truncatedAlerts).\n"
              "# TYPE runbookd_alerts_truncated_total counter\n");
  buf_printf(b, "runbookd_alerts_truncated_total %llu\n", atomic_load(&m.truncated));

  buf_puts(b, "# HELP runbookd_http_body_bytes_held Request body bytes held by requests in progress (limit: web.max_body_bytes_in_flight).\n"
              "# TYPE runbookd_http_body_bytes_held gauge\n");
  buf_printf(b, "runbookd_http_body_bytes_held %llu\n", atomic_load(&m.body_held));
  buf_puts(b, "# HELP runbookd_http_request_duration_seconds HTTP request latency by handler.\n"
              "# TYPE runbookd_http_request_duration_seconds histogram\n");
  for (int h = 0; h < H_HANDLER_COUNT; h++) {
    snprintf(labels, sizeof(labels), "handler=\"%s\"", handler_names[h]);
    render_histo(b, "runbookd_http_request_duration_seconds", labels, &m.req[h]);
  }

  if (st && store_open_counts(st, open) == RB_OK) {
    buf_puts(b, "# HELP runbookd_incidents_open Incidents not yet resolved, by severity.\n"
                "# TYPE runbookd_incidents_open gauge\n");
    for (int s = 0; s < SEV_COUNT; s++)
      buf_printf(b, "runbookd_incidents_open{severity=\"%s\"} %lld\n",
                 severity_name((enum severity)s), (long long)open[s]);
  }

  buf_puts(b, "# HELP runbookd_store_errors_total Store transactions that failed.\n"
              "# TYPE runbookd_store_errors_total counter\n");
  buf_printf(b, "runbookd_store_errors_total %llu\n", atomic_load(&m.store_errors));
  buf_puts(b, "# HELP runbookd_store_commit_duration_seconds Time of one group commit, fsync included.\n"
              "# TYPE runbookd_store_commit_duration_seconds histogram\n");
  render_histo(b, "runbookd_store_commit_duration_seconds", "", &m.commit);
  buf_puts(b, "# HELP runbookd_store_sync_duration_seconds Time of one flush of the store's log to disk (fdatasync of the SQLite WAL).\n"
              "# TYPE runbookd_store_sync_duration_seconds histogram\n");
  render_histo(b, "runbookd_store_sync_duration_seconds", "", &m.sync);
  buf_puts(b, "# HELP runbookd_store_committed_jobs_total Write jobs committed (several per commit under load).\n"
              "# TYPE runbookd_store_committed_jobs_total counter\n");
  buf_printf(b, "runbookd_store_committed_jobs_total %llu\n", atomic_load(&m.commit_jobs));

  buf_puts(b, "# HELP runbookd_remediation_decisions_total What remediation decided for alerts.\n"
              "# TYPE runbookd_remediation_decisions_total counter\n");
  for (int i = 0; i < DEC_COUNT; i++)
    buf_printf(b, "runbookd_remediation_decisions_total{decision=\"%s\"} %llu\n",
               decision_names[i], atomic_load(&m.decisions[i]));
  buf_puts(b, "# HELP runbookd_remediation_steps_total Remediation steps by plan, kind and outcome.\n"
              "# TYPE runbookd_remediation_steps_total counter\n");
  render_labeled(b, "runbookd_remediation_steps_total", lm.steps, lm.nsteps);
  buf_puts(b, "# HELP runbookd_remediation_runs_total Finished remediation runs by outcome.\n"
              "# TYPE runbookd_remediation_runs_total counter\n");
  render_labeled(b, "runbookd_remediation_runs_total", lm.runs, lm.nruns);
  buf_puts(b, "# HELP runbookd_remediation_escalations_total Refused, failed or unverified remediations handed to people.\n"
              "# TYPE runbookd_remediation_escalations_total counter\n");
  buf_printf(b, "runbookd_remediation_escalations_total %llu\n", atomic_load(&m.escalations));
  buf_puts(b, "# HELP runbookd_remediation_queue_length Remediation decisions waiting for a worker.\n"
              "# TYPE runbookd_remediation_queue_length gauge\n");
  buf_printf(b, "runbookd_remediation_queue_length %llu\n", atomic_load(&m.queue_len));
  buf_puts(b, "# HELP runbookd_remediation_first_request_seconds From webhook receipt to the first Kubernetes request of a remediation.\n"
              "# TYPE runbookd_remediation_first_request_seconds histogram\n");
  render_histo(b, "runbookd_remediation_first_request_seconds", "", &m.first_request);
  buf_puts(b, "# HELP runbookd_kube_requests_total Kubernetes API requests by status class.\n"
              "# TYPE runbookd_kube_requests_total counter\n");
  {
    static const char *const cls[] = { "2xx", "3xx", "4xx", "5xx", "error" };
    for (int i = 0; i < 5; i++)
      buf_printf(b, "runbookd_kube_requests_total{code=\"%s\"} %llu\n", cls[i],
                 atomic_load(&m.kube[i]));
  }

  buf_puts(b, "# HELP runbookd_pages_total Pages sent to people, by contact method and outcome.\n"
              "# TYPE runbookd_pages_total counter\n");
  render_labeled(b, "runbookd_pages_total", lm.pages, lm.npages);
  buf_puts(b, "# HELP runbookd_escalation_timers Escalation timers pending.\n"
              "# TYPE runbookd_escalation_timers gauge\n");
  buf_printf(b, "runbookd_escalation_timers %llu\n", atomic_load(&m.timers));
  buf_puts(b, "# HELP runbookd_escalation_timer_lateness_seconds How long after its due time an escalation timer fired.\n"
              "# TYPE runbookd_escalation_timer_lateness_seconds histogram\n");
  render_histo(b, "runbookd_escalation_timer_lateness_seconds", "", &m.lateness);

  buf_puts(b, "# HELP runbookd_silence_forward_total Silence changes sent to the upstream Alertmanager, by outcome.\n"
              "# TYPE runbookd_silence_forward_total counter\n");
  for (size_t i = 0; i < RB_ARRAY_LEN(fwd_names); i++)
    buf_printf(b, "runbookd_silence_forward_total{outcome=\"%s\"} %llu\n", fwd_names[i],
               atomic_load(&fwd_counts[i]));

  buf_puts(b, "# HELP runbookd_config_last_reload_successful Whether the last configuration reload attempt was successful.\n"
              "# TYPE runbookd_config_last_reload_successful gauge\n");
  buf_printf(b, "runbookd_config_last_reload_successful %d\n", atomic_load(&m.reload_ok));
  buf_puts(b, "# HELP runbookd_config_last_reload_success_timestamp_seconds Timestamp of the last successful configuration reload.\n"
              "# TYPE runbookd_config_last_reload_success_timestamp_seconds gauge\n");
  buf_printf(b, "runbookd_config_last_reload_success_timestamp_seconds %lld\n",
             atomic_load(&m.reload_ts));

  buf_puts(b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
              "# TYPE process_resident_memory_bytes gauge\n");
  buf_printf(b, "process_resident_memory_bytes %ld\n", rss_bytes());
  buf_puts(b, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
              "# TYPE process_start_time_seconds gauge\n");
  return buf_printf(b, "process_start_time_seconds %.0f\n", m.start_time);
}

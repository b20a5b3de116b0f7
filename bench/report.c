/*
 * report.c - benchmark: render the post-incident report of an incident
 * with 10,000 timeline events in each format (target: under 200 ms).
 *
 *   cmake -S . -B build-bench -DRUNBOOKD_BENCH=ON && cmake --build build-bench --target bench-report
 *   build-bench/bench/bench-report [EVENTS] [RUNS]
 *
 * The incident is written into a temporary SQLite store: one remediation
 * run whose steps each record a start (with its request) and an outcome,
 * pages and escalations, comments, acknowledgements.  Each format is
 * rendered RUNS times (default 7) through report_build(), the same call
 * the API and `runbookd report` make (store reads included); the median
 * and the worst CPU time of the calling thread are printed with the
 * output's size.
 */
#include "rbtime.h"
#include "report.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t n_events = 10000;
static int64_t t0;

static rb_status
fill(struct store *st, void *arg)
{
  struct incident inc;
  struct rem_run run;
  char d[1024];
  rb_status rc;
  int64_t i = 0, at = t0;

  (void)arg;
  memset(&inc, 0, sizeof(inc));
  snprintf(inc.fingerprint, sizeof(inc.fingerprint), "00000000bench001");
  inc.state = INC_RESOLVED;
  inc.severity = SEV_CRITICAL;
  inc.alertname = "HighCPUUsage";
  inc.namespace_ = "ran-optimization";
  inc.summary = "CPU above 90% for 5 minutes <bench>";
  inc.labels_json = "{\"alertname\":\"HighCPUUsage\",\"deployment\":\"cognitive-core\","
                    "\"namespace\":\"ran-optimization\",\"severity\":\"critical\"}";
  inc.annotations_json = "{\"summary\":\"CPU above 90% for 5 minutes <bench>\"}";
  inc.starts_at_ns = (t0 - 30000) * 1000000;
  inc.opened_ms = t0;
  inc.last_seen_ms = inc.resolved_ms = t0 + n_events * 1000;
  inc.ends_at_ns = (inc.resolved_ms - 500) * 1000000;
  inc.resolved_by = "alertmanager";
  inc.deliveries = n_events / 10;
  rc = store_w_insert_incident(st, &inc);
  if (rc)
    return rc;
  memset(&run, 0, sizeof(run));
  run.incident_id = inc.id;
  run.plan = "high-load";
  run.namespace_ = "ran-optimization";
  run.deployment = "cognitive-core";
  run.state = RUN_SUCCEEDED;
  run.phase = PHASE_DONE;
  run.outcome = "succeeded";
  run.started_ms = t0;
  run.updated_ms = run.finished_ms = t0 + n_events * 500;
  rc = store_w_run_insert(st, &run);
  if (!rc)
    rc = store_w_append_event(st, inc.id, at, "received", "alertmanager", "{\"receiver\":\"hook\"}");
  for (i = 1; i < n_events - 1 && !rc; i++) {
    const char *kind = "commented", *actor = "alice";
    int64_t step = i / 4;
    at = t0 + i * 1000;
    switch (i % 8) {
    case 0:
    case 4:
      kind = "step started";
      actor = "runbookd";
      snprintf(d, sizeof(d),
               "{\"run\":\"%lld\",\"plan\":\"high-load\",\"step\":\"scale-%lld\",\"kind\":\"scale\","
               "\"phase\":\"steps\",\"index\":%lld,\"namespace\":\"ran-optimization\","
               "\"deployment\":\"cognitive-core\",\"dryRun\":false,\"note\":\"\",\"requests\":"
               "[{\"method\":\"PATCH\",\"path\":\"/apis/apps/v1/namespaces/ran-optimization/"
               "deployments/cognitive-core/scale\",\"contentType\":\"application/merge-patch+json\","
               "\"body\":{\"spec\":{\"replicas\":5}}}]}",
               (long long)run.id, (long long)step, (long long)step);
      break;
    case 1:
    case 5:
      kind = i % 16 == 5 ? "step failed" : "step succeeded";
      actor = "runbookd";
      snprintf(d, sizeof(d),
               "{\"run\":\"%lld\",\"plan\":\"high-load\",\"step\":\"scale-%lld\",\"kind\":\"scale\","
               "\"phase\":\"steps\",\"index\":%lld,\"namespace\":\"ran-optimization\","
               "\"deployment\":\"cognitive-core\",\"dryRun\":false,\"responses\":[{\"method\":"
               "\"PATCH\",\"path\":\"/apis/apps/v1/namespaces/ran-optimization/deployments/"
               "cognitive-core/scale\",\"status\":%d,\"attempts\":1}]}",
               (long long)run.id, (long long)step, (long long)step, i % 16 == 5 ? 500 : 200);
      break;
    case 2:
      kind = i % 3 ? "paged" : "page failed";
      actor = "runbookd";
      snprintf(d, sizeof(d),
               "{\"contact\":\"L2 Support\",\"method\":\"slack\",\"event\":\"progress\",\"level\":%d,"
               "\"attempts\":1,\"status\":200,\"delivery\":\"d-%lld\",\"reason\":\"progress\","
               "\"detail\":\"ok\"}",
               (int)(i % 3), (long long)i);
      break;
    case 3:
      kind = "escalated";
      actor = "runbookd";
      snprintf(d, sizeof(d),
               "{\"severity\":\"critical\",\"level\":1,\"contact\":\"System Architect\",\"reason\":"
               "\"not acknowledged within 1h\"}");
      break;
    case 6:
      kind = i % 32 == 6 ? "acknowledged" : "unacknowledged";
      snprintf(d, sizeof(d), "{\"comment\":\"hand-over %lld <b>\"}", (long long)i);
      break;
    default:
      snprintf(d, sizeof(d), "{\"comment\":\"checked dashboards, no change (%lld) | *\"}", (long long)i);
    }
    rc = store_w_append_event(st, inc.id, at, kind, actor, d);
  }
  if (!rc)
    rc = store_w_append_event(st, inc.id, inc.resolved_ms, "resolved", "alertmanager", "{}");
  return rc;
}

/* CPU time of this thread: the figure does not depend on what else the
 * machine runs (wall time on an idle machine is within a few percent). */
static int64_t
cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
  static const char *const names[] = { "md", "html", "json" };
  struct store_options o;
  struct store *st;
  char dir[] = "/tmp/rbbenchXXXXXX", err[RB_ERRLEN], cmd[64];
  int runs = argc > 2 ? atoi(argv[2]) : 7, fail = 0;

  if (argc > 1)
    n_events = atoll(argv[1]);
  if (n_events < 10 || runs < 1 || runs > 100 || !mkdtemp(dir)) {
    fprintf(stderr, "usage: bench-report [EVENTS>=10] [RUNS 1..100]\n");
    return 2;
  }
  t0 = 1796083200000LL; /* 2026-12-01T00:00:00Z */
  memset(&o, 0, sizeof(o));
  o.sqlite_dir = dir;
  if (store_open(&o, &st, err) != RB_OK || store_submit(st, fill, NULL) != RB_OK) {
    fprintf(stderr, "bench-report: cannot build the store: %s\n", err);
    return 1;
  }
  printf("incident with %lld timeline events, %d runs per format\n", (long long)n_events, runs);
  {
    /* The part every format shares: reading and deriving. */
    double ms[100];
    for (int r = 0; r < runs; r++) {
      struct report *rep = NULL;
      int64_t a = cpu_ns();
      if (report_load(st, 1, t0, &rep) != RB_OK)
        return 1;
      ms[r] = (double)(cpu_ns() - a) / 1e6;
      report_free(rep);
    }
    qsort(ms, (size_t)runs, sizeof(ms[0]), cmp);
    printf("load  median %7.1f ms  (store reads, JSON details parsed, steps and pages derived)\n",
           ms[runs / 2]);
  }
  for (int f = 0; f < REPORT_FORMAT_COUNT; f++) {
    double ms[100];
    size_t bytes = 0;
    for (int r = 0; r < runs; r++) {
      struct buf b;
      int64_t a;
      buf_init(&b, 0);
      a = cpu_ns();
      if (report_build(st, 1, (enum report_format)f, t0, &b) != RB_OK) {
        fprintf(stderr, "bench-report: %s failed\n", names[f]);
        return 1;
      }
      ms[r] = (double)(cpu_ns() - a) / 1e6;
      bytes = b.len;
      buf_free(&b);
    }
    qsort(ms, (size_t)runs, sizeof(ms[0]), cmp);
    printf("%-5s median %7.1f ms  worst %7.1f ms  %8zu bytes  %s\n", names[f], ms[runs / 2],
           ms[runs - 1], bytes, ms[runs / 2] < 200 ? "ok (< 200 ms)" : "OVER 200 ms");
    fail |= ms[runs / 2] >= 200;
  }
  store_close(st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "bench-report: could not remove %s\n", dir);
  return fail;
}

/* Unit tests for the statistics (src/report/stats.c and the store's
 * stats reads): a crafted set of incidents and runs with fixed times, and
 * every figure checked against values computed by hand below (see
 * docs/reports.md for the definitions).
 *
 * Window: 2026-12-01T00:00Z to 2026-12-02T00:00Z (86,400 s); now is
 * 2026-12-02T01:00Z.
 *
 *  I1 api   critical A  n1  startsAt 01:00:00, received 01:01:00, ack 01:03:00 (alice),
 *                          endsAt 02:00:00, resolved by alertmanager 02:01:00
 *                          TTD 60 s, TTA 120 s, TTR 3,600 s
 *  I2 api   emergency B n1  startsAt 01:30:00, received 01:30:20, no ack,
 *                          endsAt 03:00:00, resolved by alertmanager 03:00:30
 *                          TTD 20 s, TTR 5,400 s; resolved without a human
 *  I3 Web   high      Web n2 (no deployment label) startsAt 05:00:00, received 05:00:10,
 *                          resolved by bob 05:10:10 without an ack
 *                          TTD 10 s, TTA 600 s (the resolve), TTR 610 s
 *  I4 db    critical  A n2  startsAt 23:00:00, received 23:00:40, still open
 *                          TTD 40 s; down 23:00 to the window's end: 3,600 s
 *  I5 api   critical  A n1  received the day before (not counted), startsAt
 *                          Nov 30 22:50, endsAt 00:30:00: down 00:00-00:30 in the window
 *  I6 cache low       C n1  first seen resolved at 10:30:00 (startsAt 10:00, endsAt 10:20)
 *                          no TTD, TTR 1,200 s; resolved without a human
 *
 *  MTTD: 10, 20, 40, 60 -> mean 32.5, median 30, p90 60
 *  MTTA: 120, 600 -> mean 360, median 360, p90 600
 *  MTTR: 610, 1200, 3600, 5400 -> mean 2702.5, median 2400, p90 5400
 *  Resolved without a human: I2, I6 of 4 resolved -> 0.5
 *  api down: [00:00,00:30] u [01:00,02:00] u [01:30,03:00] = 1,800 + 7,200 = 9,000 s
 *            availability 1 - 9000/86400 = 0.895833
 *  db: 1 - 3600/86400 = 0.958333; Web and cache: 1
 *  Runs started in the window: succeeded 2, failed 1, unverified 1, dry-run 1,
 *  running 1 (and one before the window) -> success rate 2/4 = 0.5
 */
#include "rbtime.h"
#include "stats.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char dir[64];
static struct store *st;
static int64_t base; /* 2026-12-01T00:00:00Z */

static int64_t
T(int h, int m, int s)
{
  return base + ((int64_t)h * 3600 + m * 60 + s) * 1000;
}

struct fx {
  const char *alertname, *ns, *deployment, *resolved_by, *person, *person_kind;
  enum severity sev;
  int64_t starts, received, ends, resolved, person_at;
};

static rb_status
add(struct store *s, const struct fx *f)
{
  struct incident inc;
  char labels[256];
  rb_status rc;

  memset(&inc, 0, sizeof(inc));
  snprintf(inc.fingerprint, sizeof(inc.fingerprint), "%016llx", (unsigned long long)f->received);
  inc.state = f->resolved ? INC_RESOLVED : INC_OPEN;
  inc.severity = f->sev;
  inc.alertname = (char *)(uintptr_t)f->alertname;
  inc.namespace_ = (char *)(uintptr_t)f->ns;
  snprintf(labels, sizeof(labels), "{\"alertname\":\"%s\"%s%s%s}", f->alertname,
           f->deployment ? ",\"deployment\":\"" : "", f->deployment ? f->deployment : "",
           f->deployment ? "\"" : "");
  inc.labels_json = labels;
  inc.annotations_json = "{}";
  inc.starts_at_ns = f->starts * 1000000;
  inc.ends_at_ns = f->ends * 1000000;
  inc.opened_ms = inc.last_seen_ms = f->received;
  inc.resolved_ms = f->resolved;
  inc.resolved_by = (char *)(uintptr_t)f->resolved_by;
  inc.deliveries = 1;
  rc = store_w_insert_incident(s, &inc);
  if (!rc)
    rc = store_w_append_event(s, inc.id, f->received, "received", "alertmanager", "{}");
  if (!rc && f->person)
    rc = store_w_append_event(s, inc.id, f->person_at, f->person_kind, f->person, "{}");
  if (!rc && f->resolved && f->resolved_by && strcmp(f->resolved_by, "alertmanager") == 0)
    rc = store_w_append_event(s, inc.id, f->resolved, "resolved", "alertmanager", "{}");
  return rc;
}

static rb_status
add_run(struct store *s, int64_t incident, enum run_state state, const char *outcome, int dry,
        int64_t started)
{
  struct rem_run r;
  memset(&r, 0, sizeof(r));
  r.incident_id = incident;
  r.plan = "p";
  r.namespace_ = "n1";
  r.deployment = "api";
  r.state = state;
  r.phase = state == RUN_RUNNING ? PHASE_STEPS : PHASE_DONE;
  r.dry_run = dry;
  r.outcome = (char *)(uintptr_t)outcome;
  r.started_ms = r.updated_ms = started;
  r.finished_ms = state == RUN_RUNNING ? 0 : started + 1000;
  return store_w_run_insert(s, &r);
}

static rb_status
fixture(struct store *s, void *arg)
{
  const int64_t day = 86400000;
  const struct fx v[] = {
    { "A", "n1", "api", "alertmanager", "alice", "acknowledged", SEV_CRITICAL, T(1, 0, 0),
      T(1, 1, 0), T(2, 0, 0), T(2, 1, 0), T(1, 3, 0) },
    { "B", "n1", "api", "alertmanager", NULL, NULL, SEV_EMERGENCY, T(1, 30, 0), T(1, 30, 20),
      T(3, 0, 0), T(3, 0, 30), 0 },
    { "Web", "n2", NULL, "bob", "bob", "resolved", SEV_HIGH, T(5, 0, 0), T(5, 0, 10), 0,
      T(5, 10, 10), T(5, 10, 10) },
    { "A", "n2", "db", NULL, NULL, NULL, SEV_CRITICAL, T(23, 0, 0), T(23, 0, 40), 0, 0, 0 },
    { "A", "n1", "api", "alertmanager", NULL, NULL, SEV_CRITICAL, T(22, 50, 0) - day,
      T(23, 0, 0) - day, T(0, 30, 0), T(0, 31, 0), 0 },
    { "C", "n1", "cache", "alertmanager", NULL, NULL, SEV_LOW, T(10, 0, 0), T(10, 30, 0),
      T(10, 20, 0), T(10, 30, 0), 0 },
  };
  rb_status rc = RB_OK;

  (void)arg;
  for (size_t i = 0; i < RB_ARRAY_LEN(v) && !rc; i++)
    rc = add(s, &v[i]);
  if (!rc)
    rc = add_run(s, 1, RUN_SUCCEEDED, "succeeded", 0, T(1, 2, 0));
  if (!rc)
    rc = add_run(s, 2, RUN_SUCCEEDED, "succeeded", 0, T(1, 31, 0));
  if (!rc)
    rc = add_run(s, 2, RUN_FAILED, "failed", 0, T(1, 40, 0));
  if (!rc)
    rc = add_run(s, 3, RUN_FAILED, "unverified", 0, T(5, 1, 0));
  if (!rc)
    rc = add_run(s, 4, RUN_SUCCEEDED, "dry_run", 1, T(23, 1, 0));
  if (!rc)
    rc = add_run(s, 4, RUN_RUNNING, NULL, 0, T(23, 2, 0));
  if (!rc)
    rc = add_run(s, 5, RUN_SUCCEEDED, "succeeded", 0, T(23, 10, 0) - day);
  return rc;
}

static void
setup(void)
{
  struct store_options o = { .sqlite_dir = dir };
  char err[RB_ERRLEN];
  int64_t ns;

  snprintf(dir, sizeof(dir), "/tmp/rbstatXXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  cr_assert_eq(rb_time_parse_ns("2026-12-01T00:00:00Z", &ns), RB_OK);
  base = ns / 1000000;
  cr_assert_eq(store_open(&o, &st, err), RB_OK, "%s", err);
  cr_assert_eq(store_submit(st, fixture, NULL), RB_OK);
}

static void
teardown(void)
{
  char cmd[128];
  store_close(st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
}

TestSuite(stats, .init = setup, .fini = teardown);

#define NEAR(a, b) cr_assert(fabs((double)(a) - (double)(b)) < 1e-6, "%f != %f", (double)(a), (double)(b))

Test(stats, hand_computed_figures)
{
  struct stats s;

  cr_assert_eq(stats_compute(st, T(0, 0, 0), T(24, 0, 0), T(25, 0, 0), &s), RB_OK);
  cr_assert_eq(s.incidents, 5);
  cr_assert_eq(s.resolved, 4);
  cr_assert_eq(s.open, 1);

  cr_assert_eq(s.mttd.n, 4);
  NEAR(s.mttd.mean_ms, 32500);
  NEAR(s.mttd.median_ms, 30000);
  NEAR(s.mttd.p90_ms, 60000);
  cr_assert_eq(s.mtta.n, 2);
  NEAR(s.mtta.mean_ms, 360000);
  NEAR(s.mtta.median_ms, 360000);
  NEAR(s.mtta.p90_ms, 600000);
  cr_assert_eq(s.mttr.n, 4);
  NEAR(s.mttr.mean_ms, 2702500);
  NEAR(s.mttr.median_ms, 2400000);
  NEAR(s.mttr.p90_ms, 5400000);

  cr_assert_eq(s.auto_resolved, 2);
  NEAR(s.auto_share, 0.5);

  cr_assert_eq(s.runs.started, 6);
  cr_assert_eq(s.runs.succeeded, 2);
  cr_assert_eq(s.runs.failed, 1);
  cr_assert_eq(s.runs.unverified, 1);
  cr_assert_eq(s.runs.dry_run, 1);
  cr_assert_eq(s.runs.running, 1);
  NEAR(s.success_rate, 0.5);

  /* Frequencies. */
  cr_assert_eq(s.n_by[STATS_BY_ALERTNAME], 4);
  cr_assert_str_eq(s.by[STATS_BY_ALERTNAME][0].value, "A");
  cr_assert_eq(s.by[STATS_BY_ALERTNAME][0].count, 2);
  cr_assert_str_eq(s.by[STATS_BY_ALERTNAME][3].value, "Web");
  cr_assert_eq(s.n_by[STATS_BY_SEVERITY], 4);
  cr_assert_str_eq(s.by[STATS_BY_SEVERITY][0].value, "emergency");
  cr_assert_eq(s.by[STATS_BY_SEVERITY][0].count, 1);
  cr_assert_str_eq(s.by[STATS_BY_SEVERITY][1].value, "critical");
  cr_assert_eq(s.by[STATS_BY_SEVERITY][1].count, 2);
  cr_assert_str_eq(s.by[STATS_BY_SEVERITY][3].value, "low");
  cr_assert_eq(s.n_by[STATS_BY_NAMESPACE], 2);
  cr_assert_str_eq(s.by[STATS_BY_NAMESPACE][0].value, "n1");
  cr_assert_eq(s.by[STATS_BY_NAMESPACE][0].count, 3);
  cr_assert_eq(s.by[STATS_BY_NAMESPACE][1].count, 2);

  /* Availability, worst first. */
  cr_assert_eq(s.n_services, 4);
  cr_assert_str_eq(s.services[0].service, "api");
  cr_assert_eq(s.services[0].down_ms, 9000000);
  cr_assert_eq(s.services[0].incidents, 2);
  NEAR(s.services[0].availability, 1.0 - 9000.0 / 86400.0);
  cr_assert_str_eq(s.services[1].service, "db");
  cr_assert_eq(s.services[1].down_ms, 3600000);
  NEAR(s.services[1].availability, 1.0 - 3600.0 / 86400.0);
  cr_assert_str_eq(s.services[2].service, "Web");
  NEAR(s.services[2].availability, 1.0);
  cr_assert_str_eq(s.services[3].service, "cache");
  stats_clear(&s);
}

Test(stats, json_answer)
{
  struct stats s;
  struct buf b;
  cJSON *o, *a;

  cr_assert_eq(stats_compute(st, T(0, 0, 0), T(24, 0, 0), T(25, 0, 0), &s), RB_OK);
  buf_init(&b, 0);
  cr_assert_eq(stats_to_json(&s, &b), RB_OK);
  o = cJSON_Parse(b.data);
  cr_assert_not_null(o, "%s", b.data);
  cr_assert_str_eq(cJSON_GetObjectItem(o, "from")->valuestring, "2026-12-01T00:00:00.000Z");
  NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "mttd"), "meanSeconds")->valuedouble, 32.5);
  NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "mttr"), "medianSeconds")->valuedouble, 2400);
  NEAR(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "remediation"), "successRate")->valuedouble, 0.5);
  a = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "availability"), 0);
  cr_assert_str_eq(cJSON_GetObjectItem(a, "service")->valuestring, "api");
  NEAR(cJSON_GetObjectItem(a, "downSeconds")->valuedouble, 9000);
  NEAR(cJSON_GetObjectItem(a, "availability")->valuedouble, 0.895833);
  cJSON_Delete(o);
  buf_reset(&b);
  cr_assert_eq(stats_to_text(&s, &b), RB_OK);
  cr_assert(strstr(b.data, "89.58333%"), "%s", b.data);
  buf_free(&b);
  stats_clear(&s);
}

Test(stats, empty_window_has_no_figures)
{
  struct stats s;
  struct buf b;

  cr_assert_eq(stats_compute(st, T(0, 0, 0) - 7 * 86400000LL, T(0, 0, 0) - 6 * 86400000LL,
                             T(25, 0, 0), &s), RB_OK);
  cr_assert_eq(s.incidents, 0);
  cr_assert_eq(s.mttd.n, 0);
  cr_assert(s.mttd.mean_ms < 0);
  cr_assert(s.success_rate < 0);
  cr_assert(s.auto_share < 0);
  buf_init(&b, 0);
  cr_assert_eq(stats_to_json(&s, &b), RB_OK);
  cr_assert(strstr(b.data, "\"meanSeconds\":null"));
  cr_assert(strstr(b.data, "\"successRate\":null"));
  buf_free(&b);
  stats_clear(&s);
  cr_assert_eq(stats_compute(st, T(1, 0, 0), T(1, 0, 0), T(2, 0, 0), &s), RB_EINVAL);
}

Test(stats, union_of_spans)
{
  struct stats_span v[] = {
    { 50, 70 }, { 0, 10 }, { 5, 20 }, { 30, 40 }, { 35, 38 }, { 90, 200 }, { -10, -5 },
  };
  cr_assert_eq(stats_union_ms(v, RB_ARRAY_LEN(v), 0, 100), 20 + 10 + 20 + 10);
  cr_assert_eq(stats_union_ms(v, 0, 0, 100), 0);
  {
    struct stats_span w[] = { { 0, 100 }, { 10, 20 } };
    cr_assert_eq(stats_union_ms(w, 2, 25, 50), 25);
  }
}

Test(stats, distributions)
{
  int64_t a[] = { 5, 1, 3, 2, 4 };
  int64_t b[] = { 7 };
  int64_t c[] = { 10, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  struct stats_dist d;

  stats_dist_compute(a, 5, &d);
  NEAR(d.mean_ms, 3);
  NEAR(d.median_ms, 3);
  NEAR(d.p90_ms, 5);
  stats_dist_compute(b, 1, &d);
  NEAR(d.median_ms, 7);
  NEAR(d.p90_ms, 7);
  stats_dist_compute(c, 10, &d);
  NEAR(d.median_ms, 5.5);
  NEAR(d.p90_ms, 9);
}

Test(stats, window_bounds)
{
  int64_t ms;
  cr_assert_eq(stats_parse_time("1796083200", &ms), RB_OK);
  cr_assert_eq(ms, 1796083200000LL);
  cr_assert_eq(stats_parse_time("1796083200.5", &ms), RB_OK);
  cr_assert_eq(ms, 1796083200500LL);
  cr_assert_eq(stats_parse_time("2026-12-01T00:00:00Z", &ms), RB_OK);
  cr_assert_eq(ms, base);
  cr_assert_eq(stats_parse_time("2026-12-01T01:00:00+01:00", &ms), RB_OK);
  cr_assert_eq(ms, base);
  cr_assert_eq(stats_parse_time("yesterday", &ms), RB_EINVAL);
  cr_assert_eq(stats_parse_time("", &ms), RB_EINVAL);
  cr_assert_eq(stats_parse_time("-5", &ms), RB_EINVAL);
  cr_assert_eq(stats_parse_time("1.2.3", &ms), RB_EINVAL);
}

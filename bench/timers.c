/*
 * bench/timers.c - escalation timers at scale (issue 4, "Benchmark").
 *
 *   1. a temporary SQLite store gets N open incidents, each with an
 *      escalation row (inserted through the store API, batches of 1000 per
 *      job); FIRE of them are due spread over SPREAD_MS starting LEAD_MS
 *      after the pager has started, the others an hour later;
 *   2. VmRSS before and after pager_start(), and how long pager_start()
 *      takes to reload the timers (target < 1 s);
 *   3. the pager runs on the wall clock with its own timer thread; each
 *      fired timer pages one contact whose only method is a webhook on a
 *      closed loopback port (retries 0), so sending costs almost nothing;
 *   4. lateness of each fired timer = the page's created_ms (the decision's
 *      time, committed with the page) - its due time, read back from the
 *      store; p50/p90/p99/max (target p99 < 100 ms), and the pager's own
 *      runbookd_escalation_timer_lateness_seconds histogram (metrics_render).
 *
 * Usage: timers [N [FIRE [SPREAD_MS]]]   (defaults 100000 15000 4000)
 * Environment: BENCH_TMPDIR (default /tmp; use a real disk), KEEP_TMP=1.
 * Prints one table; exit 0 when it ran (the targets are reported, not
 * enforced).
 */
#include "buf.h"
#include "config.h"
#include "escalation.h"
#include "incident.h"
#include "log.h"
#include "metrics.h"
#include "pager.h"
#include "rbtime.h"
#include "store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LEAD_MS 5000 /* from the rewrite to the first due time: pager_start runs meanwhile */
#define BATCH 1000

static long
rss_kb(void)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = 0;
  if (!f)
    return 0;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0)
      kb = atol(line + 6);
  fclose(f);
  return kb;
}

static double
mono_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
closed_port(void)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t al = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &al);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

struct fill {
  size_t from, to;
  int64_t *due;   /* by index; filled with the incident ids in ids */
  int64_t *ids;
  int64_t now;
};

static rb_status
fill_fn(struct store *st, void *arg)
{
  struct fill *f = arg;
  for (size_t i = f->from; i < f->to; i++) {
    struct incident inc;
    struct esc_state s;
    char labels[160], name[48];
    rb_status rc;

    memset(&inc, 0, sizeof(inc));
    snprintf(inc.fingerprint, sizeof(inc.fingerprint), "%016zx", i + 1);
    snprintf(name, sizeof(name), "BenchAlert%zu", i);
    snprintf(labels, sizeof(labels),
             "{\"alertname\":\"%s\",\"namespace\":\"bench\",\"severity\":\"critical\"}", name);
    inc.state = INC_OPEN;
    inc.severity = SEV_CRITICAL;
    inc.alertname = name;
    inc.namespace_ = (char *)"bench";
    inc.summary = (char *)"benchmark";
    inc.labels_json = labels;
    inc.annotations_json = (char *)"{}";
    inc.starts_at_ns = f->now * 1000000;
    inc.opened_ms = inc.last_seen_ms = f->now;
    inc.deliveries = 1;
    rc = store_w_insert_incident(st, &inc);
    if (rc)
      return rc;
    f->ids[i] = inc.id;
    memset(&s, 0, sizeof(s));
    s.incident_id = inc.id;
    s.severity = SEV_CRITICAL;
    s.phase = ESC_ACTIVE;
    s.level = -1;
    s.opened_ms = f->now;
    s.level_due_ms = f->due[i];
    rc = store_w_esc_put(st, &s, f->due[i]);
    if (rc)
      return rc;
  }
  return RB_OK;
}

struct rewrite {
  size_t k0, k1, step;
  const int64_t *due, *ids;
  int64_t now;
};

/* Moves the firing set's escalations to their due times in the window. */
static rb_status
rewrite_fn(struct store *st, void *arg)
{
  struct rewrite *r = arg;
  for (size_t k = r->k0; k < r->k1; k++) {
    size_t i = k * r->step;
    struct esc_state s;
    rb_status rc;
    memset(&s, 0, sizeof(s));
    s.incident_id = r->ids[i];
    s.severity = SEV_CRITICAL;
    s.phase = ESC_ACTIVE;
    s.level = -1;
    s.opened_ms = r->now;
    s.level_due_ms = r->due[i];
    rc = store_w_esc_put(st, &s, r->due[i]);
    if (rc)
      return rc;
  }
  return RB_OK;
}

static int
cmp64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t
pct(const int64_t *v, size_t n, double p)
{
  size_t i;
  if (!n)
    return 0;
  i = (size_t)(p * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

/* p-quantile of the lateness histogram, as its bucket's upper bound. */
static const char *
histo_quantile(const char *text, double q, char *out, size_t len)
{
  static const char *const les[] = { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                     "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf" };
  double counts[16] = { 0 }, total = 0;
  char key[160];
  size_t n = sizeof(les) / sizeof(les[0]);
  for (size_t i = 0; i < n; i++) {
    const char *p;
    snprintf(key, sizeof(key), "runbookd_escalation_timer_lateness_seconds_bucket{le=\"%s\"} ",
             les[i]);
    p = strstr(text, key);
    counts[i] = p ? atof(p + strlen(key)) : 0;
  }
  total = counts[n - 1];
  for (size_t i = 0; i < n; i++)
    if (total > 0 && counts[i] >= q * total) {
      snprintf(out, len, "<= %s s", les[i]);
      return out;
    }
  snprintf(out, len, "n/a");
  return out;
}

int
main(int argc, char **argv)
{
  size_t N = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
  size_t FIRE = argc > 2 ? strtoul(argv[2], NULL, 10) : 15000;
  int64_t SPREAD = argc > 3 ? strtoll(argv[3], NULL, 10) : 4000;
  const char *tmp = getenv("BENCH_TMPDIR") ? getenv("BENCH_TMPDIR") : "/tmp";
  char dir[512], cfg[600], json[2048], err[RB_ERRLEN] = "", dbpath[600];
  struct store_options so;
  struct store *st = NULL;
  struct pager *pg = NULL;
  struct pager_options po;
  struct esc_policy *pol;
  struct config_errors errs;
  int64_t *due, *ids, *late, base, now;
  long rss0, rss_store, rss_before, rss_after, rss_fired;
  double t, t_fill, t_start, t_fire;
  size_t fired = 0, nlate = 0;
  sqlite3 *db;
  struct buf m;
  char q99[32], q50[32];

  if (FIRE > N)
    FIRE = N;
  log_setup(LOG_ERROR, 0); /* a closed port: every page fails, by design */
  metrics_init();
  snprintf(dir, sizeof(dir), "%s/rbtimersXXXXXX", tmp);
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  rss0 = rss_kb();
  memset(&so, 0, sizeof(so));
  so.sqlite_dir = dir;
  if (store_open(&so, &st, err) != RB_OK) {
    fprintf(stderr, "store_open: %s\n", err);
    return 1;
  }

  /* 1. the rows.  Due times are placeholders now and set for real below
   * (a second pass), so the firing window starts after pager_start. */
  due = calloc(N, sizeof(*due));
  ids = calloc(N, sizeof(*ids));
  late = calloc(FIRE ? FIRE : 1, sizeof(*late));
  now = rb_wall_ms();
  t = mono_s();
  /* Estimate: filling + starting take a while; the firing window's base
   * is fixed after pager_start (below) by rewriting FIRE rows. */
  for (size_t i = 0; i < N; i++)
    due[i] = now + 3600 * 1000 + (int64_t)(i % 1000);
  for (size_t from = 0; from < N; from += BATCH) {
    struct fill f = { from, from + BATCH < N ? from + BATCH : N, due, ids, now };
    if (store_submit(st, fill_fn, &f) != RB_OK) {
      fprintf(stderr, "fill failed at %zu\n", from);
      return 1;
    }
  }
  t_fill = mono_s() - t;
  rss_store = rss_kb();

  /* The firing set: every (N/FIRE)-th incident gets a due time in
   * [base, base + SPREAD), base a little after pager_start will be done. */
  base = rb_wall_ms() + LEAD_MS;
  {
    size_t step = FIRE ? N / FIRE : 1;
    for (size_t k = 0; k < FIRE; k++)
      due[k * step] = base + (int64_t)((double)SPREAD * (double)k / (double)FIRE);
    for (size_t k0 = 0; k0 < FIRE; k0 += BATCH) {
      struct rewrite rw = { k0, k0 + BATCH < FIRE ? k0 + BATCH : FIRE, step, due, ids, now };
      if (store_submit(st, rewrite_fn, &rw) != RB_OK) {
        fprintf(stderr, "rewrite failed\n");
        return 1;
      }
    }
  }

  snprintf(cfg, sizeof(cfg), "%s/runbookd.json", dir);
  {
    FILE *f;
    char hp[600];
    snprintf(hp, sizeof(hp), "%s/hmac", dir);
    f = fopen(hp, "w");
    fputs("bench-hmac\n", f);
    fclose(f);
  }
  snprintf(json, sizeof(json),
           "{\"progress_interval_seconds\":0,\"multi_component\":{\"deployments\":0},"
           "\"policy\":{\"emergency\":{\"path\":[\"x\"],\"methods\":[\"webhook\"]},"
           "\"critical\":{\"path\":[\"x\"],\"methods\":[\"webhook\"]},"
           "\"high\":{\"path\":[\"x\"],\"methods\":[\"webhook\"]},"
           "\"medium\":{\"path\":[\"x\"],\"methods\":[\"webhook\"]},"
           "\"low\":{\"path\":[\"x\"],\"methods\":[\"webhook\"]}},"
           "\"contacts\":{\"x\":{\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook\","
           "\"secret_file\":\"hmac\"}}},"
           "\"notifiers\":{\"timeout_seconds\":1,\"retries\":0,\"backoff_ms\":1}}",
           closed_port());
  config_errors_init(&errs);
  pol = esc_policy_load(json, cfg, &errs);
  if (!pol) {
    fprintf(stderr, "policy: %s: %s\n", errs.head->where, errs.head->what);
    return 1;
  }
  config_errors_free(&errs);

  /* 2. reload */
  memset(&po, 0, sizeof(po));
  po.store = st;
  po.workers = 4;
  rss_before = rss_kb();
  t = mono_s();
  if (pager_start(&po, pol, &pg, err) != RB_OK) {
    fprintf(stderr, "pager_start: %s\n", err);
    return 1;
  }
  t_start = mono_s() - t;
  rss_after = rss_kb();
  if (rb_wall_ms() > base)
    fprintf(stderr, "warning: pager_start ended after the first due time\n");

  /* 3. firing: wait (bounded) until every firing timer made its page */
  snprintf(dbpath, sizeof(dbpath), "%s/runbookd.db", dir);
  if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "cannot open %s\n", dbpath);
    return 1;
  }
  sqlite3_busy_timeout(db, 2000);
  t = mono_s();
  for (;;) {
    sqlite3_stmt *q;
    int64_t deadline = base + SPREAD + 120000;
    fired = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pages", -1, &q, NULL) == SQLITE_OK) {
      if (sqlite3_step(q) == SQLITE_ROW)
        fired = (size_t)sqlite3_column_int64(q, 0);
      sqlite3_finalize(q);
    }
    if (fired >= FIRE || rb_wall_ms() > deadline)
      break;
    usleep(50 * 1000);
  }
  t_fire = mono_s() - t;
  rss_fired = rss_kb();

  /* 4. lateness, from the pages' created_ms */
  {
    sqlite3_stmt *q;
    /* map incident id -> due: ids are 1..N in insertion order */
    if (sqlite3_prepare_v2(db, "SELECT incident_id, min(created_ms) FROM pages GROUP BY incident_id",
                           -1, &q, NULL) == SQLITE_OK) {
      while (sqlite3_step(q) == SQLITE_ROW && nlate < FIRE) {
        int64_t iid = sqlite3_column_int64(q, 0), created = sqlite3_column_int64(q, 1);
        size_t i = (size_t)(iid - ids[0]);
        if (i < N && ids[i] == iid)
          late[nlate++] = created - due[i];
      }
      sqlite3_finalize(q);
    }
  }
  qsort(late, nlate, sizeof(*late), cmp64);
  buf_init(&m, 0);
  metrics_render(&m, NULL);
  histo_quantile(m.data ? m.data : "", 0.99, q99, sizeof(q99));
  histo_quantile(m.data ? m.data : "", 0.50, q50, sizeof(q50));

  printf("escalation timers benchmark (bench/timers.c): store %s\n", dir);
  printf("%-52s %s\n", "measure", "value");
  printf("%-52s %zu\n", "pending timers (escalation rows)", N);
  printf("%-52s %.2f s\n", "filling the store (API, 1000 rows a job)", t_fill);
  printf("%-52s %ld MB\n", "VmRSS at start", rss0 / 1024);
  printf("%-52s %ld MB\n", "VmRSS after filling the store", rss_store / 1024);
  printf("%-52s %ld MB\n", "VmRSS before pager_start", rss_before / 1024);
  printf("%-52s %ld MB (+%.1f MB)\n", "VmRSS after pager_start (timers loaded)",
         rss_after / 1024, (double)(rss_after - rss_before) / 1024.0);
  printf("%-52s %zu\n", "timers in the heap after start", pager_pending(pg));
  printf("%-52s %.3f s  (target < 1 s: %s)\n", "pager_start reload time", t_start,
         t_start < 1.0 ? "met" : "MISSED");
  printf("%-52s %zu over %lld ms (%.0f/s)\n", "timers due in the firing window", FIRE,
         (long long)SPREAD, (double)FIRE * 1000.0 / (double)(SPREAD ? SPREAD : 1));
  printf("%-52s %zu of %zu (waited %.1f s)\n", "fired (pages made)", fired, FIRE, t_fire);
  if (nlate) {
    printf("%-52s p50 %lld ms, p90 %lld ms, p99 %lld ms, max %lld ms\n",
           "lateness (page created - due, measured)", (long long)pct(late, nlate, 0.5),
           (long long)pct(late, nlate, 0.9), (long long)pct(late, nlate, 0.99),
           (long long)late[nlate - 1]);
    printf("%-52s %s\n", "p99 target < 100 ms", pct(late, nlate, 0.99) < 100 ? "met" : "MISSED");
  }
  printf("%-52s p50 %s, p99 %s\n", "lateness histogram (runbookd_escalation_timer_...)", q50,
         q99);
  printf("%-52s %ld MB\n", "VmRSS after firing", rss_fired / 1024);
  fflush(stdout);

  buf_free(&m);
  sqlite3_close(db);
  pager_stop(pg);
  store_close(st);
  if (!getenv("KEEP_TMP") || strcmp(getenv("KEEP_TMP"), "1") != 0) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", dir);
  }
  free(due);
  free(ids);
  free(late);
  return 0;
}

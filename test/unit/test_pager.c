/*
 * Unit tests for the pager (src/escalation/pager.c) over a real SQLite
 * store in a temporary folder: the pager runs in manual mode with a
 * stepped clock (pager_tick), pages land in the outbox and are sent by the
 * notifier workers to a loopback HTTP receiver run by the test (or to a
 * closed port), and every outcome is read back from the timeline.  Covers
 * the walk through every level, method fallback, ack/unack/resolve hooks,
 * a restart in the middle of an escalation (no page repeated, the next
 * level once, unsent pages sent with the same delivery id), 100 incidents
 * at once, and silences (held whatever the job, rechecked every
 * PAGER_SILENCE_RECHECK_MS so an expired silence stops holding).
 */
#include "buf.h"
#include "config.h"
#include "escalation.h"
#include "incident.h"
#include "metrics.h"
#include "pager.h"
#include "payload.h"
#include "store.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S 1000LL
#define T0 1700000000000LL

/* ------------------------------------------------------ loopback receiver */

#define MAX_REQS 2048

struct req {
  char path[128];
  char delivery[96];
  char event[32];
};

static struct {
  int fd;
  int port;
  pthread_t th;
  atomic_int stop;
  atomic_int delay_ms;  /* before answering each request */
  pthread_mutex_t mu;
  struct req reqs[MAX_REQS];
  size_t n;
} rx;

static void
header_value(const char *head, const char *name, char *out, size_t len)
{
  const char *p = head;
  size_t nl = strlen(name);
  out[0] = '\0';
  while ((p = strchr(p, '\n')) != NULL) {
    p++;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1, *e;
      while (*v == ' ')
        v++;
      e = strpbrk(v, "\r\n");
      snprintf(out, len, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
      return;
    }
  }
}

static void
serve_one(int c)
{
  char buf[65536];
  size_t got = 0;
  ssize_t r;
  char *end = NULL, cl[32];
  long want;
  struct req q;
  static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 2\r\nConnection: close\r\n\r\nok";
  static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 4\r\nConnection: close\r\n\r\nbusy";

  while (got < sizeof(buf) - 1 && !(end = strstr(buf, "\r\n\r\n"))) {
    r = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
    if (r <= 0)
      return;
    got += (size_t)r;
    buf[got] = '\0';
  }
  if (!end)
    return;
  *end = '\0';
  header_value(buf, "Content-Length", cl, sizeof(cl));
  want = atol(cl);
  while ((long)(got - (size_t)(end + 4 - buf)) < want && got < sizeof(buf) - 1) {
    r = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  memset(&q, 0, sizeof(q));
  sscanf(buf, "%*s %127s", q.path);
  header_value(buf, "X-Runbookd-Delivery", q.delivery, sizeof(q.delivery));
  header_value(buf, "X-Runbookd-Event", q.event, sizeof(q.event));
  if (atomic_load(&rx.delay_ms))
    usleep((useconds_t)atomic_load(&rx.delay_ms) * 1000);
  pthread_mutex_lock(&rx.mu);
  if (rx.n < MAX_REQS)
    rx.reqs[rx.n++] = q;
  pthread_mutex_unlock(&rx.mu);
  /* /fail/...: busy (503, retried) for pages, fine for notices. */
  if (strncmp(q.path, "/fail/", 6) == 0
      && (strcmp(q.event, "trigger") == 0 || strcmp(q.event, "escalated") == 0))
    (void)!send(c, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
  else
    (void)!send(c, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
}

static void *
rx_main(void *arg)
{
  (void)arg;
  while (!atomic_load(&rx.stop)) {
    struct pollfd pf = { rx.fd, POLLIN, 0 };
    int c;
    if (poll(&pf, 1, 50) <= 0)
      continue;
    c = accept(rx.fd, NULL, NULL);
    if (c < 0)
      continue;
    serve_one(c);
    close(c);
  }
  return NULL;
}

static void
rx_start(void)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t al = sizeof(a);
  int one = 1;
  rx.fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(rx.fd, 0);
  setsockopt(rx.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(rx.fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(rx.fd, 256), 0);
  getsockname(rx.fd, (struct sockaddr *)&a, &al);
  rx.port = ntohs(a.sin_port);
  rx.n = 0;
  atomic_store(&rx.stop, 0);
  atomic_store(&rx.delay_ms, 0);
  pthread_mutex_init(&rx.mu, NULL);
  cr_assert_eq(pthread_create(&rx.th, NULL, rx_main, NULL), 0);
}

static void
rx_stop(void)
{
  atomic_store(&rx.stop, 1);
  pthread_join(rx.th, NULL);
  close(rx.fd);
}

static size_t
rx_count(const char *path_prefix, const char *event)
{
  size_t c = 0;
  pthread_mutex_lock(&rx.mu);
  for (size_t i = 0; i < rx.n; i++)
    if ((!path_prefix || strncmp(rx.reqs[i].path, path_prefix, strlen(path_prefix)) == 0)
        && (!event || strcmp(rx.reqs[i].event, event) == 0))
      c++;
  pthread_mutex_unlock(&rx.mu);
  return c;
}

static size_t
rx_total(void)
{
  size_t n;
  pthread_mutex_lock(&rx.mu);
  n = rx.n;
  pthread_mutex_unlock(&rx.mu);
  return n;
}

/* A port nothing listens on. */
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

/* ------------------------------------------------------- store and pager */

static char dir[64];
static struct store *st;
static struct pager *pg;
static struct severity_map sevmap;
static atomic_llong clock_ms;
static const struct payload_limits lim = { 1000, 64, 256, 4096, 8192, 32 };

static int64_t
now_fn(void *arg)
{
  (void)arg;
  return (int64_t)atomic_load(&clock_ms);
}

/* The silence hook: one silence, matching alertname=~"Quiet.*", active from
 * sil_starts until sil_ends on the stepped clock (both 0: none).  Expiring
 * it early sets sil_ends to the clock, as `amtool silence expire` does. */
#define SIL_ID "5a1e0000-0000-4000-8000-00000000q001"
static atomic_llong sil_starts, sil_ends;

static int
fake_silenced(void *arg, const struct am_labels *ls, int64_t now, char *id, size_t idlen,
              int64_t *ends)
{
  const char *name = am_label(ls, "alertname");
  (void)arg;
  if (!name || strncmp(name, "Quiet", 5) != 0 || now < atomic_load(&sil_starts)
      || now >= atomic_load(&sil_ends))
    return 0;
  snprintf(id, idlen, "%s", SIL_ID);
  *ends = atomic_load(&sil_ends);
  return 1;
}

static void
silence(int64_t starts, int64_t ends)
{
  atomic_store(&sil_starts, starts);
  atomic_store(&sil_ends, ends);
}

/* The first silence recheck after t (pager.h: aligned to the clock). */
static int64_t
next_recheck(int64_t t)
{
  return (t / PAGER_SILENCE_RECHECK_MS + 1) * PAGER_SILENCE_RECHECK_MS;
}

static void
open_store(void)
{
  struct store_options o = { .sqlite_dir = dir };
  char err[RB_ERRLEN];
  cr_assert_eq(store_open(&o, &st, err), RB_OK, "%s", err);
}

static void
write_file(const char *name, const char *text)
{
  char path[256];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static struct esc_policy *
load_policy(const char *json)
{
  char cfg[128];
  struct config_errors errs;
  struct esc_policy *p;

  snprintf(cfg, sizeof(cfg), "%s/runbookd.json", dir);
  config_errors_init(&errs);
  p = esc_policy_load(json, cfg, &errs);
  if (!p)
    cr_assert_fail("policy: %s: %s", errs.head ? errs.head->where : "?",
                   errs.head ? errs.head->what : "?");
  config_errors_free(&errs);
  return p;
}

/* Contacts a, b, c reach the receiver by signed webhook (/hook/<id>);
 * "dead" has a webhook on a closed port and a phone at the receiver;
 * "gone" only a closed port.  critical: a -> b -> c, 60 s, repeat once;
 * high: dead (webhook, then phone); low: gone.  Others: a. */
/* make_policy's contacts with "z" (Zoe, /hook/z) added first and the
 * others in another order, as a reload may bring them. */
static int reorder_contacts;

static struct esc_policy *
make_policy(const char *extra)
{
  char json[8192];
  int port = rx.port, down = closed_port();

  if (reorder_contacts) {
    char zoe[256];
    snprintf(zoe, sizeof(zoe),
             "\"z\":{\"name\":\"Zoe\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/z\","
             "\"secret_file\":\"hmac\"}},",
             port);
    write_file("hmac", "pager-test-hmac-key\n");
    snprintf(json, sizeof(json),
             "{%s%s\"policy\":{"
             "\"emergency\":{\"path\":[\"a\",\"b\"],\"methods\":[\"webhook\"],\"respond_within_"
             "seconds\":30},"
             "\"critical\":{\"path\":[\"a\",\"b\",\"c\"],\"methods\":[\"webhook\"],"
             "\"respond_within_seconds\":60,\"repeat_last\":1},"
             "\"high\":{\"path\":[\"dead\",\"a\"],\"methods\":[\"webhook\",\"phone\"],"
             "\"respond_within_seconds\":60},"
             "\"medium\":{\"path\":[\"a\"],\"methods\":[\"webhook\"]},"
             "\"low\":{\"path\":[\"gone\"],\"methods\":[\"webhook\"]}},"
             "\"contacts\":{%s"
             "\"gone\":{\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/"
             "gone\",\"secret_file\":\"hmac\"}},"
             "\"dead\":{\"name\":\"Dave\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/"
             "dead\",\"secret_file\":\"hmac\"},"
             "\"phone\":{\"url\":\"http://127.0.0.1:%d/phone/dead\",\"to\":\"+15550001\"}},"
             "\"c\":{\"name\":\"Carol\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/"
             "c\",\"secret_file\":\"hmac\"}},"
             "\"b\":{\"name\":\"Bob\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/"
             "b\",\"secret_file\":\"hmac\"}},"
             "\"a\":{\"name\":\"Alice\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/"
             "a\",\"secret_file\":\"hmac\"}}},"
             "\"notifiers\":{\"timeout_seconds\":2,\"retries\":0,\"backoff_ms\":1}}",
             extra ? extra : "", extra && *extra ? "," : "", zoe, down, down, port, port, port,
             port);
    return load_policy(json);
  }

  write_file("hmac", "pager-test-hmac-key\n");
  snprintf(json, sizeof(json),
           "{%s%s\"policy\":{"
           "\"emergency\":{\"path\":[\"a\",\"b\"],\"methods\":[\"webhook\"],\"respond_within_seconds\":30},"
           "\"critical\":{\"path\":[\"a\",\"b\",\"c\"],\"methods\":[\"webhook\"],"
           "\"respond_within_seconds\":60,\"repeat_last\":1},"
           "\"high\":{\"path\":[\"dead\",\"a\"],\"methods\":[\"webhook\",\"phone\"],"
           "\"respond_within_seconds\":60},"
           "\"medium\":{\"path\":[\"a\"],\"methods\":[\"webhook\"]},"
           "\"low\":{\"path\":[\"gone\"],\"methods\":[\"webhook\"]}},"
           "\"contacts\":{"
           "\"a\":{\"name\":\"Alice\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/a\",\"secret_file\":\"hmac\"}},"
           "\"b\":{\"name\":\"Bob\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/b\",\"secret_file\":\"hmac\"}},"
           "\"c\":{\"name\":\"Carol\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/c\",\"secret_file\":\"hmac\"}},"
           "\"dead\":{\"name\":\"Dave\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/dead\",\"secret_file\":\"hmac\"},"
           "\"phone\":{\"url\":\"http://127.0.0.1:%d/phone/dead\",\"to\":\"+15550001\"}},"
           "\"gone\":{\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/gone\",\"secret_file\":\"hmac\"}}},"
           "\"notifiers\":{\"timeout_seconds\":2,\"retries\":0,\"backoff_ms\":1}}",
           extra ? extra : "", extra && *extra ? "," : "", port, port, port, down, port, down);
  return load_policy(json);
}

static void
start_pager_with(struct esc_policy *pol, unsigned workers)
{
  struct pager_options o;
  char err[RB_ERRLEN] = "";
  memset(&o, 0, sizeof(o));
  o.store = st;
  o.workers = workers;
  o.now_ms = now_fn;
  o.manual = 1;
  o.silenced = fake_silenced;
  cr_assert_eq(pager_start(&o, pol, &pg, err), RB_OK, "%s", err);
}

static void
start_pager(const char *extra, unsigned workers)
{
  start_pager_with(make_policy(extra), workers);
}

/* Every severity: "s" (Sam: a webhook at /fail/s that answers 503 to
 * pages, then a phone at /phone/s), then "b" (Bob, /hook/b); 60 s to
 * acknowledge.  Pages are retried 8 times from 100 ms (about 25 s of
 * backoff in all), so a page to Sam takes long unless something stops it. */
static struct esc_policy *
retry_policy(void)
{
  char json[4096], sev[1024] = "";
  static const char *const sevs[] = { "emergency", "critical", "high", "medium", "low" };

  write_file("hmac", "pager-test-hmac-key\n");
  for (int i = 0; i < 5; i++)
    snprintf(sev + strlen(sev), sizeof(sev) - strlen(sev),
             "%s\"%s\":{\"path\":[\"s\",\"b\"],\"methods\":[\"webhook\",\"phone\"],"
             "\"respond_within_seconds\":60}",
             i ? "," : "", sevs[i]);
  snprintf(json, sizeof(json),
           "{\"progress_interval_seconds\":0,\"multi_component\":{\"deployments\":0},"
           "\"policy\":{%s},\"contacts\":{"
           "\"s\":{\"name\":\"Sam\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/fail/s\","
           "\"secret_file\":\"hmac\"},\"phone\":{\"url\":\"http://127.0.0.1:%d/phone/s\","
           "\"to\":\"+15550002\"}},"
           "\"b\":{\"name\":\"Bob\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/b\","
           "\"secret_file\":\"hmac\"}}},"
           "\"notifiers\":{\"timeout_seconds\":2,\"retries\":8,\"backoff_ms\":100}}",
           sev, rx.port, rx.port, rx.port);
  return load_policy(json);
}

static void
setup(void)
{
  snprintf(dir, sizeof(dir), "/tmp/rbpagerXXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  severity_map_defaults(&sevmap);
  atomic_store(&clock_ms, T0);
  reorder_contacts = 0;
  silence(0, 0);
  metrics_init();
  rx_start();
  open_store();
  pg = NULL;
}

static void
teardown(void)
{
  char cmd[128];
  pager_stop(pg);
  store_close(st);
  rx_stop();
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
}

TestSuite(pager, .init = setup, .fini = teardown, .timeout = 60);

/* Opens n incidents (alertname name-<i>) at the clock's time. */
static void
open_incidents(const char *name, const char *severity, size_t n, int64_t *ids)
{
  struct buf b;
  struct am_payload *p;
  struct ingest_result r;
  char err[RB_ERRLEN];

  buf_init(&b, 0);
  buf_puts(&b, "{\"version\":\"4\",\"status\":\"firing\",\"receiver\":\"hook\",\"alerts\":[");
  for (size_t i = 0; i < n; i++)
    buf_printf(&b,
               "%s{\"status\":\"firing\",\"labels\":{\"alertname\":\"%s\",\"idx\":\"%zu\","
               "\"namespace\":\"ran-optimization\",\"deployment\":\"dep-%zu\",\"severity\":\"%s\"},"
               "\"annotations\":{\"summary\":\"s\"},\"startsAt\":\"2026-12-03T15:00:00Z\","
               "\"endsAt\":\"0001-01-01T00:00:00Z\"}",
               i ? "," : "", name, i, i, severity);
  buf_puts(&b, "]}");
  cr_assert_eq(payload_parse(b.data, b.len, &lim, &p, err, sizeof(err)), RB_OK, "%s", err);
  cr_assert_eq(incident_ingest(st, p, &sevmap, now_fn(NULL), &r), RB_OK);
  cr_assert_eq(r.n, n);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(r.outcome[i], INGEST_NEW);
    ids[i] = r.incident_id[i];
  }
  ingest_result_free(&r);
  payload_free(p);
  buf_free(&b);
}

static int64_t
open_one(const char *name, const char *severity)
{
  int64_t id;
  open_incidents(name, severity, 1, &id);
  pager_opened(pg, id);
  return id;
}

static size_t
pending(void)
{
  struct page_row *v = NULL;
  size_t n = 0;
  cr_assert_eq(store_pages_pending(st, &v, &n), RB_OK);
  page_rows_free(v, n);
  return n;
}

/* Bounded poll until the outbox is empty (the workers sent everything and
 * recorded the outcomes). */
static void
wait_drained(void)
{
  struct timespec ts = { 0, 10 * 1000000 };
  for (int i = 0; i < 1500; i++) {
    if (pending() == 0)
      return;
    nanosleep(&ts, NULL);
  }
  cr_assert_fail("the outbox did not drain within 15 s (%zu pending)", pending());
}

/* Bounded poll (15 s) for something the notifier workers do. */
#define WAIT_FOR(cond)                                                                             \
  do {                                                                                             \
    struct timespec ts_ = { 0, 10 * 1000000 };                                                     \
    for (int i_ = 0; i_ < 1500 && !(cond); i_++)                                                   \
      nanosleep(&ts_, NULL);                                                                       \
    cr_assert(cond, "timed out waiting for " #cond);                                               \
  } while (0)

static size_t
tick(int64_t t)
{
  size_t n;
  atomic_store(&clock_ms, t);
  n = pager_tick(pg, t);
  wait_drained();
  return n;
}

/* Events of a kind on an incident's timeline whose detail contains sub. */
static size_t
events(int64_t id, const char *kind, const char *sub)
{
  struct tl_event *ev = NULL;
  size_t n = 0, c = 0;
  cr_assert_eq(store_timeline(st, id, &ev, &n), RB_OK);
  for (size_t i = 0; i < n; i++)
    if (strcmp(ev[i].kind, kind) == 0 && (!sub || (ev[i].detail && strstr(ev[i].detail, sub))))
      c++;
  tl_events_free(ev, n);
  return c;
}

static void
dump_timeline(int64_t id)
{
  struct tl_event *ev = NULL;
  size_t n = 0;
  store_timeline(st, id, &ev, &n);
  for (size_t i = 0; i < n; i++)
    cr_log_info("  %s %s", ev[i].kind, ev[i].detail ? ev[i].detail : "");
  tl_events_free(ev, n);
}

static void
act(int64_t id, enum incident_action a)
{
  char msg[RB_ERRLEN];
  cr_assert_eq(incident_act(st, id, a, "alice", NULL, now_fn(NULL), msg), RB_OK, "%s", msg);
}

/* ------------------------------------------------------------------ tests */

Test(pager, walks_every_level_then_progress_and_resolution)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":1800", 2);
  id = open_one("HighLatency", "critical");
  cr_expect_eq(tick(T0), 0, "the open hook, no timer yet");
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1, "first notice to the first level at open");
  cr_expect_eq(events(id, "paged", "\"method\":\"webhook\""), 1);
  cr_expect_eq(events(id, "paged", "Alice"), 1);
  cr_expect_eq(pager_pending(pg), 1);

  tick(T0 + 59 * S);
  cr_expect_eq(rx_total(), 1, "nothing before the window ends");
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1, "level 2 after 60 s");
  cr_expect_eq(events(id, "escalated", "\"level\":1"), 1);
  cr_expect_eq(events(id, "paged", "Bob"), 1);
  tick(T0 + 120 * S);
  cr_expect_eq(rx_count("/hook/c", "escalated"), 1, "level 3");
  tick(T0 + 180 * S);
  cr_expect_eq(rx_count("/hook/c", "escalated"), 2, "the last level once more (repeat_last 1)");
  cr_expect_eq(events(id, "escalation exhausted", NULL), 0);
  tick(T0 + 240 * S);
  cr_expect_eq(events(id, "escalation exhausted", NULL), 1);
  cr_expect_eq(rx_total(), 4);
  tick(T0 + 1000 * S);
  cr_expect_eq(rx_total(), 4, "exhausted: no more level pages");

  tick(T0 + 1800 * S);
  cr_expect_eq(events(id, "progress update", NULL), 1);
  cr_expect_eq(rx_count(NULL, "progress"), 3, "a progress update to each of the three paged");
  tick(T0 + 3600 * S);
  cr_expect_eq(events(id, "progress update", NULL), 2);
  cr_expect_eq(rx_count(NULL, "progress"), 6);

  atomic_store(&clock_ms, T0 + 4000 * S);
  act(id, ACT_RESOLVE);
  pager_resolved(pg, id);
  tick(T0 + 4000 * S);
  cr_expect_eq(rx_count("/hook/a", "resolved"), 1);
  cr_expect_eq(rx_count("/hook/b", "resolved"), 1);
  cr_expect_eq(rx_count("/hook/c", "resolved"), 1);
  tick(T0 + 10 * 3600 * S);
  cr_expect_eq(rx_count(NULL, "progress"), 6, "resolved: no progress updates");
  cr_expect_eq(rx_total(), 13, "4 level pages, 2 x 3 progress, 3 resolved: %zu", rx_total());
  cr_expect_eq(pager_pending(pg) <= 1, 1);
  if (rx_total() != 13) {
    dump_timeline(id);
    for (size_t i = 0; i < rx.n; i++)
      cr_log_info("rx %s %s %s", rx.reqs[i].path, rx.reqs[i].event, rx.reqs[i].delivery);
  }
}

Test(pager, first_page_delay_and_timers_never_early)
{
  int64_t id;
  start_pager("\"first_page_delay_seconds\":30,\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  cr_expect_eq(rx_total(), 0);
  tick(T0 + 29 * S);
  cr_expect_eq(rx_total(), 0);
  tick(T0 + 30 * S);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1);
  cr_expect_eq(events(id, "paged", NULL), 1);
}

Test(pager, method_fallback_records_every_attempt)
{
  int64_t id;
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("DiskFull", "high");
  tick(T0);
  cr_expect_eq(events(id, "page failed", "\"method\":\"webhook\""), 1,
               "the webhook on a closed port fails");
  cr_expect_eq(events(id, "paged", "\"method\":\"phone\""), 1, "then the phone delivers");
  cr_expect_eq(rx_count("/phone/dead", NULL), 1);
  cr_expect_eq(rx_count("/hook/dead", NULL), 0);
  cr_expect_eq(pending(), 0, "the page is done");
}

Test(pager, unreachable_contact_is_page_failed)
{
  int64_t id;
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("LowThing", "low");
  tick(T0);
  cr_expect_eq(events(id, "page failed", "\"attempts\":1"), 1, "retries 0: one attempt");
  cr_expect_eq(events(id, "paged", NULL), 0);
  cr_expect_eq(pending(), 0, "a failed page leaves the outbox too");
}

/* Hooks only queue; pager_tick drains them. */
Test(pager, ack_unack_resolve_hooks)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":600", 2);
  id = open_one("HighLatency", "critical");
  pager_opened(pg, id);
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1, "two open hooks, one first notice");
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1);

  atomic_store(&clock_ms, T0 + 70 * S);
  act(id, ACT_ACK);
  pager_acked(pg, id);
  cr_expect_eq(pending(), 0, "the hook only queued");
  cr_expect_eq(rx_count(NULL, "acknowledged"), 0);
  tick(T0 + 70 * S);
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1, "acknowledged notice to those paged");
  cr_expect_eq(rx_count("/hook/b", "acknowledged"), 1);
  tick(T0 + 120 * S);
  tick(T0 + 500 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 0, "acked: the next level is not paged");
  tick(T0 + 600 * S);
  cr_expect_eq(rx_count(NULL, "progress"), 2, "progress updates go on while acked");
  cr_expect_eq(events(id, "progress update", NULL), 1);

  atomic_store(&clock_ms, T0 + 700 * S);
  act(id, ACT_UNACK);
  pager_unacked(pg, id);
  tick(T0 + 700 * S);
  tick(T0 + 759 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 0, "unack: the current level has its full window");
  tick(T0 + 760 * S);
  cr_expect_eq(rx_count("/hook/c", "escalated"), 1, "then the next level");

  atomic_store(&clock_ms, T0 + 800 * S);
  act(id, ACT_RESOLVE);
  pager_resolved(pg, id);
  tick(T0 + 800 * S);
  cr_expect_eq(rx_count(NULL, "resolved"), 3, "resolution notice to everyone paged");
  tick(T0 + 9000 * S);
  cr_expect_eq(rx_count(NULL, "progress"), 2, "nothing after resolution");
  cr_expect_eq(rx_count("/hook/c", "escalated"), 1);
}

/* The incident was acknowledged but the hook never arrived (a crash
 * between the API's commit and the hook): the timer follows the stored
 * state and pages nobody. */
Test(pager, timer_follows_the_incident_state_without_hooks)
{
  int64_t id;
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  atomic_store(&clock_ms, T0 + 10 * S);
  act(id, ACT_ACK);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "acked in the store: no escalation");
  atomic_store(&clock_ms, T0 + 70 * S);
  act(id, ACT_RESOLVE);
  pager_pending(pg);
  tick(T0 + 10000 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0);
}

Test(pager, urgent_pages_at_once)
{
  int64_t id;
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  tick(T0 + 60 * S);
  atomic_store(&clock_ms, T0 + 65 * S);
  pager_urgent(pg, id, "step restart failed: 500 from the API server");
  tick(T0 + 65 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 2, "the current level again, at once");
  cr_expect_eq(events(id, "escalated", "step restart failed"), 1, "with the reason");
  tick(T0 + 124 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 0, "its window starts again");
  tick(T0 + 125 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 1);
}

Test(pager, urgent_before_the_open_hook_starts_the_escalation)
{
  int64_t id;
  start_pager("\"progress_interval_seconds\":0,\"first_page_delay_seconds\":300", 1);
  open_incidents("HighLatency", "critical", 1, &id);
  pager_urgent(pg, id, "refused by the rate limit");
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", NULL), 1, "paged at once despite the first-page delay");
  cr_expect_eq(events(id, "escalated", "rate limit"), 1);
}

/* A ServiceDown-like incident still open after unavailable.after_seconds
 * becomes an emergency: the emergency path is paged from its first level,
 * and the incident's severity is raised (docs/escalation.md, Triggers). */
Test(pager, unavailable_becomes_an_emergency)
{
  int64_t id;
  struct incident inc;

  start_pager("\"progress_interval_seconds\":0,\"unavailable\":{\"after_seconds\":90}", 1);
  id = open_one("ServiceDown", "critical");
  tick(T0);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 1);
  tick(T0 + 90 * S);
  cr_expect_eq(events(id, "escalated", "\"severity\":\"emergency\""), 1);
  cr_expect_eq(rx_count("/hook/a", NULL), 2, "the emergency path from its first level (a)");
  tick(T0 + 120 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 2, "then its next level after the emergency window");
  memset(&inc, 0, sizeof(inc));
  cr_assert_eq(store_get(st, id, &inc), RB_OK);
  cr_expect_eq(inc.severity, SEV_EMERGENCY,
               "the incident's severity is raised to emergency (stored: %s)",
               severity_name(inc.severity));
  incident_clear(&inc);
}

/* Every page has its own delivery id ("unique per page", notify.h), even
 * when two jobs for one incident run in the same millisecond. */
Test(pager, delivery_ids_are_unique)
{
  int64_t id;
  char seen[64][96];
  size_t n = 0, dups = 0;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  tick(T0 + 60 * S);
  atomic_store(&clock_ms, T0 + 61 * S);
  act(id, ACT_ACK);
  pager_acked(pg, id);
  tick(T0 + 61 * S);
  act(id, ACT_RESOLVE);
  pager_resolved(pg, id);
  tick(T0 + 61 * S);
  cr_expect_eq(rx_total(), 6, "2 pages, 2 acknowledged, 2 resolved");
  pthread_mutex_lock(&rx.mu);
  for (size_t i = 0; i < rx.n && n < 64; i++) {
    for (size_t k = 0; k < n; k++)
      if (strcmp(seen[k], rx.reqs[i].delivery) == 0) {
        dups++;
        cr_log_error("delivery id %s sent for two different pages (%s %s)", seen[k],
                     rx.reqs[i].path, rx.reqs[i].event);
      }
    snprintf(seen[n++], sizeof(seen[0]), "%s", rx.reqs[i].delivery);
  }
  pthread_mutex_unlock(&rx.mu);
  cr_expect_eq(dups, 0, "every page has its own X-Runbookd-Delivery");
}

/* Restart in the middle of an escalation: nothing repeated, the next level
 * fires once at its due time. */
Test(pager, restart_mid_escalation)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":0", 2);
  id = open_one("HighLatency", "critical");
  tick(T0);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_total(), 2);
  pager_stop(pg);
  pg = NULL;
  store_close(st);
  st = NULL;

  open_store();
  atomic_store(&clock_ms, T0 + 90 * S);
  start_pager("\"progress_interval_seconds\":0", 2);
  cr_expect_eq(pager_pending(pg), 1, "the timer was reloaded from the store");
  tick(T0 + 90 * S);
  cr_expect_eq(rx_total(), 2, "nothing is repeated at start");
  tick(T0 + 119 * S);
  cr_expect_eq(rx_total(), 2);
  tick(T0 + 120 * S);
  cr_expect_eq(rx_count("/hook/c", "escalated"), 1, "the next level at its due time");
  tick(T0 + 120 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 1, "once");
  cr_expect_eq(rx_count("/hook/a", NULL), 1);
  cr_expect_eq(rx_count("/hook/b", NULL), 1);
  cr_expect_eq(events(id, "paged", NULL), 3);
}

/* Pages still in the outbox at a stop are sent after the restart, with the
 * delivery id they were stored with, and no page is sent twice. */
Test(pager, unsent_pages_are_sent_after_restart_with_the_same_delivery_id)
{
  int64_t ids[20];
  struct page_row *v = NULL;
  size_t n = 0;
  char want[20][96];
  size_t nwant = 0, before;

  start_pager("\"progress_interval_seconds\":0", 1);
  open_incidents("Batch", "critical", 20, ids);
  for (int i = 0; i < 20; i++)
    pager_opened(pg, ids[i]);
  atomic_store(&rx.delay_ms, 100); /* one worker, 100 ms a page */
  pager_tick(pg, T0);
  usleep(150 * 1000);
  pager_stop(pg); /* the worker finishes the page in flight and stops */
  pg = NULL;
  before = rx_total();
  cr_assert_eq(store_pages_pending(st, &v, &n), RB_OK);
  cr_expect_gt(n, 0, "pages were left in the outbox");
  cr_expect_lt(before, 20);
  cr_expect_eq(before + n, 20, "each page either sent and done, or pending");
  for (size_t i = 0; i < n && nwant < 20; i++)
    snprintf(want[nwant++], sizeof(want[0]), "%s", v[i].delivery_id);
  page_rows_free(v, n);
  store_close(st);
  st = NULL;

  atomic_store(&rx.delay_ms, 0);
  open_store();
  atomic_store(&clock_ms, T0 + S);
  start_pager("\"progress_interval_seconds\":0", 2);
  tick(T0 + S);
  cr_expect_eq(rx_total(), 20, "every first notice exactly once");
  pthread_mutex_lock(&rx.mu);
  for (size_t k = 0; k < nwant; k++) {
    size_t found = 0;
    for (size_t i = before; i < rx.n; i++)
      found += strcmp(rx.reqs[i].delivery, want[k]) == 0;
    cr_expect_eq(found, 1, "pending page %s re-sent once with its delivery id", want[k]);
  }
  pthread_mutex_unlock(&rx.mu);
  for (int i = 0; i < 20; i++)
    cr_expect_eq(events(ids[i], "paged", NULL), 1, "incident %d paged once", i);
}

/* An incident opened while the pager was down (a crash between the
 * webhook's commit and the escalation's) is found at start and paged. */
Test(pager, incident_without_escalation_row_is_paged_at_start)
{
  int64_t id;
  start_pager("\"progress_interval_seconds\":0", 1);
  pager_stop(pg);
  pg = NULL;
  open_incidents("Orphan", "critical", 1, &id);
  start_pager("\"progress_interval_seconds\":0", 1);
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1);
  cr_expect_eq(events(id, "paged", NULL), 1);
}

Test(pager, hundred_incidents_at_once, .timeout = 120)
{
  int64_t ids[100];
  char seen[100][96];
  size_t dups = 0;

  /* distinct deployments: keep the multi-component trigger out of it */
  start_pager("\"progress_interval_seconds\":0,\"multi_component\":{\"deployments\":0}", 4);
  open_incidents("Storm", "critical", 100, ids);
  for (int i = 0; i < 100; i++)
    pager_opened(pg, ids[i]);
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 100);
  cr_expect_eq(pager_pending(pg), 100);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 100);
  for (int i = 0; i < 100; i++) {
    cr_expect_eq(events(ids[i], "paged", NULL), 2, "incident %d", i);
    cr_expect_eq(events(ids[i], "escalated", NULL), 1, "incident %d: %zu escalated", i,
                 events(ids[i], "escalated", NULL));
  }
  pthread_mutex_lock(&rx.mu);
  for (size_t i = 0; i < 100; i++) {
    snprintf(seen[i], sizeof(seen[0]), "%s", rx.reqs[i].delivery);
    for (size_t k = 0; k < i; k++)
      dups += strcmp(seen[k], seen[i]) == 0;
  }
  pthread_mutex_unlock(&rx.mu);
  cr_expect_eq(dups, 0);
  for (int i = 0; i < 100; i++) {
    atomic_store(&clock_ms, T0 + 70 * S);
    act(ids[i], ACT_RESOLVE);
    pager_resolved(pg, ids[i]);
  }
  tick(T0 + 70 * S);
  cr_expect_eq(rx_count(NULL, "resolved"), 200);
  tick(T0 + 100000 * S);
  cr_expect_eq(rx_total(), 400);
}

/* Threads in this process, from /proc/self/status. */
static int
threads_now(void)
{
  char line[256];
  int n = -1;
  FILE *f = fopen("/proc/self/status", "r");
  cr_assert_not_null(f);
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "Threads: %d", &n) == 1)
      break;
  fclose(f);
  return n;
}

/* No notifier worker runs while no page waits: a daemon with paging off
 * keeps none.  The first page starts one. */
Test(pager, workers_start_when_pages_wait)
{
  int before = threads_now();
  int64_t id;

  start_pager("\"progress_interval_seconds\":0", 4);
  cr_expect_eq(threads_now(), before, "no worker before any page");
  id = open_one("HighLatency", "critical");
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1);
  cr_expect_eq(events(id, "paged", NULL), 1);
  cr_expect_gt(threads_now(), before, "a worker sent the page");
  cr_expect_leq(threads_now(), before + 4, "at most pager_options.workers");
}

/* Three critical incidents on three Deployments within the window: the
 * newest becomes an emergency and the emergency path is paged. */
Test(pager, several_components_at_once_make_an_emergency)
{
  int64_t ids[3];
  start_pager("\"progress_interval_seconds\":0,"
              "\"multi_component\":{\"deployments\":3,\"within_seconds\":600}", 1);
  open_incidents("Multi", "critical", 2, ids);
  pager_opened(pg, ids[0]);
  pager_opened(pg, ids[1]);
  tick(T0);
  cr_expect_eq(events(ids[0], "escalated", NULL), 0);
  cr_expect_eq(events(ids[1], "escalated", NULL), 0);
  atomic_store(&clock_ms, T0 + 10 * S);
  {
    /* a third Deployment */
    struct am_payload *p;
    struct ingest_result r;
    char err[RB_ERRLEN];
    const char *body
      = "{\"version\":\"4\",\"status\":\"firing\",\"receiver\":\"hook\",\"alerts\":[{\"status\":"
        "\"firing\",\"labels\":{\"alertname\":\"Other\",\"deployment\":\"third\",\"severity\":"
        "\"critical\"},\"annotations\":{},\"startsAt\":\"2026-12-03T15:00:00Z\",\"endsAt\":"
        "\"0001-01-01T00:00:00Z\"}]}";
    cr_assert_eq(payload_parse(body, strlen(body), &lim, &p, err, sizeof(err)), RB_OK, "%s", err);
    cr_assert_eq(incident_ingest(st, p, &sevmap, now_fn(NULL), &r), RB_OK);
    ids[2] = r.incident_id[0];
    ingest_result_free(&r);
    payload_free(p);
  }
  pager_opened(pg, ids[2]);
  tick(T0 + 10 * S);
  cr_expect_eq(events(ids[2], "escalated", "3 components failing at once"), 1);
  cr_expect_eq(events(ids[2], "paged", "\"level\":0"), 1);
  tick(T0 + 40 * S);
  cr_expect_eq(events(ids[2], "paged", "Bob"), 1, "the emergency path's 30 s window");
}

Test(pager, lateness_metric_and_pending_gauge)
{
  struct buf b;
  start_pager("\"progress_interval_seconds\":0", 1);
  open_one("HighLatency", "critical");
  tick(T0);
  tick(T0 + 60 * S + 250); /* 250 ms late */
  buf_init(&b, 0);
  cr_assert_eq(metrics_render(&b, st), RB_OK);
  cr_expect_not_null(strstr(b.data, "runbookd_escalation_timer_lateness_seconds"));
  cr_expect_not_null(strstr(b.data, "runbookd_escalation_timers"));
  buf_free(&b);
}

/* ---------------------------------------------------------------- silences */

/* A silence expired long before its end (amtool silence expire): paging
 * comes back at the next recheck, not at the silence's original end.  While
 * it lasts, one recheck per interval, one timer, one `silenced` event. */
Test(pager, expired_silence_pages_within_the_recheck_interval)
{
  const int64_t R = PAGER_SILENCE_RECHECK_MS;
  int64_t id, t, expired, paged_at = 0;
  size_t fired = 0;

  silence(T0, T0 + 3600 * S);
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("Quiet", "critical");
  tick(T0);
  cr_expect_eq(rx_total(), 0, "silenced at open: nobody paged");
  cr_expect_eq(events(id, "silenced", "not paged while the silence lasts"), 1);
  cr_expect_eq(events(id, "silenced", SIL_ID), 1, "the event names the silence");
  cr_expect_eq(pager_pending(pg), 1);
  for (t = T0 + 5 * S; t <= T0 + 10 * R; t += 5 * S)
    fired += tick(t);
  cr_expect_eq(rx_total(), 0, "nobody paged while the silence lasts");
  cr_expect_eq(fired, 10, "one recheck per interval over 10 intervals (%zu)", fired);
  cr_expect_eq(pager_pending(pg), 1, "one timer for the incident");
  cr_expect_eq(events(id, "silenced", NULL), 1, "recorded once, not at each recheck");

  expired = T0 + 10 * R + 7 * S;
  silence(T0, expired); /* expired now, 50 minutes early */
  for (t = expired; t <= expired + R && !paged_at; t += S) {
    tick(t);
    if (rx_count("/hook/a", "trigger"))
      paged_at = t;
  }
  cr_assert_neq(paged_at, 0, "paged once the silence is gone");
  cr_expect_lt(paged_at - expired, R, "within the recheck interval");
  cr_expect_eq(paged_at, next_recheck(expired - 1), "at the first recheck after the expiry");
  cr_expect_eq(events(id, "paged", "Alice"), 1);
  tick(paged_at + 59 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0);
  tick(paged_at + 60 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1, "then escalation goes on as usual");
  cr_expect_eq(events(id, "silenced", NULL), 1);
}

/* A silence shortened (amtool silence update --duration) ends when it now
 * ends: a recheck sees the new end and holds only until then. */
Test(pager, shortened_silence_pages_at_its_new_end)
{
  int64_t id, t, ends = T0 + 150 * S, paged_at = 0;

  silence(T0, T0 + 3600 * S);
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("Quiet", "critical");
  tick(T0);
  tick(T0 + 10 * S);
  silence(T0, ends);
  for (t = T0 + 11 * S; t <= ends + 10 * S && !paged_at; t += S) {
    tick(t);
    if (rx_count("/hook/a", "trigger"))
      paged_at = t;
  }
  cr_expect_eq(paged_at, ends, "paged at the silence's new end");
  cr_expect_eq(events(id, "paged", NULL), 1);
}

/* Unack of an incident that was silenced from the start (nobody paged
 * yet): esc_unack makes the first notice due at once, and the silence
 * holds it until the silence ends. */
Test(pager, unack_while_silenced_pages_nobody_until_the_silence_ends)
{
  int64_t id, t, ends = T0 + 300 * S;

  silence(T0, ends);
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("Quiet", "critical");
  tick(T0);
  atomic_store(&clock_ms, T0 + 10 * S);
  act(id, ACT_ACK);
  pager_acked(pg, id);
  tick(T0 + 10 * S);
  atomic_store(&clock_ms, T0 + 20 * S);
  act(id, ACT_UNACK);
  pager_unacked(pg, id);
  tick(T0 + 20 * S);
  cr_expect_eq(rx_total(), 0, "unack while silenced: nobody paged");
  cr_expect_eq(events(id, "silenced", "page on unack"), 1, "the held page is on the timeline");
  for (t = T0 + 25 * S; t < ends; t += 5 * S)
    tick(t);
  cr_expect_eq(rx_total(), 0, "nobody paged while the silence lasts");
  cr_expect_eq(events(id, "silenced", NULL), 2, "open and unack, no event per recheck");
  cr_expect_eq(pager_pending(pg), 1, "the stale timer and the unack's were merged");
  tick(ends);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1, "the first notice when the silence ends");
  tick(ends + 60 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1);
}

/* Unack of an incident paged before the silence: the current level's new
 * window runs, but at its end the silence holds the next level. */
Test(pager, unack_after_a_page_then_silenced_holds_the_next_level)
{
  int64_t id, t, ends = T0 + 400 * S;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("Quiet", "critical");
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1, "not silenced yet");
  atomic_store(&clock_ms, T0 + 10 * S);
  act(id, ACT_ACK);
  pager_acked(pg, id);
  tick(T0 + 10 * S);
  silence(T0 + 20 * S, ends);
  atomic_store(&clock_ms, T0 + 30 * S);
  act(id, ACT_UNACK);
  pager_unacked(pg, id);
  tick(T0 + 30 * S);
  cr_expect_eq(events(id, "silenced", NULL), 0, "nothing was due at the unack: nothing held");
  for (t = T0 + 35 * S; t < ends; t += 5 * S)
    tick(t);
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "the next level is held while the silence lasts");
  tick(ends);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1, "and paged when it ends");
}

/* Remediation's "page at once" while silenced: held, recorded as silenced
 * with the reason (not as `escalated`), sent once the silence is gone. */
Test(pager, urgent_while_silenced_is_held)
{
  const int64_t R = PAGER_SILENCE_RECHECK_MS;
  int64_t id, t, expired = T0 + 50 * S, paged_at = 0;

  silence(T0, T0 + 3600 * S);
  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("Quiet", "critical");
  tick(T0);
  atomic_store(&clock_ms, T0 + 30 * S);
  pager_urgent(pg, id, "step restart failed: 500 from the API server");
  tick(T0 + 30 * S);
  cr_expect_eq(rx_total(), 0, "page at once while silenced: nobody paged");
  cr_expect_eq(events(id, "escalated", NULL), 0, "no escalation recorded");
  cr_expect_eq(events(id, "silenced", "step restart failed"), 1, "held, with the reason");
  cr_expect_eq(events(id, "silenced", "page at once"), 1);
  tick(T0 + 40 * S);
  silence(T0, expired);
  for (t = expired; t <= expired + R && !paged_at; t += S) {
    tick(t);
    if (rx_total())
      paged_at = t;
  }
  cr_assert_neq(paged_at, 0);
  cr_expect_lt(paged_at - expired, R, "within the recheck interval of the expiry");
  cr_expect_eq(events(id, "paged", "remediation failed"), 1, "the held page, with its reason");
}

/* Many silenced incidents opened at different moments recheck together:
 * each interval one tick fires all of them (batched into one commit per
 * 256), and between rechecks nothing fires; one timer each throughout. */
Test(pager, silenced_incidents_recheck_together, .timeout = 120)
{
  const int64_t R = PAGER_SILENCE_RECHECK_MS;
  int64_t ids[100], b1 = next_recheck(T0), t;

  silence(T0, T0 + 3600 * S);
  start_pager("\"progress_interval_seconds\":0,\"multi_component\":{\"deployments\":0}", 4);
  for (int g = 0; g < 4; g++) {
    t = T0 + g * (b1 - T0) / 4;
    atomic_store(&clock_ms, t);
    char name[16];
    snprintf(name, sizeof(name), "Quiet%d", g);
    open_incidents(name, "critical", 25, ids + 25 * g);
    for (int i = 0; i < 25; i++)
      pager_opened(pg, ids[25 * g + i]);
    tick(t);
  }
  cr_expect_eq(pager_pending(pg), 100);
  cr_expect_eq(tick(b1 - 1), 0);
  cr_expect_eq(tick(b1), 100, "every recheck comes due at once");
  cr_expect_eq(tick(b1 + R - 1), 0, "and nothing between rechecks");
  cr_expect_eq(tick(b1 + R), 100);
  cr_expect_eq(pager_pending(pg), 100, "one timer per incident");
  cr_expect_eq(rx_total(), 0);
  silence(T0, b1 + R + 5 * S);
  cr_expect_eq(tick(b1 + 2 * R), 100);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 100, "all paged at the recheck after the expiry");
  for (int i = 0; i < 100; i++)
    cr_expect_eq(events(ids[i], "silenced", NULL), 1, "incident %d", i);
}

/* ------------------------------------------- ack and resolve stop pages */

/* A page being retried (Sam's webhook answers 503) stops once the incident
 * is acknowledged: no further attempt, no next method, `page cancelled`
 * naming why; before the hook even reaches the pager (the store says so).
 * The acknowledged notice itself still goes out. */
Test(pager, ack_stops_a_page_being_retried)
{
  int64_t id;
  size_t tries;

  start_pager_with(retry_policy(), 1);
  id = open_one("Retried", "critical");
  pager_tick(pg, T0);
  WAIT_FOR(rx_count("/fail/s", "trigger") >= 2);
  atomic_store(&clock_ms, T0 + 5 * S);
  act(id, ACT_ACK); /* committed; the pager's hook not called yet */
  wait_drained();
  tries = rx_count("/fail/s", "trigger");
  cr_expect_eq(events(id, "page cancelled", "acknowledged by alice"), 1, "cancelled, with why");
  cr_expect_eq(events(id, "page cancelled", "\"method\":\"webhook\""), 1,
               "in the middle of the webhook's retries");
  cr_expect_eq(events(id, "page failed", NULL), 0);
  cr_expect_eq(rx_count("/phone/s", NULL), 0, "the next method is not tried");
  cr_expect_lt(tries, 6, "stopped within the retries (%zu attempts)", tries);

  pager_acked(pg, id);
  tick(T0 + 5 * S);
  cr_expect_eq(rx_count("/fail/s", "acknowledged"), 1, "the acknowledged notice goes out");
  cr_expect_eq(rx_count("/fail/s", "trigger"), tries, "and no trigger after the ack");
  tick(T0 + 120 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "acked: the next level is not paged");
  if (events(id, "page cancelled", NULL) != 1)
    dump_timeline(id);
}

/* Resolving stops a page being retried and the pages waiting behind it
 * (one worker), which then make no attempt at all. */
Test(pager, resolve_stops_pages_queued_and_in_flight)
{
  int64_t ids[3];
  size_t tries;

  start_pager_with(retry_policy(), 1);
  open_incidents("Retried", "critical", 3, ids);
  for (int i = 0; i < 3; i++)
    pager_opened(pg, ids[i]);
  pager_tick(pg, T0);
  WAIT_FOR(rx_count("/fail/s", "trigger") >= 2);
  atomic_store(&clock_ms, T0 + 5 * S);
  for (int i = 0; i < 3; i++)
    act(ids[i], ACT_RESOLVE);
  wait_drained();
  tries = rx_count("/fail/s", "trigger");
  cr_expect_lt(tries, 6, "%zu attempts", tries);
  for (int i = 0; i < 3; i++) {
    cr_expect_eq(events(ids[i], "page cancelled", "resolved by alice"), 1, "incident %d", i);
    cr_expect_eq(events(ids[i], "page failed", NULL), 0, "incident %d", i);
  }
  cr_expect_eq(events(ids[1], "page cancelled", "\"attempts\""), 0, "queued: never attempted");
  cr_expect_eq(rx_count("/phone/s", NULL), 0);
  for (int i = 0; i < 3; i++)
    pager_resolved(pg, ids[i]);
  tick(T0 + 5 * S);
  cr_expect_eq(rx_count("/fail/s", "resolved"), 3, "resolution notices go out");
  tick(T0 + 300 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0);
  cr_expect_eq(rx_count("/fail/s", "trigger"), tries);
}

/* ------------------------------------ who was paged survives a reload */

/* Who was paged is remembered by contact id: after a reload that adds a
 * contact before the others and reorders them, and after a restart, the
 * acknowledged and resolved notices go to those paged and nobody else. */
Test(pager, notices_follow_contact_ids_across_a_reordering_reload)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1);
  reorder_contacts = 1;
  pager_reload(pg, make_policy("\"progress_interval_seconds\":0"));

  atomic_store(&clock_ms, T0 + 70 * S);
  act(id, ACT_ACK);
  pager_acked(pg, id);
  tick(T0 + 70 * S);
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1, "Alice was paged");
  cr_expect_eq(rx_count("/hook/b", "acknowledged"), 1, "Bob was paged");
  cr_expect_eq(rx_count("/hook/z", NULL), 0, "Zoe, now first in the contacts, was never paged");
  cr_expect_eq(rx_count("/hook/c", NULL), 0, "Carol was never paged");
  cr_expect_eq(rx_count("/hook/gone", NULL) + rx_count("/phone/dead", NULL), 0);

  pager_stop(pg);
  pg = NULL;
  start_pager("\"progress_interval_seconds\":0", 1);
  atomic_store(&clock_ms, T0 + 80 * S);
  act(id, ACT_RESOLVE);
  pager_resolved(pg, id);
  tick(T0 + 80 * S);
  cr_expect_eq(rx_count("/hook/a", "resolved"), 1);
  cr_expect_eq(rx_count("/hook/b", "resolved"), 1);
  cr_expect_eq(rx_count(NULL, "resolved"), 2, "nobody else");
  cr_expect_eq(rx_count("/hook/z", NULL) + rx_count("/hook/c", NULL), 0);
}

/* A row written by an older runbookd (who was paged as a bit mask by index
 * in the contacts): read against the current contacts, then kept by id. */
struct legacy_row {
  int64_t id;
  unsigned mask;
};

static rb_status
put_legacy_row(struct store *s, void *arg)
{
  struct legacy_row *r = arg;
  struct esc_state e;
  memset(&e, 0, sizeof(e));
  e.incident_id = r->id;
  e.severity = SEV_CRITICAL;
  e.phase = ESC_ACTIVE;
  e.level = 1;
  e.opened_ms = T0;
  e.level_due_ms = T0 + 120 * S;
  e.legacy_mask = r->mask;
  return store_w_esc_put(s, &e, e.level_due_ms);
}

Test(pager, a_legacy_paged_mask_is_read_once_by_the_current_contacts)
{
  struct legacy_row r;

  open_incidents("Old", "critical", 1, &r.id);
  r.mask = 1u << 0 | 1u << 1; /* a and b: the first two of make_policy's contacts */
  cr_assert_eq(store_submit(st, put_legacy_row, &r), RB_OK);
  start_pager("\"progress_interval_seconds\":0", 1);
  atomic_store(&clock_ms, T0 + 70 * S);
  act(r.id, ACT_ACK);
  pager_acked(pg, r.id);
  tick(T0 + 70 * S);
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1);
  cr_expect_eq(rx_count("/hook/b", "acknowledged"), 1);
  cr_expect_eq(rx_count(NULL, "acknowledged"), 2);
  /* Kept by id from now on: a reordering reload changes nothing. */
  reorder_contacts = 1;
  pager_reload(pg, make_policy("\"progress_interval_seconds\":0"));
  atomic_store(&clock_ms, T0 + 80 * S);
  act(r.id, ACT_RESOLVE);
  pager_resolved(pg, r.id);
  tick(T0 + 80 * S);
  cr_expect_eq(rx_count("/hook/a", "resolved"), 1);
  cr_expect_eq(rx_count("/hook/b", "resolved"), 1);
  cr_expect_eq(rx_count(NULL, "resolved"), 2);
}

/* ------------------------------------------- paging off, then on again */

/* Paging turned off and on again by reloads: the next level whose time
 * came while paging was off is paged when it comes back, and the
 * escalation goes on from there. */
Test(pager, paging_off_and_on_again_resumes_open_escalations)
{
  int64_t id, id2;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1);
  pager_reload(pg, load_policy("{\"progress_interval_seconds\":0}")); /* no contacts: off */
  tick(T0 + 30 * S);
  tick(T0 + 60 * S); /* Bob's time comes while paging is off */
  cr_expect_eq(rx_total(), 1, "nothing is sent while paging is off");
  atomic_store(&clock_ms, T0 + 65 * S);
  open_incidents("WhileOff", "critical", 1, &id2);
  pager_opened(pg, id2); /* paging off: not escalated */

  atomic_store(&clock_ms, T0 + 90 * S);
  pager_reload(pg, make_policy("\"progress_interval_seconds\":0"));
  cr_expect_eq(pager_pending(pg), 1, "the open escalation's timer is back");
  tick(T0 + 90 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1, "the level due meanwhile, when paging is back");
  cr_expect_eq(events(id, "escalated", "\"level\":1"), 1);
  cr_expect_eq(events(id2, "paged", "Alice"), 1, "the incident opened meanwhile starts");
  tick(T0 + 149 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 0);
  tick(T0 + 150 * S);
  cr_expect_eq(rx_count("/hook/c", "escalated"), 1, "and the escalation goes on");
  cr_expect_eq(pager_pending(pg), 2);
}

/* ------------------------------- hooks lost in a crash are made up for */

/* An unack committed, then a crash before the pager's own commit: at the
 * restart the pager sees the incident open while its escalation is
 * acknowledged and resumes it (the current level's full window again). */
Test(pager, unack_lost_in_a_crash_is_made_up_for_at_start)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  atomic_store(&clock_ms, T0 + 10 * S);
  act(id, ACT_ACK);
  pager_acked(pg, id);
  tick(T0 + 10 * S);
  atomic_store(&clock_ms, T0 + 20 * S);
  act(id, ACT_UNACK); /* its hook is lost: the process dies here */
  pager_stop(pg);
  pg = NULL;

  atomic_store(&clock_ms, T0 + 30 * S);
  start_pager("\"progress_interval_seconds\":0", 1);
  tick(T0 + 30 * S);
  tick(T0 + 89 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "the current level's window runs from the restart");
  tick(T0 + 90 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1, "then the next level is paged");
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1);
}

/* An ack committed, then a crash: at the restart the escalation stops and
 * those paged get the acknowledged notice, once. */
Test(pager, ack_lost_in_a_crash_is_made_up_for_at_start_with_its_notice)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  atomic_store(&clock_ms, T0 + 10 * S);
  act(id, ACT_ACK); /* its hook is lost */
  pager_stop(pg);
  pg = NULL;

  atomic_store(&clock_ms, T0 + 20 * S);
  start_pager("\"progress_interval_seconds\":0", 1);
  tick(T0 + 20 * S);
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1, "the acknowledged notice, at start");
  tick(T0 + 60 * S);
  tick(T0 + 600 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "no further level");
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1, "once");
}

/* The timer sees an ack before its hook arrives: one acknowledged notice,
 * not two. */
Test(pager, ack_seen_by_a_timer_before_its_hook_is_told_once)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  tick(T0);
  atomic_store(&clock_ms, T0 + 60 * S);
  act(id, ACT_ACK);
  tick(T0 + 60 * S); /* Bob's timer, before the hook */
  pager_acked(pg, id);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0);
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1);
}

/* Every open escalation keeps a timer, even with nothing due: an exhausted
 * one (progress updates off) resolved with its hook lost, no restart, gets
 * its resolution notices at its check, PAGER_CHECK_MS after its last job. */
Test(pager, resolve_lost_without_a_restart_is_made_up_for_at_the_check)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":0", 1);
  id = open_one("HighLatency", "critical");
  for (int64_t t = T0; t <= T0 + 240 * S; t += 60 * S)
    tick(t);
  cr_expect_eq(events(id, "escalation exhausted", NULL), 1);
  cr_expect_eq(pager_pending(pg), 1, "exhausted, nothing due: a check timer");
  atomic_store(&clock_ms, T0 + 300 * S);
  act(id, ACT_RESOLVE); /* its hook is lost */
  tick(T0 + 240 * S + PAGER_CHECK_MS - 1);
  cr_expect_eq(rx_count(NULL, "resolved"), 0);
  tick(T0 + 240 * S + PAGER_CHECK_MS);
  cr_expect_eq(rx_count(NULL, "resolved"), 3, "the resolution notice to the three paged");
  cr_expect_eq(pager_pending(pg), 0, "done: no timer");
}

/* An acknowledged incident made an emergency by the unavailable trigger
 * escalates along the emergency path: its ack, already taken into account,
 * is not applied again at the next timer. */
Test(pager, acked_incident_made_an_emergency_keeps_escalating)
{
  int64_t id;

  start_pager("\"progress_interval_seconds\":0,\"unavailable\":{\"after_seconds\":90}", 1);
  id = open_one("ServiceDown", "critical");
  tick(T0);
  atomic_store(&clock_ms, T0 + 10 * S);
  act(id, ACT_ACK);
  pager_acked(pg, id);
  tick(T0 + 10 * S);
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "acked: no next level");
  tick(T0 + 90 * S);
  cr_expect_eq(events(id, "escalated", "\"severity\":\"emergency\""), 1);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 2, "the emergency path's first level, sent");
  tick(T0 + 120 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1, "then its next level");
  cr_expect_eq(rx_count("/hook/a", "acknowledged"), 1, "the ack is not told again");
}

/* ----------------------------------------------- steps of the wall clock */

/* The wall clock (what is stored) is the stepped clock plus wall_skew; the
 * timers run on the stepped clock itself, which never jumps. */
static atomic_llong wall_skew;

static int64_t
skewed_wall(void *arg)
{
  (void)arg;
  return (int64_t)atomic_load(&clock_ms) + (int64_t)atomic_load(&wall_skew);
}

static void
start_pager_two_clocks(const char *extra)
{
  struct pager_options o;
  char err[RB_ERRLEN] = "";
  memset(&o, 0, sizeof(o));
  o.store = st;
  o.workers = 1;
  o.now_ms = skewed_wall;
  o.mono_ms = now_fn;
  o.manual = 1;
  cr_assert_eq(pager_start(&o, make_policy(extra), &pg, err), RB_OK, "%s", err);
}

static void
act_wall(int64_t id, enum incident_action a)
{
  char msg[RB_ERRLEN];
  cr_assert_eq(incident_act(st, id, a, "alice", NULL, skewed_wall(NULL), msg), RB_OK, "%s", msg);
}

/* The wall clock steps an hour forward, then two hours back: each level is
 * still paged 60 s (of monotonic time) after the one before, and the
 * stored due times follow the wall clock. */
Test(pager, wall_clock_steps_neither_hurry_nor_delay_escalation)
{
  int64_t id;
  struct esc_due_row *due = NULL;
  size_t n = 0;

  atomic_store(&wall_skew, 0);
  start_pager_two_clocks("\"progress_interval_seconds\":0");
  id = open_one("HighLatency", "critical");
  tick(T0);
  cr_expect_eq(rx_count("/hook/a", "trigger"), 1);

  atomic_store(&wall_skew, 3600 * S); /* +1 h */
  tick(T0 + 5 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "a step of +1 h escalates nothing");
  cr_assert_eq(store_esc_due_all(st, &due, &n), RB_OK);
  cr_expect_eq(n, 1);
  if (n)
    cr_expect_eq(due[0].due_ms, T0 + 3660 * S, "the stored due time moved with the wall clock");
  free(due);
  tick(T0 + 59 * S);
  cr_expect_eq(rx_count("/hook/b", NULL), 0);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/b", "escalated"), 1, "60 s after the first page");
  cr_expect_eq(events(id, "escalated", "\"level\":1"), 1);

  atomic_store(&wall_skew, -3600 * S); /* then -2 h */
  tick(T0 + 70 * S);
  tick(T0 + 119 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 0);
  tick(T0 + 120 * S);
  cr_expect_eq(rx_count("/hook/c", "escalated"), 1, "a step back delays nothing");

  /* And an ack made on the new wall clock still stops the escalation. */
  atomic_store(&clock_ms, T0 + 130 * S);
  act_wall(id, ACT_ACK);
  pager_acked(pg, id);
  tick(T0 + 130 * S);
  cr_expect_eq(rx_count(NULL, "acknowledged"), 3);
  tick(T0 + 300 * S);
  cr_expect_eq(rx_count("/hook/c", NULL), 2, "acked: the last level is not paged again");
}

/* Small differences between the clocks (under PAGER_STEP_MS) move nothing. */
Test(pager, wall_clock_jitter_is_not_a_step)
{
  struct esc_due_row *due = NULL;
  size_t n = 0;

  atomic_store(&wall_skew, 0);
  start_pager_two_clocks("\"progress_interval_seconds\":0");
  open_one("HighLatency", "critical");
  tick(T0);
  atomic_store(&wall_skew, PAGER_STEP_MS - 1);
  tick(T0 + 5 * S);
  cr_assert_eq(store_esc_due_all(st, &due, &n), RB_OK);
  cr_expect_eq(n, 1);
  if (n)
    cr_expect_eq(due[0].due_ms, T0 + 60 * S);
  free(due);
}

/* ------------------------------------- slow receivers delay only their own */

/* A port that accepts connections (the kernel's backlog) and never
 * answers: a receiver that hangs. */
static int
hanging_port(int *fd)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t al = sizeof(a);
  *fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(*fd, 0);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(*fd, 128), 0);
  getsockname(*fd, (struct sockaddr *)&a, &al);
  return ntohs(a.sin_port);
}

static int64_t
real_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Twenty pages to Hal, whose receiver never answers (2 s each), and then
 * one to Bob: Bob's page does not wait behind Hal's; Hal's pages hold one
 * worker, not all four. */
Test(pager, a_hanging_receiver_delays_only_its_own_contacts_pages)
{
  int64_t ids[20], bob, t0, took;
  int bh, port = hanging_port(&bh);
  char json[2048];

  write_file("hmac", "pager-test-hmac-key\n");
  snprintf(json, sizeof(json),
           "{\"progress_interval_seconds\":0,\"multi_component\":{\"deployments\":0},\"policy\":{"
           "\"critical\":{\"path\":[\"h\"],\"methods\":[\"webhook\"]},"
           "\"emergency\":{\"path\":[\"b\"],\"methods\":[\"webhook\"]},"
           "\"high\":{\"path\":[\"b\"],\"methods\":[\"webhook\"]},"
           "\"medium\":{\"path\":[\"b\"],\"methods\":[\"webhook\"]},"
           "\"low\":{\"path\":[\"b\"],\"methods\":[\"webhook\"]}},\"contacts\":{"
           "\"h\":{\"name\":\"Hal\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/h\","
           "\"secret_file\":\"hmac\"}},"
           "\"b\":{\"name\":\"Bob\",\"webhook\":{\"url\":\"http://127.0.0.1:%d/hook/b\","
           "\"secret_file\":\"hmac\"}}},"
           "\"notifiers\":{\"timeout_seconds\":2,\"retries\":0,\"backoff_ms\":1}}",
           port, rx.port);
  start_pager_with(load_policy(json), 4);
  open_incidents("Hanging", "critical", 20, ids);
  for (int i = 0; i < 20; i++)
    pager_opened(pg, ids[i]);
  pager_tick(pg, T0);
  open_incidents("BobsTurn", "high", 1, &bob);
  pager_opened(pg, bob);
  t0 = real_ms();
  pager_tick(pg, T0);
  WAIT_FOR(rx_count("/hook/b", "trigger") == 1);
  took = real_ms() - t0;
  cr_expect_lt(took, 1500, "Bob paged after %lld ms (Hal's pages take 2 s each)", (long long)took);
  pager_stop(pg); /* waits for Hal's page in flight (at most 2 s) */
  pg = NULL;
  close(bh);
  cr_expect_gt(pending(), 15, "Hal's pages wait in the outbox for the next start");
}

/* A target that gave no answer is down for PAGER_DOWN_MS: the next pages
 * skip it for the contact's next method, saying so, then try it again. */
Test(pager, a_target_that_does_not_answer_is_skipped_while_down)
{
  int64_t id1, id2, id3;

  start_pager("\"progress_interval_seconds\":0", 1);
  id1 = open_one("DiskFull", "high");
  tick(T0);
  cr_expect_eq(events(id1, "page failed", "\"attempts\":1"), 1, "Dave's webhook: no answer");
  cr_expect_eq(events(id1, "paged", "\"method\":\"phone\""), 1);

  atomic_store(&clock_ms, T0 + 10 * S);
  id2 = open_one("DiskFull2", "high");
  tick(T0 + 10 * S);
  cr_expect_eq(events(id2, "page failed", "\"attempts\":0"), 1, "down: not tried");
  cr_expect_eq(events(id2, "page failed", "not tried: no answer from this webhook target 10s ago"),
               1);
  cr_expect_eq(events(id2, "paged", "\"method\":\"phone\""), 1, "straight to the phone");

  atomic_store(&clock_ms, T0 + PAGER_DOWN_MS);
  id3 = open_one("DiskFull3", "high");
  tick(T0 + PAGER_DOWN_MS);
  cr_expect_eq(events(id3, "page failed", "\"attempts\":1"), 1, "tried again once the time is up");
  cr_expect_eq(rx_count("/phone/dead", NULL), 3);
}

/* Notices do not wait behind pages: Sam's pages are being retried (503)
 * on one of two workers, the others wait in Sam's lane, and the
 * acknowledged notice to Sam goes out on the other worker at once. */
Test(pager, notices_do_not_wait_behind_pages)
{
  int64_t ids[3], w;

  start_pager_with(retry_policy(), 2);
  open_incidents("Retried", "critical", 3, ids);
  for (int i = 0; i < 3; i++)
    pager_opened(pg, ids[i]);
  pager_tick(pg, T0);
  WAIT_FOR(rx_count("/fail/s", "trigger") >= 2);
  w = open_one("AckedSoon", "critical");
  pager_tick(pg, T0);
  atomic_store(&clock_ms, T0 + S);
  act(w, ACT_ACK);
  pager_acked(pg, w);
  pager_tick(pg, T0 + S);
  WAIT_FOR(rx_count("/fail/s", "acknowledged") == 1);
  /* Done: resolving stops the pages still being sent or waiting. */
  for (int i = 0; i < 3; i++)
    act(ids[i], ACT_RESOLVE);
  act(w, ACT_RESOLVE);
  wait_drained();
  cr_expect_eq(rx_count("/phone/s", NULL), 0);
}

/* An acknowledged escalation stored by an older runbookd (no ack recorded
 * with it): its ack was told then, and is not told again. */
static rb_status
put_old_acked_row(struct store *s, void *arg)
{
  struct esc_state e;
  memset(&e, 0, sizeof(e));
  e.incident_id = *(int64_t *)arg;
  e.severity = SEV_CRITICAL;
  e.phase = ESC_ACKED;
  e.level = 0;
  e.opened_ms = T0;
  e.progress_due_ms = T0 + 60 * S;
  e.legacy_mask = 1u << 0; /* a */
  return store_w_esc_put(s, &e, e.progress_due_ms);
}

Test(pager, an_ack_from_an_older_runbookd_is_not_told_again)
{
  int64_t id;

  open_incidents("OldAck", "critical", 1, &id);
  act(id, ACT_ACK);
  cr_assert_eq(store_submit(st, put_old_acked_row, &id), RB_OK);
  start_pager("\"progress_interval_seconds\":600", 1);
  tick(T0);
  tick(T0 + 60 * S);
  cr_expect_eq(rx_count("/hook/a", "progress"), 1, "its progress update");
  cr_expect_eq(rx_count(NULL, "acknowledged"), 0, "no second acknowledged notice");
  cr_expect_eq(rx_count("/hook/b", NULL), 0, "still acknowledged");
}

/* Forwarding silences upstream: the set's hook, the store's upstream_id
 * column, and the forwarder's retries, give-up and restart against an
 * upstream that refuses connections (the real Alertmanager is in
 * test/integration/test_silences_upstream.py). */
#include "buf.h"
#include "metrics.h"
#include "rbtime.h"
#include "silence.h"
#include "silence_forward.h"
#include "store.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOUR (3600LL * 1000)

static struct silence_spec
spec1(int64_t starts, int64_t ends, const char *value)
{
  struct silence_spec sp;

  memset(&sp, 0, sizeof(sp));
  sp.starts_ms = starts;
  sp.ends_ms = ends;
  sp.created_by = strdup("alice");
  sp.comment = strdup("maintenance \"quoted\"");
  sp.m = calloc(1, sizeof(*sp.m));
  sp.m[0].name = strdup("alertname");
  sp.m[0].value = strdup(value);
  sp.m[0].is_equal = 1;
  sp.n = 1;
  return sp;
}

struct event {
  enum silence_event ev;
  char id[SILENCE_ID_LEN], prev[SILENCE_ID_LEN];
};
static struct event events[8];
static size_t nevents;

static void
record_hook(void *arg, enum silence_event ev, const struct silence *sil, const char *prev)
{
  (void)arg;
  cr_assert_lt(nevents, 8);
  events[nevents].ev = ev;
  snprintf(events[nevents].id, SILENCE_ID_LEN, "%s", sil->id);
  snprintf(events[nevents].prev, SILENCE_ID_LEN, "%s", prev ? prev : "");
  nevents++;
}

Test(silence_forward, hook_sees_every_change_in_order)
{
  struct silences *s = NULL;
  struct silence_spec sp;
  char err[RB_ERRLEN], id[SILENCE_ID_LEN], id2[SILENCE_ID_LEN];
  int64_t now = rb_wall_ms();

  cr_assert_eq(silences_open(NULL, &s, err), RB_OK, "%s", err);
  silences_set_hook(s, record_hook, NULL);
  nevents = 0;
  sp = spec1(now, now + HOUR, "Foo");
  cr_assert_eq(silences_set(s, &sp, now, id, err), RB_OK, "%s", err);
  silence_spec_clear(&sp);
  /* Other matchers: the old one is expired and replaced. */
  sp = spec1(now, now + HOUR, "Bar");
  snprintf(sp.id, sizeof(sp.id), "%s", id);
  cr_assert_eq(silences_set(s, &sp, now + 10, id2, err), RB_OK, "%s", err);
  silence_spec_clear(&sp);
  cr_assert_str_neq(id, id2);
  cr_assert_eq(silences_expire(s, id2, now + 20, err), RB_OK, "%s", err);
  cr_assert_eq(silences_expire(s, id2, now + 30, err), RB_OK, "%s", err); /* no change */
  cr_assert_eq(nevents, 3);
  cr_expect_eq(events[0].ev, SIL_EV_SET);
  cr_expect_str_eq(events[0].id, id);
  cr_expect_str_eq(events[0].prev, "");
  cr_expect_eq(events[1].ev, SIL_EV_SET);
  cr_expect_str_eq(events[1].id, id2);
  cr_expect_str_eq(events[1].prev, id, "a replacement names the silence it replaced");
  cr_expect_eq(events[2].ev, SIL_EV_EXPIRE);
  cr_expect_str_eq(events[2].id, id2);
  silences_free(s);
}

struct up_job {
  const char *id, *up;
};

static rb_status
set_up(struct store *st, void *arg)
{
  struct up_job *j = arg;
  return store_w_silence_upstream(st, j->id, j->up);
}

static rb_status
put_row(struct store *st, void *arg)
{
  return store_w_silence_put(st, arg);
}

static void
rm_rf(const char *dir)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_expect_eq(system(cmd), 0);
}

Test(silence_forward, upstream_id_column_round_trip)
{
  char dir[] = "/tmp/rb-silfwd-XXXXXX", err[RB_ERRLEN];
  struct store_options so;
  struct store *st = NULL;
  struct silence_row r, *rows = NULL;
  struct up_job j
      = { "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222" };
  size_t n = 0;

  cr_assert_not_null(mkdtemp(dir));
  memset(&so, 0, sizeof(so));
  so.sqlite_dir = dir;
  cr_assert_eq(store_open(&so, &st, err), RB_OK, "%s", err);
  memset(&r, 0, sizeof(r));
  snprintf(r.id, sizeof(r.id), "%s", j.id);
  r.matchers_json = (char *)"[{\"name\":\"a\",\"value\":\"b\",\"isRegex\":false,\"isEqual\":true}]";
  r.starts_ms = 1;
  r.ends_ms = 2;
  r.updated_ms = 1;
  r.created_by = (char *)"x";
  r.comment = (char *)"y";
  cr_assert_eq(store_submit(st, put_row, &r), RB_OK);
  cr_assert_eq(store_submit(st, set_up, &j), RB_OK);
  r.ends_ms = 3; /* a later change without an upstream id keeps it */
  cr_assert_eq(store_submit(st, put_row, &r), RB_OK);
  cr_assert_eq(store_silences_all(st, &rows, &n), RB_OK);
  cr_assert_eq(n, 1);
  cr_expect_eq(rows[0].ends_ms, 3);
  cr_expect_str_eq(rows[0].upstream_id, j.up);
  silence_rows_free(rows, n);
  store_close(st);

  cr_assert_eq(store_open(&so, &st, err), RB_OK, "%s", err); /* migrations run once */
  cr_assert_eq(store_silences_all(st, &rows, &n), RB_OK);
  cr_assert_eq(n, 1);
  cr_expect_str_eq(rows[0].upstream_id, j.up);
  silence_rows_free(rows, n);
  store_close(st);
  rm_rf(dir);
}

static double
fwd_count(const char *outcome)
{
  struct buf b;
  char key[128];
  const char *p;
  double v = -1;

  buf_init(&b, 0);
  cr_assert_eq(metrics_render(&b, NULL), RB_OK);
  snprintf(key, sizeof(key), "runbookd_silence_forward_total{outcome=\"%s\"} ", outcome);
  p = strstr(b.data, key);
  if (p)
    v = strtod(p + strlen(key), NULL);
  buf_free(&b);
  return v;
}

/* A loopback port nothing listens on. */
static int
closed_port(void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

Test(silence_forward, unreachable_upstream_retries_gives_up_and_requeues_at_start)
{
  char dir[] = "/tmp/rb-silfwd-XXXXXX", err[RB_ERRLEN], url[64], id[SILENCE_ID_LEN];
  char up[SILENCE_ID_LEN];
  struct store_options so;
  struct silence_fwd_options fo;
  struct store *st = NULL;
  struct silences *s = NULL;
  struct silence_fwd *f = NULL;
  struct silence_spec sp;
  double retry0, failed0, skipped0;
  int64_t now = rb_wall_ms();

  metrics_init();
  retry0 = fwd_count("retry");
  failed0 = fwd_count("failed");
  skipped0 = fwd_count("skipped");
  cr_assert_geq(retry0, 0, "the metric is rendered");
  cr_assert_not_null(mkdtemp(dir));
  memset(&so, 0, sizeof(so));
  so.sqlite_dir = dir;
  cr_assert_eq(store_open(&so, &st, err), RB_OK, "%s", err);
  cr_assert_eq(silences_open(st, &s, err), RB_OK, "%s", err);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", closed_port());
  memset(&fo, 0, sizeof(fo));
  fo.url = url;
  fo.bearer_token = "tok";
  fo.timeout_s = 2;
  fo.max_attempts = 3;
  fo.backoff_ms = 10;
  fo.store = st;
  cr_assert_eq(silence_fwd_start(&fo, &f, err), RB_OK, "%s", err);
  silences_set_hook(s, silence_fwd_hook, f);

  sp = spec1(now, now + HOUR, "Foo");
  cr_assert_eq(silences_set(s, &sp, now, id, err), RB_OK, "the local change succeeds: %s", err);
  silence_spec_clear(&sp);
  cr_assert(silence_fwd_idle(f, 20000), "the forwarder gave up in time");
  cr_expect_eq(fwd_count("retry"), retry0 + 2, "two retries");
  cr_expect_eq(fwd_count("failed"), failed0 + 1, "then failed");
  silence_fwd_upstream_id(f, id, up);
  cr_expect_str_eq(up, "", "no upstream id recorded");

  /* A restart queues the silence that never reached the upstream. */
  silences_set_hook(s, NULL, NULL);
  silence_fwd_stop(f);
  cr_assert_eq(silence_fwd_start(&fo, &f, err), RB_OK, "%s", err);
  cr_assert(silence_fwd_idle(f, 20000));
  cr_expect_eq(fwd_count("failed"), failed0 + 2, "forwarded again at start (and failed)");

  /* Expiring it: the upstream never had it, nothing to send. */
  silences_set_hook(s, silence_fwd_hook, f);
  cr_assert_eq(silences_expire(s, id, rb_wall_ms(), err), RB_OK, "%s", err);
  cr_assert(silence_fwd_idle(f, 20000));
  cr_expect_eq(fwd_count("skipped"), skipped0 + 1);
  silences_set_hook(s, NULL, NULL);
  silence_fwd_stop(f);
  silences_free(s);
  store_close(st);
  rm_rf(dir);
}

/* Unit tests for ratelimit.c: every limit, with a stepped clock. */
#include "plan.h"
#include "ratelimit.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const struct rl_global g = { 6, 30 };
static const struct plan_limits lim = { 1, 900, 3, 7, 3, 3600 };

static void
add(struct rl_history *h, int64_t id, const char *plan, const char *target, int64_t inc,
    int64_t start, int64_t end, enum rl_outcome o)
{
  struct rl_run r;
  memset(&r, 0, sizeof(r));
  r.run_id = id;
  snprintf(r.plan, sizeof(r.plan), "%s", plan);
  snprintf(r.target, sizeof(r.target), "%s", target);
  r.incident_id = inc;
  r.started_ms = start;
  r.finished_ms = end;
  r.outcome = o;
  cr_assert_eq(rl_history_add(h, &r), RB_OK);
}

static enum rl_verdict
check(const struct rl_history *h, const struct plan_limits *l, int64_t inc, int64_t now,
      char *why)
{
  return ratelimit_check(&g, l, "p", "ns/d", inc, h, now, why, 256);
}

#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)

Test(ratelimit, empty_history_allows)
{
  struct rl_history h = { 0 };
  char why[256];
  cr_assert_eq(check(&h, &lim, 1, 10 * HOUR, why), RL_ALLOW);
}

Test(ratelimit, one_run_per_target)
{
  struct rl_history h = { 0 };
  char why[256];
  add(&h, 7, "other-plan", "ns/d", 1, 0, 0, RL_RUNNING);
  cr_assert_eq(check(&h, &lim, 2, MIN, why), RL_TARGET_BUSY);
  cr_assert(strstr(why, "run 7"), "%s", why);
  rl_history_free(&h);
}

Test(ratelimit, attempts_per_incident)
{
  struct rl_history h = { 0 };
  char why[256];
  add(&h, 1, "p", "ns/d", 5, 0, MIN, RL_SUCCEEDED);
  cr_assert_eq(check(&h, &lim, 5, 10 * HOUR, why), RL_INCIDENT_ATTEMPTS);
  cr_assert_eq(check(&h, &lim, 6, 10 * HOUR, why), RL_ALLOW);
  rl_history_free(&h);
}

Test(ratelimit, cooldown_steps_with_the_clock)
{
  struct rl_history h = { 0 };
  char why[256];
  add(&h, 1, "p", "ns/d", 1, 0, 10 * MIN, RL_SUCCEEDED);
  cr_assert_eq(check(&h, &lim, 2, 10 * MIN + 899999, why), RL_COOLDOWN);
  cr_assert(strstr(why, "cooling down"), "%s", why);
  cr_assert_eq(check(&h, &lim, 2, 10 * MIN + 900000, why), RL_ALLOW);
  rl_history_free(&h);
}

Test(ratelimit, hourly_and_daily_caps)
{
  struct rl_history h = { 0 };
  struct plan_limits l = lim;
  char why[256];
  l.cooldown_s = 0;
  for (int i = 0; i < 3; i++)
    add(&h, i + 1, "p", "ns/d", 100 + i, i * MIN, i * MIN + 1000, RL_SUCCEEDED);
  cr_assert_eq(check(&h, &l, 9, 30 * MIN, why), RL_PLAN_HOUR);
  cr_assert(strstr(why, "3 times"), "%s", why);
  cr_assert_eq(check(&h, &l, 9, HOUR + 3 * MIN, why), RL_ALLOW);
  for (int i = 3; i < 7; i++)
    add(&h, i + 1, "p", "ns/d", 100 + i, i * 2 * HOUR, i * 2 * HOUR + 1000, RL_SUCCEEDED);
  cr_assert_eq(check(&h, &l, 9, 20 * HOUR, why), RL_PLAN_DAY);
  cr_assert_eq(check(&h, &l, 9, 25 * HOUR + 1000, why), RL_ALLOW);
  /* Another target is not capped by this one. */
  cr_assert_eq(ratelimit_check(&g, &l, "p", "ns/other", 9, &h, 20 * HOUR, why, 256), RL_ALLOW);
  rl_history_free(&h);
}

Test(ratelimit, circuit_breaker_opens_and_half_opens)
{
  struct rl_history h = { 0 };
  struct plan_limits l = lim;
  char why[256];
  l.cooldown_s = 0;
  l.max_per_hour = 100;
  l.max_per_day = 100;
  add(&h, 1, "p", "ns/a", 1, 0, MIN, RL_FAILED);
  add(&h, 2, "p", "ns/b", 2, MIN, 2 * MIN, RL_FAILED);
  cr_assert_eq(check(&h, &l, 9, 3 * MIN, why), RL_ALLOW); /* 2 of 3 */
  add(&h, 3, "p", "ns/c", 3, 2 * MIN, 3 * MIN, RL_FAILED);
  cr_assert_eq(check(&h, &l, 9, 4 * MIN, why), RL_BREAKER_OPEN);
  cr_assert(strstr(why, "failed 3 times in a row"), "%s", why);
  /* Half-open after the reset: one try is allowed. */
  cr_assert_eq(check(&h, &l, 9, 3 * MIN + HOUR, why), RL_ALLOW);
  /* A success closes it. */
  add(&h, 4, "p", "ns/e", 4, 3 * MIN + HOUR, 4 * MIN + HOUR, RL_SUCCEEDED);
  add(&h, 5, "p", "ns/f", 5, 5 * MIN + HOUR, 6 * MIN + HOUR, RL_FAILED);
  cr_assert_eq(check(&h, &l, 9, 7 * MIN + HOUR, why), RL_ALLOW);
  rl_history_free(&h);
}

Test(ratelimit, global_limits)
{
  struct rl_history h = { 0 };
  char why[256];
  for (int i = 0; i < 6; i++) {
    char t[32];
    snprintf(t, sizeof(t), "ns/x%d", i);
    add(&h, i + 1, "q", t, 50 + i, i * 1000, i * 1000 + 500, RL_SUCCEEDED);
  }
  cr_assert_eq(check(&h, &lim, 9, 30000, why), RL_GLOBAL_MINUTE);
  cr_assert_eq(check(&h, &lim, 9, 70000, why), RL_ALLOW);
  for (int i = 6; i < 30; i++) {
    char t[32];
    snprintf(t, sizeof(t), "ns/x%d", i);
    add(&h, i + 1, "q", t, 50 + i, 2 * MIN * i, 2 * MIN * i + 500, RL_SUCCEEDED);
  }
  cr_assert_eq(check(&h, &lim, 9, 59 * MIN + 1000, why), RL_GLOBAL_HOUR);
  rl_history_free(&h);
}

Test(ratelimit, history_finish_and_prune)
{
  struct rl_history h = { 0 };
  char why[256];
  add(&h, 1, "p", "ns/d", 1, 0, 0, RL_RUNNING);
  cr_assert_eq(check(&h, &lim, 2, MIN, why), RL_TARGET_BUSY);
  rl_history_finish(&h, 1, RL_SUCCEEDED, MIN);
  cr_assert_eq(check(&h, &lim, 2, 20 * MIN, why), RL_ALLOW);
  rl_history_prune(&h, 30 * HOUR, 24 * HOUR);
  cr_assert_eq(h.n, 0);
  rl_history_free(&h);
}

/* A run's objects: every Deployment and ConfigMap it may change. */
static void
add_objects(struct rl_history *h, int64_t id, const char *plan, const char *target,
            const char *objects, int64_t start, int64_t end, enum rl_outcome o)
{
  struct rl_run r;
  char copy[512];
  memset(&r, 0, sizeof(r));
  r.run_id = id;
  snprintf(r.plan, sizeof(r.plan), "%s", plan);
  snprintf(r.target, sizeof(r.target), "%s", target);
  r.incident_id = id;
  r.started_ms = start;
  r.finished_ms = end;
  r.outcome = o;
  snprintf(copy, sizeof(copy), "%s", objects);
  r.objects = copy; /* copied by rl_history_add */
  cr_assert_eq(rl_history_add(h, &r), RB_OK);
}

#define OUTAGE                                                                                     \
  "\ndeployment ns/api-gateway\ndeployment ns/cognitive-core\ndeployment ns/swarm-coordination\n"

Test(ratelimit, one_run_per_object_whatever_the_target)
{
  struct rl_history h = { 0 };
  char why[512];
  int other = -1;

  /* Plan 01 targets api-gateway and restarts cognitive-core too. */
  add_objects(&h, 7, "complete-outage", "ns/api-gateway", OUTAGE, 0, 0, RL_RUNNING);
  /* Plan 11 on cognitive-core: busy, and not coalesced (another target). */
  cr_assert_eq(ratelimit_check_objects(&g, &lim, "failed-health-check", "ns/cognitive-core",
                                       "\ndeployment ns/cognitive-core\n", 2, &h, MIN, why,
                                       sizeof(why), &other),
               RL_TARGET_BUSY);
  cr_assert_eq(other, 1);
  cr_assert(strstr(why, "run 7 (plan complete-outage) of ns/api-gateway is still running and "
                        "may change deployment ns/cognitive-core"),
            "%s", why);
  /* The old entry point (replay: its own objects are its target alone)
   * still sees the running run's objects. */
  cr_assert_eq(ratelimit_check(&g, &lim, "p", "ns/cognitive-core", 2, &h, MIN, why, sizeof(why)),
               RL_TARGET_BUSY);
  /* A ConfigMap shared is an overlap too; nothing shared is none. */
  cr_assert_eq(ratelimit_check_objects(&g, &lim, "q", "ns/agentdb",
                                       "\ndeployment ns/agentdb\nconfigmap ns/agentdb-config\n", 3,
                                       &h, MIN, why, sizeof(why), &other),
               RL_ALLOW);
  /* The same target: coalesced as before. */
  cr_assert_eq(ratelimit_check_objects(&g, &lim, "complete-outage", "ns/api-gateway", OUTAGE, 4, &h,
                                       MIN, why, sizeof(why), &other),
               RL_TARGET_BUSY);
  cr_assert_eq(other, 0);
  rl_history_free(&h);
}

Test(ratelimit, cooldown_covers_every_object_a_run_changed)
{
  struct rl_history h = { 0 };
  char why[512];
  int other = -1;

  add_objects(&h, 7, "complete-outage", "ns/api-gateway", OUTAGE, 0, 10 * MIN, RL_SUCCEEDED);
  add_objects(&h, 8, "tune", "ns/agentdb", "\ndeployment ns/agentdb\nconfigmap ns/shared\n", 0,
              10 * MIN, RL_SUCCEEDED);
  cr_assert_eq(ratelimit_check_objects(&g, &lim, "failed-health-check", "ns/cognitive-core",
                                       "\ndeployment ns/cognitive-core\n", 2, &h, 11 * MIN, why,
                                       sizeof(why), &other),
               RL_COOLDOWN);
  cr_assert_eq(other, 1);
  cr_assert(strstr(why, "deployment ns/cognitive-core is cooling down: remediation run 7 "
                        "(plan complete-outage) of ns/api-gateway changed it"),
            "%s", why);
  cr_assert_eq(ratelimit_check_objects(&g, &lim, "other", "ns/web",
                                       "\ndeployment ns/web\nconfigmap ns/shared\n", 3, &h,
                                       11 * MIN, why, sizeof(why), &other),
               RL_COOLDOWN);
  cr_assert(strstr(why, "configmap ns/shared"), "%s", why);
  /* After the cooldown (900 s). */
  cr_assert_eq(ratelimit_check_objects(&g, &lim, "failed-health-check", "ns/cognitive-core",
                                       "\ndeployment ns/cognitive-core\n", 2, &h, 26 * MIN, why,
                                       sizeof(why), &other),
               RL_ALLOW);
  rl_history_prune(&h, 30 * HOUR, HOUR); /* frees the copies */
  cr_assert_eq(h.n, 0);
  rl_history_free(&h);
}

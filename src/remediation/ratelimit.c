/* ratelimit.c - remediation limits as pure decisions (see ratelimit.h). */
#include "ratelimit.h"
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verdict_names[RL_VERDICT_COUNT] = {
  "allowed", "target_busy", "incident_attempts", "cooldown", "breaker_open",
  "plan_hourly_cap", "plan_daily_cap", "global_per_minute", "global_per_hour",
};

const char *
rl_verdict_name(enum rl_verdict v)
{
  return (unsigned)v < RL_VERDICT_COUNT ? verdict_names[v] : "unknown";
}

/* The first object of a (plan_objects' format) that b holds too, copied
 * into out; 0 when they share none.  A NULL list is its target alone. */
static int
overlap(const char *a, const char *a_target, const char *b, const char *b_target, char *out,
        size_t n)
{
  char ta[400], tb[400];
  const char *p;

  snprintf(ta, sizeof(ta), "\ndeployment %s\n", a_target);
  snprintf(tb, sizeof(tb), "\ndeployment %s\n", b_target);
  if (!a)
    a = ta;
  if (!b)
    b = tb;
  for (p = a; (p = strchr(p, '\n')) && p[1]; p++) {
    const char *end = strchr(p + 1, '\n');
    char e[400];
    size_t len;
    if (!end)
      break;
    len = (size_t)(end - p) + 1; /* "\nKIND NS/NAME\n" */
    if (len >= sizeof(e))
      continue;
    memcpy(e, p, len);
    e[len] = '\0';
    if (strstr(b, e)) {
      snprintf(out, n, "%.*s", (int)(len - 2), e + 1);
      return 1;
    }
  }
  return 0;
}

enum rl_verdict
ratelimit_check(const struct rl_global *g, const struct plan_limits *l, const char *plan,
                const char *target, int64_t incident_id, const struct rl_history *h,
                int64_t now_ms, char *reason, size_t rlen)
{
  return ratelimit_check_objects(g, l, plan, target, NULL, incident_id, h, now_ms, reason, rlen,
                                 NULL);
}

enum rl_verdict
ratelimit_check_objects(const struct rl_global *g, const struct plan_limits *l, const char *plan,
                        const char *target, const char *objects, int64_t incident_id,
                        const struct rl_history *h, int64_t now_ms, char *reason, size_t rlen,
                        int *other_target)
{
  unsigned attempts = 0, plan_hour = 0, plan_day = 0, glob_min = 0, glob_hour = 0;
  unsigned consecutive_failures = 0;
  int64_t last_end = 0, last_failure = 0;
  int streak_open = 1, last_end_other = 0;
  char shared[400], last_shared[400] = "";
  const struct rl_run *last_run = NULL;

  if (other_target)
    *other_target = 0;
  for (size_t i = h->n; i-- > 0;) {
    const struct rl_run *r = &h->v[i];
    int same_target = strcmp(r->target, target) == 0;
    int same_plan = strcmp(r->plan, plan) == 0;
    int shares
        = same_target || overlap(objects, target, r->objects, r->target, shared, sizeof(shared));

    if (shares && r->outcome == RL_RUNNING) {
      if (same_target)
        snprintf(reason, rlen, "remediation run %lld (plan %s) of %s is still running",
                 (long long)r->run_id, r->plan, target);
      else
        snprintf(reason, rlen,
                 "remediation run %lld (plan %s) of %s is still running and may change %s, "
                 "which this plan changes too",
                 (long long)r->run_id, r->plan, r->target, shared);
      if (other_target)
        *other_target = !same_target;
      return RL_TARGET_BUSY;
    }
    if (same_plan && r->incident_id == incident_id)
      attempts++;
    if (shares && r->finished_ms > last_end) {
      last_end = r->finished_ms;
      last_end_other = !same_target;
      last_run = r;
      snprintf(last_shared, sizeof(last_shared), "%s", same_target ? "" : shared);
    }
    if (same_plan && same_target) {
      if (now_ms - r->started_ms < 3600 * 1000)
        plan_hour++;
      if (now_ms - r->started_ms < 86400 * 1000)
        plan_day++;
    }
    if (now_ms - r->started_ms < 60 * 1000)
      glob_min++;
    if (now_ms - r->started_ms < 3600 * 1000)
      glob_hour++;
    /* Consecutive failures of the plan, newest first, up to a success. */
    if (same_plan && streak_open && r->outcome != RL_RUNNING) {
      if (r->outcome == RL_FAILED) {
        consecutive_failures++;
        if (r->finished_ms > last_failure)
          last_failure = r->finished_ms;
      } else {
        streak_open = 0;
      }
    }
  }
  if (attempts >= l->max_attempts_per_incident) {
    snprintf(reason, rlen, "plan %s already ran %u time%s for incident %lld (limit %u)", plan,
             attempts, attempts == 1 ? "" : "s", (long long)incident_id,
             l->max_attempts_per_incident);
    return RL_INCIDENT_ATTEMPTS;
  }
  if (last_end && now_ms - last_end < (int64_t)l->cooldown_s * 1000) {
    if (last_end_other)
      snprintf(reason, rlen,
               "%s is cooling down: remediation run %lld (plan %s) of %s changed it and ended "
               "%llds ago (cooldown %us)",
               last_shared, (long long)last_run->run_id, last_run->plan, last_run->target,
               (long long)((now_ms - last_end) / 1000), l->cooldown_s);
    else
      snprintf(reason, rlen,
               "%s is cooling down: its last remediation ended %llds ago (cooldown %us)", target,
               (long long)((now_ms - last_end) / 1000), l->cooldown_s);
    if (other_target)
      *other_target = last_end_other;
    return RL_COOLDOWN;
  }
  if (consecutive_failures >= l->breaker_failures
      && now_ms - last_failure < (int64_t)l->breaker_reset_s * 1000) {
    snprintf(reason, rlen,
             "circuit breaker open: plan %s failed %u times in a row; it closes %llds after the "
             "last failure",
             plan, consecutive_failures,
             (long long)((last_failure + (int64_t)l->breaker_reset_s * 1000 - now_ms) / 1000));
    return RL_BREAKER_OPEN;
  }
  if (plan_hour >= l->max_per_hour) {
    snprintf(reason, rlen, "plan %s already ran %u times on %s in the last hour (limit %u)", plan,
             plan_hour, target, l->max_per_hour);
    return RL_PLAN_HOUR;
  }
  if (plan_day >= l->max_per_day) {
    snprintf(reason, rlen, "plan %s already ran %u times on %s in the last day (limit %u)", plan,
             plan_day, target, l->max_per_day);
    return RL_PLAN_DAY;
  }
  if (glob_min >= g->per_minute) {
    snprintf(reason, rlen, "%u remediations started in the last minute (global limit %u)",
             glob_min, g->per_minute);
    return RL_GLOBAL_MINUTE;
  }
  if (glob_hour >= g->per_hour) {
    snprintf(reason, rlen, "%u remediations started in the last hour (global limit %u)",
             glob_hour, g->per_hour);
    return RL_GLOBAL_HOUR;
  }
  snprintf(reason, rlen, "within limits");
  return RL_ALLOW;
}

rb_status
rl_history_add(struct rl_history *h, const struct rl_run *r)
{
  char *objects = NULL;

  if (r->objects && !(objects = strdup(r->objects)))
    return RB_ENOMEM;
  if (rb_grow((void **)&h->v, &h->cap, h->n, sizeof(*h->v))) {
    free(objects);
    return RB_ENOMEM;
  }
  h->v[h->n] = *r;
  h->v[h->n++].objects = objects;
  return RB_OK;
}

void
rl_history_finish(struct rl_history *h, int64_t run_id, enum rl_outcome o, int64_t now_ms)
{
  for (size_t i = h->n; i-- > 0;) {
    if (h->v[i].run_id == run_id) {
      h->v[i].outcome = o;
      h->v[i].finished_ms = now_ms;
      return;
    }
  }
}

void
rl_history_prune(struct rl_history *h, int64_t now_ms, int64_t keep_ms)
{
  size_t k = 0;
  for (size_t i = 0; i < h->n; i++) {
    struct rl_run *r = &h->v[i];
    if (r->outcome == RL_RUNNING || now_ms - r->started_ms < keep_ms)
      h->v[k++] = *r;
    else
      free(r->objects);
  }
  h->n = k;
}

void
rl_history_free(struct rl_history *h)
{
  for (size_t i = 0; i < h->n; i++)
    free(h->v[i].objects);
  free(h->v);
  memset(h, 0, sizeof(*h));
}

/*
 * ratelimit.h - the limits that bound what remediation may do, as pure
 * decisions over a history of runs and the time `now` passed in (so tests
 * step a clock instead of sleeping).
 *
 * Checked in this order: one run per target at a time; attempts per
 * incident; the target's cooldown; the plan's circuit breaker; the plan's
 * caps per target ("3 an hour, 7 a day"); the global actions per minute and
 * per hour.  The first that refuses names itself in `reason`.
 *
 * "Target" for the first and the cooldown means every object a run may
 * change (plan_objects: its target, the other Deployments and ConfigMaps
 * its steps name): a run is busy, or cooling down, for another whose
 * objects overlap its own, whatever their primary targets.
 */
#ifndef RUNBOOKD_RATELIMIT_H
#define RUNBOOKD_RATELIMIT_H

#include "rb.h"

struct plan_limits;

enum rl_outcome { RL_RUNNING = 0, RL_SUCCEEDED, RL_FAILED };

struct rl_run {
  int64_t run_id;
  char plan[128];
  char target[320];    /* "namespace/deployment" */
  int64_t incident_id;
  int64_t started_ms;
  int64_t finished_ms; /* 0 while running */
  enum rl_outcome outcome;
  /* The objects the run may change, as plan_objects writes them
   * ("\ndeployment NS/NAME\nconfigmap NS/NAME\n"); NULL: the target
   * Deployment alone.  rl_history_add copies it; the history owns its
   * copy. */
  char *objects;
};

/* Runs in start order.  Not thread-safe: the engine guards it. */
struct rl_history {
  struct rl_run *v;
  size_t n, cap;
};

struct rl_global {
  unsigned per_minute;
  unsigned per_hour;
};

enum rl_verdict {
  RL_ALLOW = 0,
  RL_TARGET_BUSY,     /* coalesced into the run already going */
  RL_INCIDENT_ATTEMPTS,
  RL_COOLDOWN,
  RL_BREAKER_OPEN,
  RL_PLAN_HOUR,
  RL_PLAN_DAY,
  RL_GLOBAL_MINUTE,
  RL_GLOBAL_HOUR,
  RL_VERDICT_COUNT
};

const char *rl_verdict_name(enum rl_verdict v);

enum rl_verdict ratelimit_check(const struct rl_global *g, const struct plan_limits *l,
                                const char *plan, const char *target, int64_t incident_id,
                                const struct rl_history *h, int64_t now_ms, char *reason,
                                size_t reason_len);
/* The same for a run that may change objects (plan_objects' format; NULL:
 * the target alone).  *other_target (may be NULL) is set to 1 when
 * RL_TARGET_BUSY or RL_COOLDOWN comes from a run of another primary target
 * whose objects overlap these (the engine then escalates instead of
 * coalescing), else 0. */
enum rl_verdict ratelimit_check_objects(const struct rl_global *g, const struct plan_limits *l,
                                        const char *plan, const char *target, const char *objects,
                                        int64_t incident_id, const struct rl_history *h,
                                        int64_t now_ms, char *reason, size_t reason_len,
                                        int *other_target);

rb_status rl_history_add(struct rl_history *h, const struct rl_run *r);
/* Marks run_id finished; no-op when unknown. */
void rl_history_finish(struct rl_history *h, int64_t run_id, enum rl_outcome o, int64_t now_ms);
/* Drops finished runs older than keep_ms (running ones are kept). */
void rl_history_prune(struct rl_history *h, int64_t now_ms, int64_t keep_ms);
void rl_history_free(struct rl_history *h);

#endif

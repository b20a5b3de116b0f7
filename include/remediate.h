/*
 * remediate.h - the remediation engine: decides, under limits, whether a
 * firing alert's plan runs, and runs it step by step on worker threads,
 * never on the webhook's request path.
 *
 * Every decision, taken or refused, is a timeline event.  Each run is
 * durable (store.h, struct rem_run): before a request is sent its exact
 * form is committed with what its object looked like (rem_run.pending
 * holds the run's state as a JSON object), so after a crash the run reads
 * each object again and re-sends that same request only if the object is
 * unchanged, skips it if it was applied already, and otherwise abandons
 * the run and escalates: no step is lost, applied twice, or applied over
 * someone else's change.
 */
#ifndef RUNBOOKD_REMEDIATE_H
#define RUNBOOKD_REMEDIATE_H

#include "ratelimit.h"
#include "rb.h"

#include <stdio.h>

struct am_labels;
struct engine;
struct kube_client;
struct plan_set;
struct store;

struct engine_options {
  struct store *store;
  struct kube_client *kube;   /* NULL: no cluster; everything is dry-run */
  int dry_run;
  unsigned workers;           /* decision threads */
  unsigned max_runs;          /* runs executing at once (executor threads) */
  unsigned queue_size;
  struct rl_global global;
  const char *prometheus_url; /* copied */
  const char *pg_conninfo;    /* copied, wiped on stop */
  /* Silences (the escalation module): return 1 and the silence id when
   * the labels are silenced.  NULL: nothing is silenced. */
  int (*silenced)(void *arg, const struct am_labels *labels, char *id, size_t idlen);
  /* Called when a remediation is refused, fails or does not verify. */
  void (*escalate)(void *arg, int64_t incident_id, const char *reason);
  void *hook_arg;
};

/* Starts the workers, and queues what a previous process left: runs still
 * running, and incidents never evaluated.  plans' reference passes to the
 * engine.  err (RB_ERRLEN). */
rb_status engine_start(const struct engine_options *o, struct plan_set *plans,
                       struct engine **out, char *err);

/* Replaces the plans, limits, Prometheus URL, PostgreSQL conninfo and
 * dry-run (a reload).  plans' reference passes.  dry_run applies to runs
 * decided from now on; a run keeps the mode it was decided with, except
 * that turning dry-run on makes a live run in progress withhold every
 * change it has not started sending (the more cautious mode wins: a dry
 * run never turns live).  Without a cluster the engine stays dry.  A
 * change is logged ("dry_run changed"). */
void engine_reload(struct engine *e, struct plan_set *plans, const struct rl_global *g,
                   const char *prometheus_url, const char *pg_conninfo, int dry_run);

/* Asks for a decision on an incident whose alert just fired (after its
 * commit).  Never blocks; when the queue is full the incident stays
 * pending in the store and is evaluated at the next start.  received_ns is
 * the monotonic time the webhook arrived (0: unknown). */
void engine_submit(struct engine *e, int64_t incident_id, int64_t received_ns);

/* Whether a plan matches these labels at this severity (so the incident
 * needs a decision).  Cheap; any thread. */
int engine_wants(struct engine *e, const struct am_labels *labels, int severity);

/* Stops taking work, lets each worker finish its current request, and
 * joins them; runs in progress resume at the next start.  Accepts NULL. */
void engine_stop(struct engine *e);

/* Whether runs decided now are dry.  Any thread. */
int engine_dry_run(struct engine *e);

struct plan;
/* Writes to out, one line per step, what plan p would send to target
 * ns/deploy with no cluster to read from (as dry-run without a cluster and
 * `replay` show it).  Any thread. */
void remediation_preview(const struct plan *p, const char *ns, const char *deploy, FILE *out);

#endif

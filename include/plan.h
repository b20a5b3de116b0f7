/*
 * plan.h - remediation plans: the runbooks as files in remediation/.
 *
 * A plan matches alerts (Alertmanager matchers, optionally severities),
 * names how its target Deployment is found and which namespaces and
 * Deployments it may touch, lists its steps, the checks that verify them,
 * the steps to take when verification fails, and its limits.  Plans are
 * JSON; plan_load_dir() validates every file and reports each problem with
 * file and field, so `runbookd check-config` can name them all.  A loaded
 * plan set is immutable and shared by reference like the configuration.
 */
#ifndef RUNBOOKD_PLAN_H
#define RUNBOOKD_PLAN_H

#include "config.h"
#include "rb.h"
#include "severity.h"

#include <stdatomic.h>

struct matchers;
struct am_labels;

enum step_kind {
  STEP_ROLLOUT_RESTART = 0,
  STEP_SCALE,
  STEP_SET_RESOURCES,
  STEP_SET_ENV,
  STEP_PATCH_CONFIGMAP,
  STEP_DELETE_PODS,
  STEP_ROLLOUT_UNDO,
  STEP_WAIT_ROLLOUT,
  STEP_HTTP_CHECK,
  STEP_PROMQL,
  STEP_POSTGRES,
  STEP_EXEC,
  STEP_KIND_COUNT
};

/* A string map kept in file order (env, resources, configmap data). */
struct kvlist {
  char **key;
  char **val;
  size_t n;
};

enum cmp_op { CMP_LT = 0, CMP_LE, CMP_GT, CMP_GE, CMP_EQ, CMP_NE };

struct step {
  char *name;
  enum step_kind kind;
  char *deployment;      /* overrides the target's Deployment (must be allowed) */
  unsigned timeout_s;    /* per request or for the whole wait */
  unsigned interval_s;   /* polling interval of waits and checks */
  int optional;          /* a failure is recorded but does not fail the run */
  /* scale: a step moves the count one way only.  by's sign gives the way
   * (a positive by never lowers, a negative never raises); an absolute
   * replicas goes by direction: SCALE_UP (the default: raises to it,
   * never lowers), SCALE_DOWN (lowers to it, never raises) or SCALE_ANY
   * (sets it). */
  int has_replicas;
  int replicas;          /* absolute */
  int by;                /* relative, when !has_replicas */
  int min_replicas, max_replicas;
  enum scale_direction { SCALE_UP = 0, SCALE_DOWN, SCALE_ANY } direction;
  /* set_resources, set_env */
  char *container;
  struct kvlist limits, requests, env;
  /* patch_configmap */
  char *configmap;
  struct kvlist data;
  /* delete_pods */
  char *selector;
  int max_pods;
  /* http_check */
  char *url;
  char *method;
  int expect_status;
  unsigned max_latency_ms;
  /* promql */
  char *query;           /* also postgres */
  char *prometheus_url;  /* NULL: remediation.prometheus_url */
  enum cmp_op op;
  double threshold;
  /* postgres */
  int maintenance;       /* allowed to write (VACUUM ANALYZE...) */
  unsigned max_rows;
  /* exec */
  char **argv;
  size_t argc;
  int idempotent; /* may be run again after a restart that interrupted it */
};

struct plan_limits {
  unsigned max_attempts_per_incident;
  unsigned cooldown_s;      /* per target, after a run ends */
  unsigned max_per_hour;    /* per plan and target */
  unsigned max_per_day;
  unsigned breaker_failures;   /* consecutive failed runs that open the breaker */
  unsigned breaker_reset_s;    /* how long it stays open */
};

struct plan {
  char *file;
  char *name;
  char *description;
  char *runbook;
  char *target_deployment; /* fixed target instead of the alert's label */
  struct matchers **match;
  size_t n_match;
  int severities;           /* bit mask of enum severity; 0: any */
  char **allow_namespaces;
  size_t n_allow_namespaces;
  char **allow_deployments;
  size_t n_allow_deployments;
  char **allow_configmaps;
  size_t n_allow_configmaps;
  struct step *steps, *verify, *on_failure;
  size_t n_steps, n_verify, n_on_failure;
  struct plan_limits limits;
};

struct plan_set {
  atomic_int refs;
  struct plan *plans;   /* sorted by name */
  size_t n;
};

/* Loads every *.json file of dir (dotfiles and other names are skipped, as
 * a ConfigMap mount has "..data" entries).  Problems go to errs with
 * "FILE: FIELD"; the result is NULL when there is any.  A missing
 * directory gives an empty set.  The caller owns the result
 * (plan_set_drop). */
struct plan_set *plan_load_dir(const char *dir, struct config_errors *errs);

/* Parses one plan from JSON text; file names it in messages. */
rb_status plan_parse(const char *file, const char *text, struct plan *out,
                     struct config_errors *errs);
void plan_clear(struct plan *p);

struct plan_set *plan_set_hold(struct plan_set *s);
void plan_set_drop(struct plan_set *s);

/* The first plan (by name) whose matchers and severities accept the
 * alert; NULL when none does. */
const struct plan *plan_match(const struct plan_set *s, const struct am_labels *labels,
                              enum severity sev);

int plan_allows_namespace(const struct plan *p, const char *ns);
int plan_allows_deployment(const struct plan *p, const char *name);
int plan_allows_configmap(const struct plan *p, const char *name);

/* The objects a run of p on target (a Deployment in namespace ns) may
 * change: the target, each cluster-changing step's Deployment (its own or
 * the target) or ConfigMap, in steps and on_failure, and, for delete_pods,
 * every allowed Deployment (its selector may match their pods).  One per
 * line, "deployment NS/NAME" or "configmap NS/NAME", the list starting
 * with a newline (ratelimit.h's format).  The caller frees it; NULL when
 * out of memory.  p may be NULL (the target alone). */
char *plan_objects(const struct plan *p, const char *ns, const char *target);

const char *step_kind_name(enum step_kind k);
/* Whether a step changes the cluster (and so is withheld in dry-run). */
int step_mutates(enum step_kind k);

/* Kubernetes object names: a DNS-1123 label (namespaces, at most 63) and a
 * DNS-1123 subdomain (Deployments, Pods, ConfigMaps, at most 253).  Label
 * values from alerts pass these before they reach a path. */
int kube_valid_label_name(const char *s);
int kube_valid_subdomain(const char *s);

#endif

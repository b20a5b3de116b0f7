/*
 * engine.c - the remediation engine (see remediate.h).
 *
 * A bounded queue feeds a few worker threads.  A worker evaluates an
 * incident (silences, plan match, target, allow-list, limits), records the
 * decision, and, when a run starts, executes its plan: steps, then
 * verification, then on_failure steps when anything failed.  Every
 * transition is one store transaction holding the run's new position and
 * its timeline events.
 */
#include "remediate.h"
#include "buf.h"
#include "checks.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "payload.h"
#include "plan.h"
#include "rbtime.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

/* Finished runs kept for the limits: the longest window is a breaker reset
 * (7 days at most). */
#define HISTORY_KEEP_MS (8LL * 86400 * 1000)
#define MAX_409_RETRIES 3
/* Requests recorded before a restart are re-sent only within this long of
 * being recorded: an older record was decided on a cluster that may have
 * moved on (and a person may be working on it by now). */
#define RESUME_MAX_MS (10LL * 60 * 1000)

struct work {
  int64_t incident_id;
  int64_t received_ns;
  struct rem_run *run; /* a run to resume, or NULL */
};

/* A run waiting for an executor, with what its decision already read. */
struct queued_run {
  struct rem_run *run;
  int64_t received_ns;  /* 0 when its first request was already measured */
  struct am_labels labels;
  int have_labels;
};

struct engine {
  struct store *st;
  struct kube_client *kube;
  /* Dry-run as configured now (a reload changes it): a run takes it when
   * it is decided and keeps it (struct rem_run's dry_run); a live run also
   * withholds every change it has not started sending once this is on
   * (withheld()).  Always 1 without a cluster. */
  atomic_int dry_run;
  int (*silenced)(void *, const struct am_labels *, char *, size_t);
  void (*escalate)(void *, int64_t, const char *);
  void *hook_arg;

  pthread_mutex_t mu;
  pthread_cond_t cv;       /* work queued, or stopping */
  pthread_cond_t stopcv;   /* wakes waits early when stopping */
  struct work *q;
  size_t qhead, qlen, qcap;
  int stopping;
  pthread_t *threads;
  unsigned nthreads;
  /* Runs, executed apart from decisions so a long run (a rollout wait)
   * never holds up the next decision.  Guarded by mu. */
  pthread_cond_t rcv;      /* a run queued, or stopping */
  struct queued_run *runs; /* FIFO */
  size_t rhead, rlen, rcap;
  /* Executors start on demand: one at start, another when a run is queued
   * and none is waiting, up to xmax (remediation.max_concurrent_runs).
   * An idle daemon keeps one thread instead of 16 (about 8 KB each). */
  pthread_t *xthreads;     /* xmax slots */
  unsigned nxthreads, xmax;
  unsigned xidle;          /* executors waiting for a run */
  /* Guarded by mu. */
  struct plan_set *plans;
  struct rl_global global;
  char *prometheus_url;
  char *pg_conninfo;
  struct rl_history hist;
  int64_t provisional;
};

/* One run in execution, on one worker. */
struct runctx {
  struct engine *e;
  struct rem_run *run;
  struct plan_set *plans;
  const struct plan *plan;
  struct am_labels labels;
  int64_t received_ns;
  int measured;
  unsigned withheld; /* steps withheld since dry-run was turned on */
  /* The run's durable state, kept in rem_run.pending as a JSON object:
   * while a cluster change is being sent, its "requests", their "guards"
   * (what each object looked like when they were decided, kube.h) and
   * "recordedMs".  NULL in previews. */
  cJSON *state;
  /* Why the run failed, for its escalation, when more is known than
   * "failed" (e.g. it was abandoned); NULL otherwise. */
  char fail_reason[384];
  int escalated; /* the run asked for a person already (its end does not again) */
};

/* ---- store transactions ---------------------------------------------- */

struct ev {
  const char *kind;
  char *detail;
};

struct tx {
  int64_t incident_id;
  int64_t now;
  int mark_decided;
  struct rem_run *insert;
  const struct rem_run *update;
  struct ev ev[4];
  size_t nev;
};

static rb_status
tx_fn(struct store *st, void *arg)
{
  struct tx *t = arg;
  rb_status rc = RB_OK;

  if (t->insert)
    rc = store_w_run_insert(st, t->insert);
  if (!rc && t->update)
    rc = store_w_run_update(st, t->update);
  if (!rc && t->mark_decided)
    rc = store_w_remediation_done(st, t->incident_id);
  for (size_t i = 0; !rc && i < t->nev; i++)
    rc = store_w_append_event(st, t->incident_id, t->now, t->ev[i].kind, "runbookd",
                              t->ev[i].detail ? t->ev[i].detail : "{}");
  return rc;
}

static void
tx_event(struct tx *t, const char *kind, struct buf *detail)
{
  if (t->nev < RB_ARRAY_LEN(t->ev)) {
    t->ev[t->nev].kind = kind;
    t->ev[t->nev].detail = detail ? buf_steal(detail) : NULL;
    t->nev++;
  }
}

static int engine_wait(struct engine *e, int64_t ms);

/* How long a commit is retried while the store is unavailable. */
#define TX_RETRY_NS (15LL * 1000000000)

/* Commits t, retrying a store that is briefly unavailable (backoff from
 * 500 ms, for TX_RETRY_NS in all, however long each attempt takes: a
 * locked SQLite answers only after its busy timeout).  Frees the event
 * details either way. */
static rb_status
tx_commit(struct engine *e, struct tx *t)
{
  rb_status rc = RB_EUNAVAIL;
  int64_t deadline = rb_mono_ns() + TX_RETRY_NS;

  t->now = rb_wall_ms();
  for (int i = 0;; i++) {
    int64_t wait_ms = 500LL << (i < 4 ? i : 4);
    rc = store_submit(e->st, tx_fn, t);
    if (rc != RB_EUNAVAIL || rb_mono_ns() + wait_ms * 1000000 > deadline || engine_wait(e, wait_ms))
      break;
  }
  if (rc) {
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)t->incident_id);
    rblog(LOG_ERROR, "remediation could not record its progress", "incident", id, "error",
          rb_strerror(rc), NULL);
  }
  for (size_t i = 0; i < t->nev; i++)
    free(t->ev[i].detail);
  t->nev = 0;
  return rc;
}

/* ---- small helpers ---------------------------------------------------- */

static int
engine_wait(struct engine *e, int64_t ms)
{
  struct timespec ts;
  int stopping;

  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&e->mu);
  while (!e->stopping) {
    if (pthread_cond_timedwait(&e->stopcv, &e->mu, &ts) == ETIMEDOUT)
      break;
  }
  stopping = e->stopping;
  pthread_mutex_unlock(&e->mu);
  return stopping;
}

static int
stopping(struct engine *e)
{
  int s;
  pthread_mutex_lock(&e->mu);
  s = e->stopping;
  pthread_mutex_unlock(&e->mu);
  return s;
}

/* Whether a live run must hold back what would change something: dry-run
 * was turned on (a reload) after the run was decided.  The more cautious
 * of the run's mode and the engine's wins; a dry run never turns live. */
static int
withheld(const struct runctx *c)
{
  return !c->run->dry_run && atomic_load(&c->e->dry_run);
}

#define WITHHELD_NOTE "dry-run was turned on (reload) while this live run was going: not sent"

/* Replaces {{namespace}} and {{deployment}}; the values are validated
 * Kubernetes names, so they are safe in paths, selectors and queries. */
static char *
expand(const char *tmpl, const char *ns, const char *deploy)
{
  struct buf b;
  const char *p = tmpl;

  if (!tmpl)
    return NULL;
  buf_init(&b, 1 << 20);
  while (*p) {
    if (strncmp(p, "{{namespace}}", 13) == 0) {
      buf_puts(&b, ns);
      p += 13;
    } else if (strncmp(p, "{{deployment}}", 14) == 0) {
      buf_puts(&b, deploy);
      p += 14;
    } else {
      buf_append(&b, p++, 1);
    }
  }
  return buf_steal(&b);
}

static void
detail_head(struct buf *b, const struct runctx *c, const struct step *s, const char *phase,
            int index, const char *deploy)
{
  buf_printf(b, "{\"run\":\"%lld\",\"plan\":", (long long)c->run->id);
  buf_json_str(b, c->plan->name);
  buf_puts(b, ",\"step\":");
  buf_json_str(b, s->name);
  buf_printf(b, ",\"kind\":\"%s\",\"phase\":\"%s\",\"index\":%d,\"namespace\":",
             step_kind_name(s->kind), phase, index);
  buf_json_str(b, c->run->namespace_);
  buf_puts(b, ",\"deployment\":");
  buf_json_str(b, deploy);
  buf_printf(b, ",\"dryRun\":%s", c->run->dry_run ? "true" : "false");
}

static void
reqs_json(struct buf *b, const struct kube_req *v, size_t n)
{
  buf_puts(b, "[");
  for (size_t i = 0; i < n; i++) {
    if (i)
      buf_puts(b, ",");
    kube_req_to_json(b, &v[i]);
  }
  buf_puts(b, "]");
}

static void
escalate(struct runctx *c, struct tx *t, const char *reason)
{
  struct buf d;
  buf_init(&d, 0);
  buf_puts(&d, "{\"reason\":");
  buf_json_str(&d, reason);
  buf_puts(&d, "}");
  tx_event(t, "escalation requested", &d);
  metrics_rem_escalation();
  if (c->e->escalate)
    c->e->escalate(c->e->hook_arg, t->incident_id, reason);
}

/* ---- Kubernetes reads ------------------------------------------------- */

/* The first Kubernetes request of a decision is about to go out: how long
 * since its webhook arrived (the remediation benchmark's figure). */
static void
first_request(struct runctx *c)
{
  if (!c->measured && c->received_ns) {
    metrics_rem_first_request(rb_mono_ns() - c->received_ns);
    c->measured = 1;
  }
}

/* GETs path; on 200 *out is the parsed object (caller frees).  Otherwise
 * why says what happened; RB_ENOTFOUND for 404, RB_EUNAVAIL else. */
static rb_status
kube_get_json(struct runctx *c, const char *path, cJSON **out, char *why, size_t whylen)
{
  struct kube_req req;
  struct kube_resp resp;
  rb_status rc;

  *out = NULL;
  if (!c->e->kube) {
    /* Callers check before reading; never hand kube_do a NULL client. */
    snprintf(why, whylen, "GET %s: no cluster configured", path);
    return RB_EUNAVAIL;
  }
  kube_req_get(path, &req);
  first_request(c);
  rc = kube_do(c->e->kube, &req, &resp);
  kube_req_clear(&req);
  metrics_kube_request(rc == RB_OK ? resp.status : 0);
  if (rc != RB_OK) {
    snprintf(why, whylen, "GET %s: no answer from the Kubernetes API: %s", path,
             resp.message ? resp.message : "");
  } else if (resp.status == 200) {
    *out = cJSON_ParseWithLength(resp.body, resp.len);
    if (!*out) {
      snprintf(why, whylen, "GET %s: the answer is not JSON", path);
      rc = RB_EUNAVAIL;
    }
  } else {
    snprintf(why, whylen, "GET %s: %ld %s%s%s", path, resp.status,
             resp.reason ? resp.reason : "", resp.message ? ": " : "",
             resp.message ? resp.message : "");
    rc = resp.status == 404 ? RB_ENOTFOUND : RB_EUNAVAIL;
  }
  kube_resp_clear(&resp);
  return rc;
}

/* ---- computing a step's requests -------------------------------------- */

/* C_ABANDON: requests recorded before a restart must not be re-sent (the
 * note says why); the run ends there. */
enum compute { C_OK = 0, C_REFUSED, C_FAILED, C_NOTHING, C_ABANDON };

struct computed {
  struct kube_req *reqs;
  size_t n;
  cJSON *guards;    /* a guard (kube_guard_of) or null per request; may be NULL */
  char note[512];   /* what the computation saw or why it refused */
};

static void
computed_clear(struct computed *k)
{
  kube_reqs_free(k->reqs, k->n);
  cJSON_Delete(k->guards);
  memset(k, 0, sizeof(*k));
}

/* The run's record of Deployment d (state "deployments"): "baseline", its
 * pod template before the run's first change of it, with the Deployment's
 * "baselineAnnotations"; "written", the template as runbookd's last change
 * of it left it (from the API's answer); "uncertain" when a change of it
 * got no answer; "recorded" when a dry run recorded a change.  NULL
 * without a state, or when absent and !create. */
static cJSON *
state_deployment(struct runctx *c, const char *d, int create)
{
  cJSON *all, *one;

  if (!c->state)
    return NULL;
  all = cJSON_GetObjectItemCaseSensitive(c->state, "deployments");
  if (!all && create)
    all = cJSON_AddObjectToObject(c->state, "deployments");
  one = cJSON_GetObjectItemCaseSensitive(all, d);
  if (!one && create && all)
    one = cJSON_AddObjectToObject(all, d);
  return one;
}

static void
state_set(cJSON *o, const char *key, cJSON *v)
{
  cJSON_DeleteItemFromObjectCaseSensitive(o, key);
  if (v)
    cJSON_AddItemToObject(o, key, v);
}

/* A step is about to change Deployment d's template, read as obj: the
 * first time in this run, obj's template is the baseline on_failure's
 * rollout_undo restores. */
static void
note_baseline(struct runctx *c, const char *d, const cJSON *obj)
{
  cJSON *st, *tmpl;
  const cJSON *ann;

  if (!obj || !(st = state_deployment(c, d, 1)) || cJSON_GetObjectItemCaseSensitive(st, "baseline"))
    return;
  tmpl = kube_template_of(obj);
  if (!tmpl)
    return;
  ann = kube_jpath(obj, "metadata", "annotations", NULL);
  state_set(st, "baseline", tmpl);
  state_set(st, "baselineAnnotations",
            cJSON_IsObject(ann) ? cJSON_Duplicate(ann, 1) : cJSON_CreateObject());
}

/* The Deployment whose template a request changes (a PATCH of the object
 * itself, not of /scale), or NULL. */
static const char *
template_write(const struct kube_req *r)
{
  const char *p = strstr(r->path, "/deployments/");
  if (strcmp(r->method, "PATCH") != 0 || !p || strchr(p + 13, '/') || strchr(p + 13, '?'))
    return NULL;
  return p + 13;
}

/* After a change of a Deployment's template: what it left there (obj, the
 * API's answer, or the object read again when a resume finds it applied),
 * or, with obj NULL, that whether it was applied is unknown. */
static void
note_written(struct runctx *c, const char *d, const cJSON *obj)
{
  cJSON *st = state_deployment(c, d, 1), *tmpl = obj ? kube_template_of(obj) : NULL;

  if (!st) {
    cJSON_Delete(tmpl);
    return;
  }
  if (tmpl) {
    state_set(st, "written", tmpl);
    state_set(st, "uncertain", NULL);
  } else {
    state_set(st, "uncertain", cJSON_CreateTrue());
  }
}

/* Records the guard of the request just pushed, from obj as read from the
 * request's path (kube.h): what a resume compares with. */
static void
guard_last(struct computed *k, const cJSON *obj)
{
  cJSON *g;

  if (!k->n)
    return;
  if (!k->guards)
    k->guards = cJSON_CreateArray();
  while (cJSON_GetArraySize(k->guards) < (int)k->n - 1)
    cJSON_AddItemToArray(k->guards, cJSON_CreateNull());
  g = obj ? kube_guard_of(k->reqs[k->n - 1].path, obj) : NULL;
  cJSON_AddItemToArray(k->guards, g ? g : cJSON_CreateNull());
}

static struct kube_req *
push_req(struct computed *k)
{
  struct kube_req *v = realloc(k->reqs, (k->n + 1) * sizeof(*v));
  if (!v)
    return NULL;
  k->reqs = v;
  memset(&v[k->n], 0, sizeof(*v));
  return &v[k->n++];
}

static enum compute
compute_restart(struct runctx *c, const char *ns, const char *d, struct computed *k)
{
  char path[512], ts[32];
  time_t now = time(NULL);
  struct tm tm;
  cJSON *obj = NULL;
  rb_status rc;

  kube_path_deployment(path, sizeof(path), ns, d);
  if (c->e->kube) {
    rc = kube_get_json(c, path, &obj, k->note, sizeof(k->note));
    if (rc)
      return rc == RB_ENOTFOUND ? C_REFUSED : C_FAILED;
    if (cJSON_IsTrue(kube_jpath(obj, "spec", "paused", NULL))) {
      snprintf(k->note, sizeof(k->note),
               "can't restart paused deployment %s (run rollout resume first)", d);
      cJSON_Delete(obj);
      return C_REFUSED;
    }
  } else {
    snprintf(k->note, sizeof(k->note), "no cluster: the paused check was not made");
  }
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  rc = kube_req_restart(ns, d, ts, push_req(k));
  guard_last(k, obj);
  note_baseline(c, d, obj);
  cJSON_Delete(obj);
  return rc ? C_FAILED : C_OK;
}

static enum compute
compute_scale(struct runctx *c, const struct step *s, const char *ns, const char *d,
              struct computed *k)
{
  char path[512];
  cJSON *obj = NULL;
  long current, want;
  rb_status rc;

  /* Always read first: the count before goes on the timeline, and decides
   * whether the step may move it at all (kube_scale_decide). */
  kube_path_scale(path, sizeof(path), ns, d);
  if (!c->e->kube) {
    kube_req_get(path, push_req(k));
    if (s->has_replicas) {
      snprintf(k->note, sizeof(k->note), "no cluster: sets %d replicas if the current count is %s",
               s->replicas,
               s->direction == SCALE_UP     ? "lower (direction up)"
               : s->direction == SCALE_DOWN ? "higher (direction down)"
                                            : "another (direction any)");
      return kube_req_scale(ns, d, s->replicas, push_req(k)) ? C_FAILED : C_OK;
    }
    snprintf(k->note, sizeof(k->note),
             "no cluster: the new count is the current one %+d, kept within %d..%d, and "
             "never %s the current one",
             s->by, s->min_replicas, s->max_replicas, s->by > 0 ? "below" : "above");
    return C_OK;
  }
  rc = kube_get_json(c, path, &obj, k->note, sizeof(k->note));
  if (rc)
    return rc == RB_ENOTFOUND ? C_REFUSED : C_FAILED;
  {
    const cJSON *rep = kube_jpath(obj, "spec", "replicas", NULL);
    current = cJSON_IsNumber(rep) ? (long)rb_double_clamp(rep->valuedouble, 0, INT32_MAX, 0) : 0;
  }
  if (!kube_scale_decide(d, current, s, &want, k->note, sizeof(k->note))) {
    cJSON_Delete(obj);
    return C_NOTHING;
  }
  rc = kube_req_scale(ns, d, (int)want, push_req(k));
  guard_last(k, obj);
  cJSON_Delete(obj);
  return rc ? C_FAILED : C_OK;
}

/* A strategic merge with an unknown container name would add a container:
 * refuse instead. */
static enum compute
check_container(struct runctx *c, const char *ns, const char *d, const char *container,
                struct computed *k, cJSON **objp)
{
  char path[512];
  cJSON *obj = NULL;
  const cJSON *it;
  int found = 0;
  rb_status rc;

  *objp = NULL;
  if (!c->e->kube) {
    snprintf(k->note, sizeof(k->note), "no cluster: the container was not checked");
    return C_OK;
  }
  kube_path_deployment(path, sizeof(path), ns, d);
  rc = kube_get_json(c, path, &obj, k->note, sizeof(k->note));
  if (rc)
    return rc == RB_ENOTFOUND ? C_REFUSED : C_FAILED;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(kube_jpath(obj, "spec", "template", "spec"),
                                                         "containers")) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
    if (cJSON_IsString(nm) && strcmp(nm->valuestring, container) == 0)
      found = 1;
  }
  if (!found) {
    cJSON_Delete(obj);
    snprintf(k->note, sizeof(k->note), "deployment %s has no container named %s", d,
             container);
    return C_REFUSED;
  }
  *objp = obj;
  return C_OK;
}

/* kubectl patch configmap: read it first (it must exist; its
 * resourceVersion guards a resume). */
static enum compute
compute_configmap(struct runctx *c, const struct step *s, const char *ns, struct computed *k)
{
  char path[512];
  cJSON *obj = NULL;
  rb_status rc;

  if (c->e->kube) {
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, s->configmap);
    rc = kube_get_json(c, path, &obj, k->note, sizeof(k->note));
    if (rc)
      return rc == RB_ENOTFOUND ? C_REFUSED : C_FAILED;
  }
  rc = kube_req_patch_configmap(ns, s->configmap, &s->data, push_req(k));
  guard_last(k, obj);
  cJSON_Delete(obj);
  return rc ? C_FAILED : C_OK;
}

/* Whether every pod of list is a pod of a Deployment the plan allows:
 * its controller is a ReplicaSet (the same one: uid) whose controller is
 * an allowed Deployment.  A selector is free text, and a pod of a
 * StatefulSet, a DaemonSet, a Job or no controller, or of a Deployment
 * outside the allow-list, is not the plan's to delete: the note names
 * every such pod and why. */
static int
pods_allowed(struct runctx *c, const char *ns, const cJSON *list, struct computed *k)
{
  const cJSON *it;
  struct buf why;
  int refused = 0;
  char rs_seen[256] = "", rs_deploy[256] = "", rs_uid[128] = "";

  buf_init(&why, sizeof(k->note));
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
  {
    const cJSON *nm = kube_jpath(it, "metadata", "name", NULL);
    const char *pod = cJSON_IsString(nm) ? nm->valuestring : "?";
    char kind[64], name[256], uid[128], path[512], ek[64], en[256], eu[128];
    char problem[400] = "";

    if (!kube_controller(it, kind, sizeof(kind), name, sizeof(name), uid, sizeof(uid))) {
      snprintf(problem, sizeof(problem), "no controller");
    } else if (strcmp(kind, "ReplicaSet") != 0 || !kube_valid_subdomain(name)) {
      snprintf(problem, sizeof(problem), "controlled by %s %.200s", kind, name);
    } else {
      /* One read per ReplicaSet (the pods of a Deployment share one). */
      if (strcmp(rs_seen, name) != 0) {
        cJSON *rs = NULL;
        char err[512];
        kube_path_replicaset(path, sizeof(path), ns, name);
        snprintf(rs_seen, sizeof(rs_seen), "%s", name);
        rs_deploy[0] = rs_uid[0] = '\0';
        if (kube_get_json(c, path, &rs, err, sizeof(err)) == RB_OK) {
          const cJSON *ru = kube_jpath(rs, "metadata", "uid", NULL);
          snprintf(rs_uid, sizeof(rs_uid), "%s", cJSON_IsString(ru) ? ru->valuestring : "");
          if (kube_controller(rs, ek, sizeof(ek), en, sizeof(en), eu, sizeof(eu))
              && strcmp(ek, "Deployment") == 0)
            snprintf(rs_deploy, sizeof(rs_deploy), "%s", en);
        }
        cJSON_Delete(rs);
      }
      if (uid[0] && strcmp(uid, rs_uid) != 0)
        snprintf(problem, sizeof(problem), "its ReplicaSet %.200s could not be read as its owner",
                 name);
      else if (!rs_deploy[0])
        snprintf(problem, sizeof(problem), "ReplicaSet %.200s is not controlled by a Deployment",
                 name);
      else if (!plan_allows_deployment(c->plan, rs_deploy))
        snprintf(problem, sizeof(problem), "a pod of deployment %.200s, not in the allow-list",
                 rs_deploy);
    }
    if (problem[0]) {
      buf_puts(&why, refused++ ? "; " : "");
      buf_printf(&why, "%s (%s)", pod, problem);
    }
  }
  if (refused)
    snprintf(k->note, sizeof(k->note),
             "refused: %d matching pod%s not of a Deployment this plan may touch: %s", refused,
             refused == 1 ? " is" : "s are", why.data ? why.data : "");
  buf_free(&why);
  return !refused;
}

static enum compute
compute_delete_pods(struct runctx *c, const struct step *s, const char *ns, const char *d,
                    struct computed *k)
{
  char path[1024];
  char *sel = expand(s->selector, ns, d);
  cJSON *list = NULL;
  const cJSON *it;
  int count = 0;
  rb_status rc;
  enum compute ret = C_OK;

  kube_path_pods_selector(path, sizeof(path), ns, sel);
  if (!c->e->kube) {
    kube_req_get(path, push_req(k));
    snprintf(k->note, sizeof(k->note),
             "no cluster: one DELETE per pod matching %s, at most %d, each read first to be a "
             "pod of an allowed Deployment (its ReplicaSet's owner)",
             sel, s->max_pods);
    free(sel);
    return C_OK;
  }
  rc = kube_get_json(c, path, &list, k->note, sizeof(k->note));
  if (rc) {
    free(sel);
    return C_FAILED;
  }
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) count++;
  if (count > s->max_pods) {
    snprintf(k->note, sizeof(k->note),
             "selector %s matches %d pods, more than this plan's max_pods %d", sel, count,
             s->max_pods);
    ret = C_REFUSED;
  } else if (count == 0) {
    snprintf(k->note, sizeof(k->note), "no pod matches %s", sel);
    ret = C_NOTHING;
  } else if (!pods_allowed(c, ns, list, k)) {
    ret = C_REFUSED;
  } else {
    snprintf(k->note, sizeof(k->note), "%d pod%s match %s", count, count == 1 ? "" : "s",
             sel);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
      const cJSON *nm = kube_jpath(it, "metadata", "name", NULL);
      if (!cJSON_IsString(nm) || !kube_valid_subdomain(nm->valuestring)) {
        ret = C_FAILED;
        snprintf(k->note, sizeof(k->note), "the API listed a pod without a valid name");
        break;
      }
      if (kube_req_delete_pod(ns, nm->valuestring, push_req(k))) {
        ret = C_FAILED;
        break;
      }
      guard_last(k, it);
    }
  }
  cJSON_Delete(list);
  free(sel);
  return ret;
}

/* kubectl rollout undo: the previous revision's ReplicaSet template. */
static enum compute
compute_undo(struct runctx *c, const char *ns, const char *d, struct computed *k)
{
  char path[1024], sel[512];
  cJSON *dep = NULL, *rsl = NULL;
  struct kube_req req, *r;
  enum compute ret = C_OK;
  rb_status rc;

  kube_path_deployment(path, sizeof(path), ns, d);
  if (!c->e->kube) {
    kube_req_get(path, push_req(k));
    snprintf(k->note, sizeof(k->note),
             "no cluster: then the ReplicaSets of its selector are listed and the previous "
             "revision's template is restored with a JSON patch");
    return C_OK;
  }
  rc = kube_get_json(c, path, &dep, k->note, sizeof(k->note));
  if (rc)
    return rc == RB_ENOTFOUND ? C_REFUSED : C_FAILED;
  if (!kube_undo_selector(dep, d, sel, sizeof(sel), k->note, sizeof(k->note))) {
    ret = C_REFUSED;
    goto out;
  }
  kube_path_replicasets_selector(path, sizeof(path), ns, sel);
  rc = kube_get_json(c, path, &rsl, k->note, sizeof(k->note));
  if (rc) {
    ret = C_FAILED;
    goto out;
  }
  switch (kube_undo_decide(ns, d, dep, rsl, &req, k->note, sizeof(k->note))) {
  case KUBE_UNDO_PATCH:
    r = push_req(k);
    if (r)
      *r = req;
    else
      kube_req_clear(&req);
    ret = r ? C_OK : C_FAILED;
    guard_last(k, dep);
    note_baseline(c, d, dep);
    break;
  case KUBE_UNDO_REFUSED:
    ret = C_REFUSED;
    break;
  case KUBE_UNDO_NOTHING:
    ret = C_NOTHING;
    break;
  case KUBE_UNDO_FAILED:
    ret = C_FAILED;
    break;
  }
out:
  cJSON_Delete(dep);
  cJSON_Delete(rsl);
  return ret;
}

/* rollout_undo in on_failure: undo this run's own changes of d's
 * template, restoring the baseline recorded before its first one, and
 * only over runbookd's own last change (kube_restore_decide). */
static enum compute
compute_restore(struct runctx *c, const char *ns, const char *d, struct computed *k)
{
  char path[512];
  cJSON *dep = NULL, *st = state_deployment(c, d, 0);
  const cJSON *base = cJSON_GetObjectItemCaseSensitive(st, "baseline");
  const cJSON *bann = cJSON_GetObjectItemCaseSensitive(st, "baselineAnnotations");
  struct kube_req req, *r;
  enum compute ret = C_OK;
  rb_status rc;

  kube_path_deployment(path, sizeof(path), ns, d);
  if (!c->e->kube) {
    kube_req_get(path, push_req(k));
    snprintf(k->note, sizeof(k->note),
             "no cluster: if this run changed deployment %s's template, the template it had "
             "before the run's first change is restored with a JSON patch, unless someone "
             "else changed it since",
             d);
    return C_OK;
  }
  if (c->run->dry_run && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "recorded"))) {
    snprintf(k->note, sizeof(k->note),
             "this dry run recorded no change of deployment %s's template: nothing to undo", d);
    return C_NOTHING;
  }
  rc = kube_get_json(c, path, &dep, k->note, sizeof(k->note));
  if (rc)
    return rc == RB_ENOTFOUND ? C_REFUSED : C_FAILED;
  if (c->run->dry_run) {
    /* Nothing was sent: show the patch a live run would send, had its
     * changes been applied. */
    rc = base ? kube_restore_request(c->run->namespace_, d, dep, base, bann, &req) : RB_EINVAL;
    snprintf(k->note, sizeof(k->note),
             "dry-run: a live run whose changes were applied restores the template deployment "
             "%s had before this run",
             d);
    if (rc) {
      ret = C_FAILED;
      goto out;
    }
  } else {
    switch (kube_restore_decide(ns, d, dep, base, bann,
                                cJSON_GetObjectItemCaseSensitive(st, "written"),
                                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "uncertain")),
                                &req, k->note, sizeof(k->note))) {
    case KUBE_UNDO_PATCH:
      break;
    case KUBE_UNDO_NOTHING:
      ret = C_NOTHING;
      goto out;
    case KUBE_UNDO_REFUSED:
      snprintf(c->fail_reason, sizeof(c->fail_reason), "%s", k->note);
      ret = C_REFUSED;
      goto out;
    default:
      ret = C_FAILED;
      goto out;
    }
  }
  r = push_req(k);
  if (r)
    *r = req;
  else
    kube_req_clear(&req);
  guard_last(k, dep);
  ret = r ? C_OK : C_FAILED;
out:
  cJSON_Delete(dep);
  return ret;
}

static enum compute
compute_step(struct runctx *c, const struct step *s, const char *d, struct computed *k)
{
  const char *ns = c->run->namespace_;
  enum compute r;
  char *container;

  switch (s->kind) {
  case STEP_ROLLOUT_RESTART:
    return compute_restart(c, ns, d, k);
  case STEP_SCALE:
    return compute_scale(c, s, ns, d, k);
  case STEP_SET_RESOURCES:
  case STEP_SET_ENV: {
    cJSON *obj = NULL;
    container = expand(s->container, ns, d);
    r = check_container(c, ns, d, container, k, &obj);
    if (r == C_OK) {
      rb_status rc = s->kind == STEP_SET_ENV
                       ? kube_req_set_env(ns, d, container, &s->env, push_req(k))
                       : kube_req_set_resources(ns, d, container, &s->limits, &s->requests,
                                                push_req(k));
      guard_last(k, obj);
      note_baseline(c, d, obj);
      r = rc ? C_FAILED : C_OK;
    }
    cJSON_Delete(obj);
    free(container);
    return r;
  }
  case STEP_PATCH_CONFIGMAP:
    return compute_configmap(c, s, ns, k);
  case STEP_DELETE_PODS:
    return compute_delete_pods(c, s, ns, d, k);
  case STEP_ROLLOUT_UNDO:
    /* In on_failure it undoes the run's own changes; elsewhere it is
     * kubectl's rollout undo (to the previous revision). */
    return c->run->phase == PHASE_ON_FAILURE ? compute_restore(c, ns, d, k)
                                             : compute_undo(c, ns, d, k);
  default:
    snprintf(k->note, sizeof(k->note), "%s is not a cluster change", step_kind_name(s->kind));
    return C_FAILED;
  }
}

/* ---- running steps ----------------------------------------------------- */

/* S_ABANDONED: the run must end here (c->fail_reason says why). */
enum step_result { S_OK = 0, S_FAILED, S_STOPPED, S_ABANDONED };

/* Sends the requests of a step; returns 1 when all succeeded, 0 on a
 * failure, -1 on 409 (the caller reads afresh), 2 when dry-run was turned
 * on before all were sent (the rest are withheld; their count goes into
 * detail).  The responses go into detail. */
static int
send_all(struct runctx *c, const struct kube_req *reqs, size_t n, struct buf *detail)
{
  int ret = 1;
  size_t i;

  buf_puts(detail, ",\"responses\":[");
  for (i = 0; i < n && ret == 1; i++) {
    struct kube_resp resp;
    rb_status rc;

    /* Checked before each request: a reload turning dry-run on stops the
     * next one, even within a step (one already being sent completes). */
    if (withheld(c)) {
      ret = 2;
      break;
    }
    if (!c->e->kube) {
      /* A live run without a cluster is abandoned before it gets here
       * (run_and_free); never hand kube_do a NULL client. */
      buf_printf(detail, "%s{\"method\":", i ? "," : "");
      buf_json_str(detail, reqs[i].method);
      buf_puts(detail, ",\"path\":");
      buf_json_str(detail, reqs[i].path);
      buf_puts(detail, ",\"status\":0,\"message\":\"no cluster configured: not sent\"}");
      ret = 0;
      break;
    }
    first_request(c);
    rc = kube_do(c->e->kube, &reqs[i], &resp);
    metrics_kube_request(rc == RB_OK ? resp.status : 0);
    buf_printf(detail, "%s{\"method\":", i ? "," : "");
    buf_json_str(detail, reqs[i].method);
    buf_puts(detail, ",\"path\":");
    buf_json_str(detail, reqs[i].path);
    buf_printf(detail, ",\"status\":%ld,\"attempts\":%u", resp.status, resp.attempts);
    if (resp.reason) {
      buf_puts(detail, ",\"reason\":");
      buf_json_str(detail, resp.reason);
    }
    if (resp.message) {
      buf_puts(detail, ",\"message\":");
      buf_json_str(detail, resp.message);
    }
    /* No answer (a timeout included) or a server error: the API server
     * may have applied the change before failing to say so. */
    if (strcmp(reqs[i].method, "GET") != 0
        && (rc != RB_OK || resp.status == 500 || resp.status == 504))
      buf_puts(detail, ",\"mayHaveBeenApplied\":true");
    buf_puts(detail, "}");
    if (template_write(&reqs[i])) {
      /* What runbookd's change left (on_failure's undo compares with it),
       * or that it may or may not have been applied. */
      if (rc == RB_OK && resp.status >= 200 && resp.status < 300) {
        cJSON *obj = cJSON_ParseWithLength(resp.body, resp.len);
        note_written(c, template_write(&reqs[i]), obj);
        cJSON_Delete(obj);
      } else if (rc != RB_OK || resp.status == 500 || resp.status == 504) {
        note_written(c, template_write(&reqs[i]), NULL);
      }
    }
    if (rc != RB_OK)
      ret = 0;
    else if (resp.status == 409 || (resp.status == 422 && kube_req_has_test(&reqs[i])))
      ret = -1; /* changed since it was read (a failed JSON-patch test is 422) */
    else if (!((resp.status >= 200 && resp.status < 300)
               || (resp.status == 404 && strcmp(reqs[i].method, "DELETE") == 0)))
      ret = 0; /* a pod already gone is what a delete wanted */
    kube_resp_clear(&resp);
  }
  buf_puts(detail, "]");
  if (ret == 2)
    buf_printf(detail, ",\"sent\":%s,\"withheld\":%zu", i ? "true" : "false", n - i);
  return ret;
}

/* ---- the run's durable state (rem_run.pending) ------------------------- */

/* Reads the state a previous process left.  An older runbookd kept a bare
 * array of requests there (no guards: a resume cannot check them). */
static void
state_load(struct runctx *c)
{
  cJSON *p = c->run->pending ? cJSON_Parse(c->run->pending) : NULL;

  if (cJSON_IsArray(p)) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "requests", p);
    p = o;
  } else if (!cJSON_IsObject(p)) {
    int unreadable = c->run->pending != NULL;
    cJSON_Delete(p);
    p = cJSON_CreateObject();
    if (unreadable)
      cJSON_AddItemToObject(p, "requests", cJSON_CreateString("unreadable"));
  }
  c->state = p;
}

/* Writes the state back into rem_run.pending (NULL when empty). */
static void
state_sync(struct runctx *c)
{
  free(c->run->pending);
  c->run->pending = c->state && c->state->child ? cJSON_PrintUnformatted(c->state) : NULL;
}

static int
state_has_requests(const struct runctx *c)
{
  return c->state && cJSON_GetObjectItemCaseSensitive(c->state, "requests") != NULL;
}

/* The requests about to be sent, with their guards and the time. */
static void
state_record_requests(struct runctx *c, const struct computed *k)
{
  struct buf b;
  cJSON *reqs;

  if (!c->state)
    return;
  buf_init(&b, 0);
  reqs_json(&b, k->reqs, k->n);
  reqs = cJSON_Parse(b.data ? b.data : "[]");
  buf_free(&b);
  cJSON_DeleteItemFromObjectCaseSensitive(c->state, "requests");
  cJSON_DeleteItemFromObjectCaseSensitive(c->state, "guards");
  cJSON_DeleteItemFromObjectCaseSensitive(c->state, "recordedMs");
  cJSON_AddItemToObject(c->state, "requests", reqs ? reqs : cJSON_CreateArray());
  cJSON_AddItemToObject(c->state, "guards",
                        k->guards ? cJSON_Duplicate(k->guards, 1) : cJSON_CreateArray());
  cJSON_AddNumberToObject(c->state, "recordedMs", (double)rb_wall_ms());
}

static void
state_clear_requests(struct runctx *c)
{
  if (!c->state)
    return;
  cJSON_DeleteItemFromObjectCaseSensitive(c->state, "requests");
  cJSON_DeleteItemFromObjectCaseSensitive(c->state, "guards");
  cJSON_DeleteItemFromObjectCaseSensitive(c->state, "recordedMs");
}

/* Commits t together with the run's current position. */
static rb_status
save_run(struct runctx *c, struct tx *t)
{
  state_sync(c);
  c->run->updated_ms = rb_wall_ms();
  t->incident_id = c->run->incident_id;
  t->update = c->run;
  return tx_commit(c->e, t);
}

/* A step's requests recorded before a restart: which to send again.  Each
 * one's object is read again and compared with what was recorded (its
 * guard): unchanged, it is re-sent; already holding what the request sets
 * (the request was applied before the restart), or gone for a DELETE, it
 * is skipped (listed in done); changed otherwise, or recorded longer than
 * RESUME_MAX_MS ago, or unreadable, nothing is sent: C_ABANDON, and the
 * note says why.  A dry run re-records them all. */
static enum compute
resume_recorded(struct runctx *c, struct computed *k, struct buf *done)
{
  const cJSON *rq = cJSON_GetObjectItemCaseSensitive(c->state, "requests");
  const cJSON *gs = cJSON_GetObjectItemCaseSensitive(c->state, "guards");
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(c->state, "recordedMs");
  int64_t recorded = cJSON_IsNumber(at) ? (int64_t)at->valuedouble : c->run->updated_ms;
  int64_t age = rb_wall_ms() - recorded;
  struct kube_req *all = NULL;
  size_t n = 0, ndone = 0;
  char *text = cJSON_PrintUnformatted(rq);
  enum compute ret = C_OK;

  if (!text || kube_reqs_from_json(text, &all, &n) != RB_OK) {
    free(text);
    snprintf(k->note, sizeof(k->note),
             "the requests recorded before the restart could not be read back: not re-sent");
    return C_ABANDON;
  }
  free(text);
  if (c->run->dry_run) {
    k->reqs = all;
    k->n = n;
    snprintf(k->note, sizeof(k->note),
             "resumed after a restart: a dry run records the same requests again");
    return C_OK;
  }
  if (age > RESUME_MAX_MS) {
    snprintf(k->note, sizeof(k->note),
             "the requests were recorded %llds before this restart, more than %llds: the "
             "cluster they were decided on may have moved on; not re-sent",
             (long long)(age / 1000), RESUME_MAX_MS / 1000);
    kube_reqs_free(all, n);
    return C_ABANDON;
  }
  buf_puts(done, "[");
  for (size_t i = 0; i < n && ret == C_OK; i++) {
    const cJSON *g = cJSON_GetArrayItem(gs, (int)i);
    const cJSON *gp = cJSON_GetObjectItemCaseSensitive(g, "path");
    cJSON *cur = NULL;
    char why[512];
    rb_status rc = RB_OK;

    if (cJSON_IsString(gp)) {
      rc = kube_get_json(c, gp->valuestring, &cur, why, sizeof(why));
      if (rc != RB_OK && rc != RB_ENOTFOUND) {
        snprintf(k->note, sizeof(k->note),
                 "could not read the object again to check it before re-sending: %s", why);
        ret = C_ABANDON;
        break;
      }
    }
    switch (kube_resume_decide(&all[i], cJSON_IsObject(g) ? g : NULL, cur, why, sizeof(why))) {
    case KUBE_RESUME_SEND: {
      struct kube_req *r = push_req(k);
      if (!r) {
        ret = C_FAILED;
        snprintf(k->note, sizeof(k->note), "out of memory");
        break;
      }
      *r = all[i];
      memset(&all[i], 0, sizeof(all[i]));
      if (!k->guards)
        k->guards = cJSON_CreateArray();
      cJSON_AddItemToArray(k->guards, g ? cJSON_Duplicate(g, 1) : cJSON_CreateNull());
      break;
    }
    case KUBE_RESUME_DONE:
      if (cur && template_write(&all[i]))
        note_written(c, template_write(&all[i]), cur);
      buf_puts(done, ndone++ ? "," : "");
      buf_json_str(done, why);
      break;
    case KUBE_RESUME_CHANGED:
      snprintf(k->note, sizeof(k->note), "not re-sent after the restart: %s", why);
      ret = C_ABANDON;
      break;
    }
    cJSON_Delete(cur);
  }
  buf_puts(done, "]");
  kube_reqs_free(all, n);
  if (ret == C_OK)
    snprintf(k->note, sizeof(k->note),
             "resumed after a restart: each object read again; %zu request%s unchanged since "
             "recorded re-sent, %zu applied already",
             k->n, k->n == 1 ? "" : "s", ndone);
  return ret;
}

/* A step that changes the cluster.  The outcome's events are left in out
 * for the caller to commit with the run's next position. */
static enum step_result
run_mutating(struct runctx *c, const struct step *s, int index, struct tx *out)
{
  const char *phase = run_phase_name(c->run->phase);
  const char *d = s->deployment ? s->deployment : c->run->deployment;
  int resumed = state_has_requests(c);
  struct computed k;
  struct buf det, done;
  enum step_result res = S_FAILED;

  memset(&k, 0, sizeof(k));
  for (int tries = 0;; tries++) {
    struct tx t;
    enum compute cr = C_OK;
    int sent;

    memset(&t, 0, sizeof(t));
    buf_init(&done, 0);
    cr = resumed ? resume_recorded(c, &k, &done) : compute_step(c, s, d, &k);
    if (cr == C_ABANDON) {
      buf_free(&done);
      snprintf(c->fail_reason, sizeof(c->fail_reason), "%s", k.note);
      res = S_ABANDONED;
      break;
    }
    buf_init(&det, 0);
    detail_head(&det, c, s, phase, index, d);
    buf_puts(&det, ",\"note\":");
    buf_json_str(&det, k.note);
    if (cr == C_REFUSED || cr == C_FAILED) {
      buf_puts(&det, "}");
      tx_event(out, cr == C_REFUSED ? "step refused" : "step failed", &det);
      metrics_rem_step(c->plan->name, step_kind_name(s->kind),
                       cr == C_REFUSED ? "refused" : "failed");
      res = S_FAILED;
      break;
    }
    buf_puts(&det, ",\"requests\":");
    reqs_json(&det, k.reqs, k.n);
    if (cr == C_NOTHING) {
      buf_puts(&det, ",\"sent\":false}");
      tx_event(out, "step succeeded", &det);
      metrics_rem_step(c->plan->name, step_kind_name(s->kind), "succeeded");
      res = S_OK;
      break;
    }
    /* Record exactly what will be sent, and what each object looked like
     * when it was decided, durably, before sending it. */
    if (!resumed) {
      state_record_requests(c, &k);
      if (k.guards) {
        char *g = cJSON_PrintUnformatted(k.guards);
        if (g) {
          buf_puts(&det, ",\"preconditions\":");
          buf_puts(&det, g);
        }
        free(g);
      }
    } else if (done.len > 2) {
      buf_puts(&det, ",\"appliedAlready\":");
      buf_puts(&det, done.data);
    }
    buf_free(&done);
    buf_puts(&det, "}");
    tx_event(&t, resumed ? "step resumed" : tries ? "step retried" : "step started", &det);
    if (save_run(c, &t) != RB_OK) {
      res = S_STOPPED;
      break;
    }
    buf_init(&det, 0);
    detail_head(&det, c, s, phase, index, d);
    if (c->run->dry_run) {
      for (size_t i = 0; i < k.n; i++) {
        cJSON *st = template_write(&k.reqs[i]) ? state_deployment(c, template_write(&k.reqs[i]), 1)
                                               : NULL;
        if (st)
          state_set(st, "recorded", cJSON_CreateTrue());
      }
      buf_puts(&det, ",\"sent\":false,\"note\":\"dry-run: recorded, not sent\"}");
      tx_event(out, "step succeeded", &det);
      metrics_rem_step(c->plan->name, step_kind_name(s->kind), "succeeded");
      res = S_OK;
      break;
    }
    if (k.n == 0) {
      /* Resumed, and every recorded request was applied already. */
      buf_puts(&det, ",\"responses\":[],\"note\":\"every request recorded before the "
                     "restart was applied already: none re-sent\"}");
      tx_event(out, "step succeeded", &det);
      metrics_rem_step(c->plan->name, step_kind_name(s->kind), "succeeded");
      res = S_OK;
      break;
    }
    sent = send_all(c, k.reqs, k.n, &det);
    if (sent == 2) {
      /* Dry-run was turned on: what was not sent stays unsent, and the run
       * goes on with its reads and checks only (its earlier changes are
       * real, so its verification still says whether they helped). */
      buf_puts(&det, ",\"note\":\"" WITHHELD_NOTE "\"}");
      tx_event(out, "step skipped", &det);
      metrics_rem_step(c->plan->name, step_kind_name(s->kind), "skipped");
      c->withheld++;
      res = S_OK;
      break;
    }
    if (sent == -1 && tries < MAX_409_RETRIES) {
      /* 409 (or a failed JSON-patch test): the object changed under us.
       * The conflict is committed at once, before the retry it causes,
       * with nothing pending (what was sent was refused), then the object
       * is read afresh and the step recomputed. */
      struct tx ct;
      memset(&ct, 0, sizeof(ct));
      buf_puts(&det, "}");
      tx_event(&ct, "step conflict", &det);
      state_clear_requests(c);
      if (save_run(c, &ct) != RB_OK) {
        res = S_STOPPED;
        break;
      }
      computed_clear(&k);
      resumed = 0;
      continue;
    }
    if (sent != 1 && strstr(det.data ? det.data : "", "\"mayHaveBeenApplied\":true"))
      buf_puts(&det, ",\"note\":\"the API gave no answer, or a timeout or internal error, for "
                     "a change: it may have been applied\"");
    buf_puts(&det, "}");
    tx_event(out, sent == 1 ? "step succeeded" : "step failed", &det);
    metrics_rem_step(c->plan->name, step_kind_name(s->kind), sent == 1 ? "succeeded" : "failed");
    res = sent == 1 ? S_OK : S_FAILED;
    break;
  }
  computed_clear(&k);
  if (res != S_STOPPED)
    state_clear_requests(c);
  return res;
}

/* exec's environment: a fixed PATH, the run, and the alert's labels as
 * RUNBOOKD_LABEL_<NAME> (other characters become '_'). */
static char **
exec_env(const struct runctx *c)
{
  size_t n = c->labels.n + 8, i = 0;
  char **env = calloc(n, sizeof(char *));
  char buf[256];

  if (!env)
    return NULL;
  env[i++] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  snprintf(buf, sizeof(buf), "RUNBOOKD_INCIDENT_ID=%lld", (long long)c->run->incident_id);
  env[i++] = strdup(buf);
  snprintf(buf, sizeof(buf), "RUNBOOKD_PLAN=%s", c->plan->name);
  env[i++] = strdup(buf);
  snprintf(buf, sizeof(buf), "RUNBOOKD_NAMESPACE=%s", c->run->namespace_);
  env[i++] = strdup(buf);
  snprintf(buf, sizeof(buf), "RUNBOOKD_DEPLOYMENT=%s", c->run->deployment);
  env[i++] = strdup(buf);
  snprintf(buf, sizeof(buf), "RUNBOOKD_DRY_RUN=%d", c->run->dry_run);
  env[i++] = strdup(buf);
  for (size_t k = 0; k < c->labels.n && i < n - 1; k++) {
    struct buf b;
    buf_init(&b, 70000);
    buf_puts(&b, "RUNBOOKD_LABEL_");
    for (const char *p = c->labels.kv[k].name; *p; p++) {
      char ch = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
      buf_append(&b, &ch, 1);
    }
    buf_puts(&b, "=");
    buf_puts(&b, c->labels.kv[k].value);
    env[i++] = buf_steal(&b);
  }
  env[i] = NULL;
  return env;
}

static void
free_strv0(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

/* One attempt of a read-only step or a verification. */
static int
check_once(struct runctx *c, const struct step *s, const char *d, struct buf *det, char **prom,
           char **pg)
{
  const char *ns = c->run->namespace_;
  int pass = 0;

  switch (s->kind) {
  case STEP_WAIT_ROLLOUT: {
    char path[512], msg[512], why[512];
    cJSON *obj = NULL;
    kube_path_deployment(path, sizeof(path), ns, d);
    if (kube_get_json(c, path, &obj, why, sizeof(why)) != RB_OK) {
      buf_puts(det, "{\"error\":");
      buf_json_str(det, why);
      buf_puts(det, "}");
      return 0;
    }
    {
      char *text = cJSON_PrintUnformatted(obj);
      int st = kube_rollout_status(text ? text : "", msg, sizeof(msg));
      free(text);
      pass = st == 1 ? 1 : st < 0 ? -1 : 0;
    }
    cJSON_Delete(obj);
    buf_puts(det, "{\"status\":");
    buf_json_str(det, msg);
    buf_puts(det, "}");
    return pass;
  }
  case STEP_HTTP_CHECK: {
    char *url = expand(s->url, ns, d);
    pass = check_http(s->method, url, s->expect_status, s->max_latency_ms, s->timeout_s, det);
    free(url);
    return pass;
  }
  case STEP_PROMQL: {
    char *q = expand(s->query, ns, d);
    const char *base = s->prometheus_url ? s->prometheus_url : *prom;
    if (!base) {
      buf_puts(det, "{\"error\":\"no Prometheus configured (remediation.prometheus_url)\"}");
      free(q);
      return 0;
    }
    pass = check_promql(base, q, s->op, s->threshold, s->timeout_s, det);
    free(q);
    return pass;
  }
  case STEP_POSTGRES: {
    char *q = expand(s->query, ns, d);
    pass = check_postgres(*pg, q, s->maintenance, s->max_rows, s->timeout_s, det);
    free(q);
    return pass;
  }
  case STEP_EXEC: {
    char **argv = calloc(s->argc + 1, sizeof(char *)), **env = exec_env(c);
    for (size_t i = 0; argv && i < s->argc; i++)
      argv[i] = expand(s->argv[i], ns, d);
    pass = argv && env ? check_exec(argv, env, s->timeout_s, det) : 0;
    free_strv0(argv);
    free_strv0(env);
    return pass;
  }
  default:
    buf_puts(det, "{}");
    return 0;
  }
}

/* A read-only step or verification, repeated (waits, http, promql) until
 * it passes or its window closes.  Events go into out. */
static enum step_result
run_check(struct runctx *c, const struct step *s, int index, struct tx *out)
{
  const char *d = s->deployment ? s->deployment : c->run->deployment;
  int repeat = s->kind == STEP_WAIT_ROLLOUT || s->kind == STEP_HTTP_CHECK
               || s->kind == STEP_PROMQL;
  int64_t deadline = rb_mono_ns() + (int64_t)s->timeout_s * 1000000000;
  char *prom, *pg;
  struct buf det, last;
  int pass = 0, attempts = 0;

  buf_init(&det, 0);
  detail_head(&det, c, s, run_phase_name(c->run->phase), index, d);
  if (c->run->dry_run) {
    buf_puts(&det, ",\"note\":\"dry-run: checks are not run\"}");
    tx_event(out, "step skipped", &det);
    metrics_rem_step(c->plan->name, step_kind_name(s->kind), "skipped");
    return S_OK;
  }
  /* A live run after dry-run was turned on still runs its read-only
   * checks (its earlier changes are real), but not a maintenance query,
   * which writes. */
  if (s->kind == STEP_POSTGRES && s->maintenance && withheld(c)) {
    buf_puts(&det, ",\"sent\":false,\"note\":\"" WITHHELD_NOTE "\"}");
    tx_event(out, "step skipped", &det);
    metrics_rem_step(c->plan->name, step_kind_name(s->kind), "skipped");
    c->withheld++;
    return S_OK;
  }
  pthread_mutex_lock(&c->e->mu);
  prom = c->e->prometheus_url ? strdup(c->e->prometheus_url) : NULL;
  pg = c->e->pg_conninfo ? strdup(c->e->pg_conninfo) : NULL;
  pthread_mutex_unlock(&c->e->mu);
  buf_init(&last, 0);
  for (;;) {
    buf_reset(&last);
    attempts++;
    pass = check_once(c, s, d, &last, &prom, &pg);
    if (pass != 0 || !repeat)
      break;
    if (rb_mono_ns() + (int64_t)s->interval_s * 1000000000 > deadline)
      break;
    if (engine_wait(c->e, (int64_t)s->interval_s * 1000)) {
      buf_free(&det);
      buf_free(&last);
      free(prom);
      if (pg)
        explicit_bzero(pg, strlen(pg));
      free(pg);
      return S_STOPPED;
    }
  }
  free(prom);
  if (pg)
    explicit_bzero(pg, strlen(pg));
  free(pg);
  buf_printf(&det, ",\"attempts\":%d,\"result\":%s}", attempts, last.data ? last.data : "{}");
  buf_free(&last);
  if (c->run->phase == PHASE_VERIFY)
    tx_event(out, pass == 1 ? "verified" : "verification failed", &det);
  else
    tx_event(out, pass == 1 ? "step succeeded" : "step failed", &det);
  metrics_rem_step(c->plan->name, step_kind_name(s->kind),
                   pass == 1 ? "succeeded" : c->run->phase == PHASE_VERIFY ? "unverified" : "failed");
  return pass == 1 ? S_OK : S_FAILED;
}

/* An exec step of a live run.  What it runs is committed (`step
 * started`, with the expanded argv, and "exec" in the run's state) before
 * the fork, so a restart finds it: a program that may have run, or be
 * half done, is not run again (unless the step is idempotent) but its
 * outcome is unknown, which fails the step and asks a person at once. */
static enum step_result
run_exec(struct runctx *c, const struct step *s, int index, struct tx *out)
{
  const char *d = s->deployment ? s->deployment : c->run->deployment;
  const char *phase = run_phase_name(c->run->phase);
  cJSON *m = c->state ? cJSON_GetObjectItemCaseSensitive(c->state, "exec") : NULL;
  const cJSON *mp = cJSON_GetObjectItemCaseSensitive(m, "phase");
  const cJSON *mi = cJSON_GetObjectItemCaseSensitive(m, "index");
  int resumed = m && cJSON_IsString(mp) && strcmp(mp->valuestring, phase) == 0 && cJSON_IsNumber(mi)
                && (int)mi->valuedouble == index;
  cJSON *argv = cJSON_CreateArray();
  char *aj;
  struct buf det;
  struct tx t;
  enum step_result res;

  for (size_t i = 0; i < s->argc; i++) {
    char *a = expand(s->argv[i], c->run->namespace_, d);
    cJSON_AddItemToArray(argv, cJSON_CreateString(a ? a : ""));
    free(a);
  }
  aj = cJSON_PrintUnformatted(argv);
  cJSON_Delete(argv);
  buf_init(&det, 0);
  detail_head(&det, c, s, phase, index, d);
  buf_puts(&det, ",\"argv\":");
  buf_puts(&det, aj ? aj : "[]");
  if (resumed && !s->idempotent) {
    char reason[512];
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(m, "startedMs");
    snprintf(reason, sizeof(reason),
             "exec step %s of plan %s was running when runbookd stopped (started %llds "
             "before this restart): its outcome is unknown and it was not run again",
             s->name, c->plan->name,
             cJSON_IsNumber(at) ? (long long)((rb_wall_ms() - (int64_t)at->valuedouble) / 1000)
                                : -1LL);
    buf_puts(&det, ",\"outcome\":\"unknown\",\"note\":");
    buf_json_str(&det, reason);
    buf_puts(&det, "}");
    tx_event(out, c->run->phase == PHASE_VERIFY ? "verification failed" : "step failed", &det);
    out->incident_id = c->run->incident_id;
    escalate(c, out, reason);
    c->escalated = 1;
    metrics_rem_step(c->plan->name, "exec", "unknown");
    cJSON_DeleteItemFromObjectCaseSensitive(c->state, "exec");
    free(aj);
    return S_FAILED;
  }
  /* Recorded before the fork: never run unrecorded. */
  if (c->state) {
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "phase", phase);
    cJSON_AddNumberToObject(rec, "index", index);
    cJSON_AddItemToObject(rec, "argv", aj ? cJSON_Parse(aj) : cJSON_CreateArray());
    cJSON_AddNumberToObject(rec, "startedMs", (double)rb_wall_ms());
    cJSON_DeleteItemFromObjectCaseSensitive(c->state, "exec");
    cJSON_AddItemToObject(c->state, "exec", rec);
  }
  free(aj);
  if (resumed)
    buf_puts(&det, ",\"note\":\"it was running when runbookd stopped; run again (the step "
                   "is idempotent)\"");
  buf_puts(&det, "}");
  memset(&t, 0, sizeof(t));
  tx_event(&t, resumed ? "step resumed" : "step started", &det);
  if (save_run(c, &t) != RB_OK)
    return S_STOPPED;
  res = run_check(c, s, index, out);
  if (res != S_STOPPED && c->state)
    cJSON_DeleteItemFromObjectCaseSensitive(c->state, "exec");
  return res;
}

static enum step_result
run_step(struct runctx *c, const struct step *s, int index, struct tx *out)
{
  if (step_mutates(s->kind) && s->kind != STEP_EXEC)
    return run_mutating(c, s, index, out);
  if (s->kind == STEP_EXEC && (c->run->dry_run || withheld(c))) {
    struct buf det;
    int held = !c->run->dry_run;
    buf_init(&det, 0);
    detail_head(&det, c, s, run_phase_name(c->run->phase), index,
                s->deployment ? s->deployment : c->run->deployment);
    buf_puts(&det, ",\"argv\":[");
    for (size_t i = 0; i < s->argc; i++) {
      buf_puts(&det, i ? "," : "");
      buf_json_str(&det, s->argv[i]);
    }
    buf_puts(&det, held ? "],\"sent\":false,\"note\":\"" WITHHELD_NOTE "\"}"
                        : "],\"sent\":false,\"note\":\"dry-run: not executed\"}");
    tx_event(out, "step skipped", &det);
    metrics_rem_step(c->plan->name, "exec", "skipped");
    c->withheld += (unsigned)held;
    return S_OK;
  }
  if (s->kind == STEP_EXEC)
    return run_exec(c, s, index, out);
  return run_check(c, s, index, out);
}

static void
finish_run(struct runctx *c)
{
  struct engine *e = c->e;
  struct rem_run *r = c->run;
  struct tx t;
  struct buf d;
  const char *outcome = r->dry_run && !r->failed ? "dry_run"
                        : !r->failed            ? "succeeded"
                        : r->outcome            ? r->outcome
                                                : "failed";
  char *oc = strdup(outcome);

  memset(&t, 0, sizeof(t));
  cJSON_Delete(c->state); /* a finished run keeps nothing pending */
  c->state = NULL;
  free(r->outcome);
  r->outcome = oc;
  r->state = r->failed ? RUN_FAILED : RUN_SUCCEEDED;
  r->phase = PHASE_DONE;
  r->finished_ms = rb_wall_ms();
  buf_init(&d, 0);
  buf_printf(&d, "{\"run\":\"%lld\",\"plan\":", (long long)r->id);
  buf_json_str(&d, r->plan);
  buf_puts(&d, ",\"outcome\":");
  buf_json_str(&d, r->outcome);
  buf_printf(&d, ",\"durationMs\":%lld", (long long)(r->finished_ms - r->started_ms));
  if (c->withheld)
    buf_printf(&d, ",\"withheldSteps\":%u", c->withheld);
  buf_puts(&d, "}");
  tx_event(&t, "remediation finished", &d);
  t.incident_id = r->incident_id; /* escalate() pages this incident */
  if (r->failed && !c->escalated) {
    char reason[512];
    if (c->fail_reason[0])
      snprintf(reason, sizeof(reason), "remediation plan %s failed: %s", r->plan, c->fail_reason);
    else
      snprintf(reason, sizeof(reason), "remediation plan %s %s", r->plan,
               strcmp(r->outcome, "unverified") == 0 ? "did not verify" : "failed");
    escalate(c, &t, reason);
  }
  save_run(c, &t);
  metrics_rem_run(r->outcome);
  pthread_mutex_lock(&e->mu);
  rl_history_finish(&e->hist, r->id, r->failed ? RL_FAILED : RL_SUCCEEDED, r->finished_ms);
  rl_history_prune(&e->hist, r->finished_ms, HISTORY_KEEP_MS);
  pthread_mutex_unlock(&e->mu);
}

/* The step list of the run's phase, and its length. */
static const struct step *
phase_steps(const struct runctx *c, size_t *n)
{
  const struct plan *p = c->plan;
  switch (c->run->phase) {
  case PHASE_STEPS:
    *n = p->n_steps;
    return p->steps;
  case PHASE_VERIFY:
    *n = p->n_verify;
    return p->verify;
  case PHASE_ON_FAILURE:
    *n = p->n_on_failure;
    return p->on_failure;
  default:
    *n = 0;
    return NULL;
  }
}

/* Ends a run where it stands, without its on_failure steps: `step
 * abandoned` names the step and why, the run finishes failed, and its
 * escalation says why. */
static void
abandon_run(struct runctx *c, const char *why)
{
  struct rem_run *r = c->run;
  size_t n = 0;
  const struct step *list = c->plan ? phase_steps(c, &n) : NULL;
  const struct step *s = list && (size_t)r->step_index < n ? &list[r->step_index] : NULL;
  struct tx t;
  struct buf d;

  memset(&t, 0, sizeof(t));
  buf_init(&d, 0);
  if (s) {
    detail_head(&d, c, s, run_phase_name(r->phase), r->step_index,
                s->deployment ? s->deployment : r->deployment);
  } else {
    buf_printf(&d, "{\"run\":\"%lld\",\"plan\":", (long long)r->id);
    buf_json_str(&d, r->plan);
  }
  buf_puts(&d, ",\"reason\":");
  buf_json_str(&d, why);
  buf_puts(&d, "}");
  tx_event(&t, "step abandoned", &d);
  if (s)
    metrics_rem_step(c->plan->name, step_kind_name(s->kind), "abandoned");
  if (why != c->fail_reason)
    snprintf(c->fail_reason, sizeof(c->fail_reason), "%s", why);
  r->failed = 1;
  free(r->outcome);
  r->outcome = NULL;
  state_clear_requests(c);
  save_run(c, &t);
  finish_run(c);
}

/* The store stayed unavailable through tx_commit's retries (about 15 s)
 * while the engine is not stopping: the run cannot record its progress,
 * so it goes no further.  It must not stay "running" in the limits (every
 * later alert for its objects would be target_busy until a restart), and a
 * person must know: it is logged at error with its id, marked failed in
 * the history, escalated through the hook, and recorded as abandoned (and
 * finished, failed) as soon as the store answers again.  If the daemon
 * stops first, the run is still running in the store and resumes at the
 * next start (docs/remediation.md). */
static void
store_lost(struct runctx *c)
{
  struct engine *e = c->e;
  struct rem_run *r = c->run;
  char id[32], inc[32], reason[512];
  struct tx t;
  struct buf d;
  int64_t now = rb_wall_ms();

  snprintf(id, sizeof(id), "%lld", (long long)r->id);
  snprintf(inc, sizeof(inc), "%lld", (long long)r->incident_id);
  snprintf(reason, sizeof(reason),
           "remediation run %lld (plan %s) stopped at %s step %d: the store was unavailable for "
           "more than 15 s, so its progress could not be recorded",
           (long long)r->id, r->plan, run_phase_name(r->phase), r->step_index);
  rblog(LOG_ERROR, "remediation run abandoned: the store is unavailable", "run", id, "incident",
        inc, "plan", r->plan, "phase", run_phase_name(r->phase), NULL);
  pthread_mutex_lock(&e->mu);
  rl_history_finish(&e->hist, r->id, RL_FAILED, now);
  pthread_mutex_unlock(&e->mu);
  metrics_rem_escalation();
  if (e->escalate)
    e->escalate(e->hook_arg, r->incident_id, reason);
  metrics_rem_run("failed");

  /* What the store gets once it answers: abandoned, finished, escalated. */
  memset(&t, 0, sizeof(t));
  t.incident_id = r->incident_id;
  buf_init(&d, 0);
  buf_printf(&d, "{\"run\":\"%lld\",\"plan\":", (long long)r->id);
  buf_json_str(&d, r->plan);
  buf_printf(&d, ",\"phase\":\"%s\",\"index\":%d,\"reason\":", run_phase_name(r->phase),
             r->step_index);
  buf_json_str(&d, reason);
  buf_puts(&d, "}");
  tx_event(&t, "step abandoned", &d);
  buf_init(&d, 0);
  buf_printf(&d, "{\"run\":\"%lld\",\"plan\":", (long long)r->id);
  buf_json_str(&d, r->plan);
  buf_printf(&d, ",\"outcome\":\"failed\",\"durationMs\":%lld}", (long long)(now - r->started_ms));
  tx_event(&t, "remediation finished", &d);
  buf_init(&d, 0);
  buf_puts(&d, "{\"reason\":");
  buf_json_str(&d, reason);
  buf_puts(&d, "}");
  tx_event(&t, "escalation requested", &d);
  cJSON_Delete(c->state);
  c->state = NULL;
  state_sync(c);
  free(r->outcome);
  r->outcome = strdup("failed");
  r->failed = 1;
  r->state = RUN_FAILED;
  r->phase = PHASE_DONE;
  r->finished_ms = r->updated_ms = now;
  t.update = r;
  while (!engine_wait(e, 5000)) {
    t.now = rb_wall_ms();
    if (store_submit(e->st, tx_fn, &t) == RB_OK) {
      rblog(LOG_INFO, "remediation run recorded as abandoned", "run", id, "incident", inc, NULL);
      break;
    }
  }
  for (size_t i = 0; i < t.nev; i++)
    free(t.ev[i].detail);
}

/* Runs a plan from the run's stored position to the end. */
static void
execute(struct runctx *c)
{
  struct rem_run *r = c->run;

  while (r->phase != PHASE_DONE) {
    const struct step *list;
    size_t n;
    struct tx t;
    enum step_result res;

    if (stopping(c->e))
      return;
    list = r->phase == PHASE_STEPS ? c->plan->steps
           : r->phase == PHASE_VERIFY ? c->plan->verify : c->plan->on_failure;
    n = r->phase == PHASE_STEPS ? c->plan->n_steps
        : r->phase == PHASE_VERIFY ? c->plan->n_verify : c->plan->n_on_failure;
    memset(&t, 0, sizeof(t));
    if ((size_t)r->step_index >= n) {
      /* This phase is done: on to the next one. */
      if (r->phase == PHASE_STEPS)
        r->phase = PHASE_VERIFY;
      else
        r->phase = PHASE_DONE;
      r->step_index = 0;
      if (r->phase == PHASE_DONE)
        break;
      if (save_run(c, &t) != RB_OK) {
        if (!stopping(c->e))
          store_lost(c);
        return;
      }
      continue;
    }
    res = run_step(c, &list[r->step_index], r->step_index, &t);
    if (res == S_FAILED && list[r->step_index].optional)
      res = S_OK; /* recorded as failed; the plan goes on */
    if (res == S_STOPPED || res == S_ABANDONED) {
      for (size_t i = 0; i < t.nev; i++)
        free(t.ev[i].detail);
      if (res == S_ABANDONED)
        abandon_run(c, c->fail_reason);
      else if (!stopping(c->e))
        store_lost(c); /* its commit failed: the store is unavailable */
      return;
    }
    if (res == S_OK) {
      r->step_index++;
    } else if (r->phase == PHASE_ON_FAILURE) {
      r->phase = PHASE_DONE; /* a failing fallback ends the run */
    } else {
      r->failed = 1;
      if (r->phase == PHASE_VERIFY) {
        free(r->outcome);
        r->outcome = strdup("unverified");
      }
      r->phase = PHASE_ON_FAILURE;
      r->step_index = 0;
    }
    if (save_run(c, &t) != RB_OK) {
      if (!stopping(c->e))
        store_lost(c);
      return;
    }
  }
  finish_run(c);
}

static const struct plan *
find_plan(const struct plan_set *ps, const char *name)
{
  for (size_t i = 0; ps && i < ps->n; i++)
    if (strcmp(ps->plans[i].name, name) == 0)
      return &ps->plans[i];
  return NULL;
}

static void
run_and_free(struct engine *e, struct queued_run *q)
{
  struct rem_run *run = q->run;
  struct runctx c;
  struct incident inc;

  memset(&c, 0, sizeof(c));
  c.e = e;
  c.run = run;
  c.received_ns = q->received_ns;
  state_load(&c);
  pthread_mutex_lock(&e->mu);
  c.plans = plan_set_hold(e->plans);
  pthread_mutex_unlock(&e->mu);
  c.plan = find_plan(c.plans, run->plan);
  if (q->have_labels) {
    c.labels = q->labels; /* the decision read them: no second read */
    memset(&q->labels, 0, sizeof(q->labels));
  } else if (store_get(e->st, run->incident_id, &inc) == RB_OK) {
    am_labels_from_json(inc.labels_json, &c.labels);
    incident_clear(&inc);
  }
  if (!c.plan) {
    struct tx t;
    struct buf d;
    memset(&t, 0, sizeof(t));
    buf_init(&d, 0);
    buf_printf(&d, "{\"run\":\"%lld\",\"reason\":", (long long)run->id);
    buf_json_str(&d, "its plan is no longer loaded (removed by a reload)");
    buf_puts(&d, "}");
    tx_event(&t, "step refused", &d);
    run->failed = 1;
    run->phase = PHASE_DONE;
    save_run(&c, &t);
    /* finish_run needs a plan only for metrics; use the run's name. */
    {
      struct plan fake;
      memset(&fake, 0, sizeof(fake));
      fake.name = run->plan;
      c.plan = &fake;
      finish_run(&c);
      c.plan = NULL;
    }
  } else if (!run->dry_run && !e->kube) {
    /* A live run left by a process that had a cluster, resumed by one
     * that has none: nothing it would read or send can be, so it ends
     * here, failed, and a person is asked. */
    abandon_run(&c, "no cluster configured (no --kube.api-url and not in a pod): this live run "
                    "cannot go on without the cluster it was started against");
  } else {
    execute(&c);
  }
  am_labels_free(&c.labels);
  plan_set_drop(c.plans);
  cJSON_Delete(c.state);
  rem_run_clear(run);
  free(run);
}

static void *executor_main(void *arg);

/* Starts one more executor unless xmax run; with mu held. */
static void
add_executor(struct engine *e)
{
  if (e->nxthreads < e->xmax
      && pthread_create(&e->xthreads[e->nxthreads], NULL, executor_main, e) == 0)
    e->nxthreads++;
}

/* Hands a run to the executors; q's contents pass to the queue. */
static void
push_run(struct engine *e, struct queued_run *q)
{
  pthread_mutex_lock(&e->mu);
  if (e->rlen == e->rcap) {
    size_t cap = e->rcap ? e->rcap * 2 : 64;
    struct queued_run *v = malloc(cap * sizeof(*v));
    if (v) {
      for (size_t i = 0; i < e->rlen; i++)
        v[i] = e->runs[(e->rhead + i) % e->rcap];
      free(e->runs);
      e->runs = v;
      e->rhead = 0;
      e->rcap = cap;
    }
  }
  if (e->rlen < e->rcap) {
    e->runs[(e->rhead + e->rlen++) % e->rcap] = *q;
    /* More runs waiting than executors waiting: all are busy. */
    if (e->rlen > e->xidle && !e->stopping)
      add_executor(e);
    pthread_cond_signal(&e->rcv);
    pthread_mutex_unlock(&e->mu);
    return;
  }
  pthread_mutex_unlock(&e->mu);
  /* Out of memory: the run stays running in the store and resumes at the
   * next start. */
  am_labels_free(&q->labels);
  rem_run_clear(q->run);
  free(q->run);
}

static void *
executor_main(void *arg)
{
  struct engine *e = arg;
  sigset_t all;

  rb_thread_name("rb-run");

  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    struct queued_run q;
    pthread_mutex_lock(&e->mu);
    while (!e->rlen && !e->stopping) {
      e->xidle++;
      pthread_cond_wait(&e->rcv, &e->mu);
      e->xidle--;
    }
    if (e->stopping) {
      pthread_mutex_unlock(&e->mu);
      break;
    }
    q = e->runs[e->rhead];
    e->rhead = (e->rhead + 1) % e->rcap;
    e->rlen--;
    pthread_mutex_unlock(&e->mu);
    run_and_free(e, &q);
    am_labels_free(&q.labels);
  }
  return NULL;
}

/* ---- decisions ---------------------------------------------------------- */

static void
decide(struct engine *e, int64_t incident_id, enum rem_decision dec, const char *kind,
       struct buf *detail, struct tx *more)
{
  struct tx t;
  memset(&t, 0, sizeof(t));
  if (more)
    t = *more;
  t.incident_id = incident_id;
  t.mark_decided = 1;
  if (kind)
    tx_event(&t, kind, detail);
  else if (detail)
    buf_free(detail);
  tx_commit(e, &t);
  metrics_rem_decision(dec);
}

/* The target's Deployment: the alert's deployment label, or its pod's
 * owner through ReplicaSet ownerReferences. */
static int
resolve_target(struct runctx *c, const struct am_labels *ls, char *deploy, size_t n, char *why,
               size_t whylen)
{
  const char *ns = am_label(ls, "namespace"), *d = am_label(ls, "deployment");

  if (c->plan->target_deployment)
    d = c->plan->target_deployment;
  const char *pod = am_label(ls, "pod");
  char path[512];
  cJSON *obj = NULL;
  const cJSON *it;
  char rs[256] = "";

  if (d) {
    if (!kube_valid_subdomain(d)) {
      snprintf(why, whylen, "label deployment=\"%.80s\" is not a valid Kubernetes name", d);
      return 0;
    }
    snprintf(deploy, n, "%s", d);
    return 1;
  }
  if (!pod) {
    snprintf(why, whylen, "the alert has neither a deployment nor a pod label");
    return 0;
  }
  if (!kube_valid_subdomain(pod)) {
    snprintf(why, whylen, "label pod=\"%.80s\" is not a valid Kubernetes name", pod);
    return 0;
  }
  if (!c->e->kube) {
    snprintf(why, whylen,
             "pod %s's Deployment cannot be found without a cluster (GET its ReplicaSet owner)",
             pod);
    return 0;
  }
  kube_path_pod(path, sizeof(path), ns, pod);
  if (kube_get_json(c, path, &obj, why, whylen) != RB_OK)
    return 0;
  cJSON_ArrayForEach(it, kube_jpath(obj, "metadata", "ownerReferences", NULL)) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "kind");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "controller")) && cJSON_IsString(k)
        && strcmp(k->valuestring, "ReplicaSet") == 0 && cJSON_IsString(nm))
      snprintf(rs, sizeof(rs), "%s", nm->valuestring);
  }
  cJSON_Delete(obj);
  if (!rs[0] || !kube_valid_subdomain(rs)) {
    snprintf(why, whylen, "pod %s is not controlled by a ReplicaSet", pod);
    return 0;
  }
  kube_path_replicaset(path, sizeof(path), ns, rs);
  if (kube_get_json(c, path, &obj, why, whylen) != RB_OK)
    return 0;
  deploy[0] = '\0';
  cJSON_ArrayForEach(it, kube_jpath(obj, "metadata", "ownerReferences", NULL)) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "kind");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "controller")) && cJSON_IsString(k)
        && strcmp(k->valuestring, "Deployment") == 0 && cJSON_IsString(nm))
      snprintf(deploy, n, "%s", nm->valuestring);
  }
  cJSON_Delete(obj);
  if (!deploy[0] || !kube_valid_subdomain(deploy)) {
    snprintf(why, whylen, "ReplicaSet %s is not controlled by a Deployment", rs);
    return 0;
  }
  return 1;
}

static void
evaluate(struct engine *e, int64_t incident_id, int64_t received_ns)
{
  struct incident inc;
  struct runctx c;
  struct buf d;
  struct tx t;
  const struct plan *p;
  char deploy[256], why[512], target[320], sil[128];
  const char *ns;
  enum rl_verdict v;
  struct rem_run *run;
  struct rl_run hr;
  int64_t now;
  int dry, other_target = 0;
  char *objects;

  memset(&c, 0, sizeof(c));
  memset(&t, 0, sizeof(t));
  c.e = e;
  c.received_ns = received_ns;
  if (store_get(e->st, incident_id, &inc) != RB_OK)
    return;
  if (!inc.remediation_pending) {
    incident_clear(&inc);
    return;
  }
  buf_init(&d, 0);
  if (inc.state == INC_RESOLVED) {
    buf_puts(&d, "{\"reason\":\"the incident was resolved before remediation was decided\"}");
    decide(e, incident_id, DEC_RESOLVED, "not remediated", &d, NULL);
    incident_clear(&inc);
    return;
  }
  if (am_labels_from_json(inc.labels_json, &c.labels) != RB_OK) {
    incident_clear(&inc);
    return;
  }
  if (e->silenced && e->silenced(e->hook_arg, &c.labels, sil, sizeof(sil))) {
    buf_puts(&d, "{\"silence\":");
    buf_json_str(&d, sil);
    buf_puts(&d, ",\"reason\":\"silenced: no remediation\"}");
    decide(e, incident_id, DEC_SILENCED, "silenced", &d, NULL);
    goto out;
  }
  pthread_mutex_lock(&e->mu);
  c.plans = plan_set_hold(e->plans);
  pthread_mutex_unlock(&e->mu);
  p = plan_match(c.plans, &c.labels, inc.severity);
  if (!p) {
    /* A plan matched at intake but a reload removed it since. */
    buf_printf(&d, "{\"plans\":%zu,\"reason\":\"no loaded plan matches any more\"}",
               c.plans ? c.plans->n : 0);
    decide(e, incident_id, DEC_NO_PLAN, "no plan matched", &d, NULL);
    goto out;
  }
  c.plan = p;
  /* The run's mode is decided here, once: what the plan matched event says
   * is what the run keeps (a reload only makes it more cautious). */
  dry = atomic_load(&e->dry_run) || !e->kube;
  /* The plan matched: say so, then every check that follows. */
  buf_puts(&d, "{\"plan\":");
  buf_json_str(&d, p->name);
  buf_puts(&d, ",\"runbook\":");
  buf_json_str(&d, p->runbook);
  buf_printf(&d, ",\"steps\":%zu,\"dryRun\":%s}", p->n_steps, dry ? "true" : "false");
  tx_event(&t, "plan matched", &d);

  ns = am_label(&c.labels, "namespace");
  why[0] = '\0';
  if (!ns || !kube_valid_label_name(ns))
    snprintf(why, sizeof(why), ns ? "label namespace=\"%.80s\" is not a valid namespace name"
                                  : "the alert has no namespace label%.0s",
             ns ? ns : "");
  else if (!plan_allows_namespace(p, ns))
    snprintf(why, sizeof(why), "namespace %s is not in plan %s's allow-list", ns, p->name);
  else if (!resolve_target(&c, &c.labels, deploy, sizeof(deploy), why, sizeof(why)))
    ;
  else if (!plan_allows_deployment(p, deploy))
    snprintf(why, sizeof(why), "deployment %s is not in plan %s's allow-list", deploy, p->name);
  if (why[0]) {
    struct runctx cc = c;
    buf_init(&d, 0);
    buf_puts(&d, "{\"plan\":");
    buf_json_str(&d, p->name);
    buf_puts(&d, ",\"reason\":");
    buf_json_str(&d, why);
    buf_puts(&d, "}");
    tx_event(&t, "remediation refused", &d);
    escalate(&cc, (t.incident_id = incident_id, &t), why);
    decide(e, incident_id, DEC_REFUSED, NULL, NULL, &t);
    goto out;
  }
  snprintf(target, sizeof(target), "%s/%s", ns, deploy);
  now = rb_wall_ms();
  memset(&hr, 0, sizeof(hr));
  /* Every object the run may change, not only its target: a run of
   * another plan changing one of them is as busy as one on the target. */
  objects = plan_objects(p, ns, deploy);
  pthread_mutex_lock(&e->mu);
  v = ratelimit_check_objects(&e->global, &p->limits, p->name, target, objects, incident_id,
                              &e->hist, now, why, sizeof(why), &other_target);
  if (v == RL_ALLOW) {
    hr.run_id = --e->provisional;
    snprintf(hr.plan, sizeof(hr.plan), "%s", p->name);
    snprintf(hr.target, sizeof(hr.target), "%s", target);
    hr.incident_id = incident_id;
    hr.started_ms = now;
    hr.objects = objects;
    rl_history_add(&e->hist, &hr);
    hr.objects = NULL;
  }
  pthread_mutex_unlock(&e->mu);
  free(objects);
  if (v != RL_ALLOW) {
    buf_init(&d, 0);
    buf_puts(&d, "{\"plan\":");
    buf_json_str(&d, p->name);
    buf_puts(&d, ",\"target\":");
    buf_json_str(&d, target);
    buf_printf(&d, ",\"limit\":\"%s\",\"reason\":", rl_verdict_name(v));
    buf_json_str(&d, why);
    buf_puts(&d, "}");
    tx_event(&t, "rate-limited", &d);
    /* Coalesced into the run already going on the same target; a run of
     * another target that changes the same objects will not look after
     * this alert's target, so a person is asked. */
    if (v != RL_TARGET_BUSY || other_target) {
      struct runctx cc = c;
      t.incident_id = incident_id;
      escalate(&cc, &t, why);
    }
    decide(e, incident_id, v == RL_TARGET_BUSY && !other_target ? DEC_COALESCED : DEC_REFUSED, NULL,
           NULL, &t);
    goto out;
  }
  run = calloc(1, sizeof(*run));
  run->incident_id = incident_id;
  run->plan = strdup(p->name);
  run->namespace_ = strdup(ns);
  run->deployment = strdup(deploy);
  run->state = RUN_RUNNING;
  run->phase = PHASE_STEPS;
  run->dry_run = dry;
  run->started_ms = run->updated_ms = now;
  t.insert = run;
  t.incident_id = incident_id;
  t.mark_decided = 1;
  if (tx_commit(e, &t) != RB_OK) {
    pthread_mutex_lock(&e->mu);
    rl_history_finish(&e->hist, hr.run_id, RL_SUCCEEDED, 0);
    rl_history_prune(&e->hist, now, 0);
    pthread_mutex_unlock(&e->mu);
    rem_run_clear(run);
    free(run);
    goto out;
  }
  metrics_rem_decision(DEC_MATCHED);
  pthread_mutex_lock(&e->mu);
  for (size_t i = e->hist.n; i-- > 0;)
    if (e->hist.v[i].run_id == hr.run_id)
      e->hist.v[i].run_id = run->id;
  pthread_mutex_unlock(&e->mu);
  {
    struct queued_run q;
    q.run = run;
    q.received_ns = c.measured ? 0 : received_ns; /* measured once */
    q.labels = c.labels; /* passes to the run */
    q.have_labels = 1;
    memset(&c.labels, 0, sizeof(c.labels));
    push_run(e, &q);
  }
  plan_set_drop(c.plans);
  incident_clear(&inc);
  return;
out:
  am_labels_free(&c.labels);
  plan_set_drop(c.plans);
  incident_clear(&inc);
}

/* ---- queue and workers -------------------------------------------------- */

static int
push(struct engine *e, const struct work *w)
{
  int ok = 0;
  pthread_mutex_lock(&e->mu);
  if (!e->stopping && e->qlen < e->qcap) {
    e->q[(e->qhead + e->qlen) % e->qcap] = *w;
    e->qlen++;
    ok = 1;
    pthread_cond_signal(&e->cv);
  }
  metrics_rem_queue(e->qlen);
  pthread_mutex_unlock(&e->mu);
  return ok;
}

static void *
worker_main(void *arg)
{
  struct engine *e = arg;
  sigset_t all;

  rb_thread_name("rb-decide");

  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    struct work w;
    pthread_mutex_lock(&e->mu);
    while (!e->qlen && !e->stopping)
      pthread_cond_wait(&e->cv, &e->mu);
    if (e->stopping) {
      pthread_mutex_unlock(&e->mu);
      break;
    }
    w = e->q[e->qhead];
    e->qhead = (e->qhead + 1) % e->qcap;
    e->qlen--;
    metrics_rem_queue(e->qlen);
    pthread_mutex_unlock(&e->mu);
    if (w.run) {
      struct queued_run q;
      memset(&q, 0, sizeof(q));
      q.run = w.run;
      push_run(e, &q);
    } else {
      evaluate(e, w.incident_id, w.received_ns);
    }
  }
  return NULL;
}

void
engine_submit(struct engine *e, int64_t incident_id, int64_t received_ns)
{
  struct work w = { incident_id, received_ns, NULL };
  if (!e)
    return;
  if (!push(e, &w)) {
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)incident_id);
    rblog(LOG_WARN, "remediation queue full; the incident is evaluated at the next start",
          "incident", id, NULL);
  }
}

static char *
dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

rb_status
engine_start(const struct engine_options *o, struct plan_set *plans, struct engine **out,
             char *err)
{
  struct engine *e = calloc(1, sizeof(*e));
  struct rem_run *runs = NULL;
  int64_t *pending = NULL;
  size_t nruns = 0, npending = 0;
  int64_t now = rb_wall_ms();

  *out = NULL;
  if (!e) {
    plan_set_drop(plans);
    return RB_ENOMEM;
  }
  e->st = o->store;
  e->kube = o->kube;
  atomic_init(&e->dry_run, o->dry_run || !o->kube);
  e->silenced = o->silenced;
  e->escalate = o->escalate;
  e->hook_arg = o->hook_arg;
  e->plans = plans;
  e->global = o->global;
  e->prometheus_url = dup_or_null(o->prometheus_url);
  e->pg_conninfo = dup_or_null(o->pg_conninfo);
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
  pthread_cond_init(&e->stopcv, NULL);
  /* What a previous process left: its runs feed the limits, the unfinished
   * ones resume, undecided incidents are evaluated. */
  if (store_runs_since(e->st, now - HISTORY_KEEP_MS, &runs, &nruns) != RB_OK
      || store_pending_remediation(e->st, &pending, &npending) != RB_OK) {
    snprintf(err, RB_ERRLEN, "cannot read remediation state from the store");
    rem_runs_free(runs, nruns);
    free(pending);
    engine_stop(e);
    return RB_EUNAVAIL;
  }
  e->qcap = (o->queue_size ? o->queue_size : 1000) + nruns + npending;
  e->q = calloc(e->qcap, sizeof(*e->q));
  for (size_t i = 0; i < nruns; i++) {
    struct rl_run hr;
    memset(&hr, 0, sizeof(hr));
    hr.run_id = runs[i].id;
    snprintf(hr.plan, sizeof(hr.plan), "%s", runs[i].plan);
    snprintf(hr.target, sizeof(hr.target), "%s/%s", runs[i].namespace_, runs[i].deployment);
    hr.incident_id = runs[i].incident_id;
    hr.started_ms = runs[i].started_ms;
    hr.finished_ms = runs[i].finished_ms;
    hr.outcome = runs[i].state == RUN_RUNNING   ? RL_RUNNING
                 : runs[i].state == RUN_FAILED ? RL_FAILED
                                               : RL_SUCCEEDED;
    /* The objects from the plan as loaded now (the target alone when the
     * plan is gone). */
    hr.objects
        = plan_objects(find_plan(plans, runs[i].plan), runs[i].namespace_, runs[i].deployment);
    rl_history_add(&e->hist, &hr);
    free(hr.objects);
    if (runs[i].state == RUN_RUNNING) {
      struct work w = { runs[i].incident_id, 0, calloc(1, sizeof(struct rem_run)) };
      if (w.run) {
        *w.run = runs[i];
        memset(&runs[i], 0, sizeof(runs[i]));
        e->q[e->qlen++] = w;
      }
    }
  }
  rem_runs_free(runs, nruns);
  for (size_t i = 0; i < npending; i++) {
    struct work w = { pending[i], 0, NULL };
    e->q[e->qlen++] = w;
  }
  free(pending);
  if (e->qlen) {
    char n[32];
    snprintf(n, sizeof(n), "%zu", e->qlen);
    rblog(LOG_INFO, "resuming remediation left by the previous run", "items", n, NULL);
  }
  pthread_cond_init(&e->rcv, NULL);
  e->xmax = o->max_runs ? o->max_runs : 16;
  e->xthreads = calloc(e->xmax, sizeof(*e->xthreads));
  if (!e->xthreads)
    e->xmax = 0;
  pthread_mutex_lock(&e->mu);
  add_executor(e); /* the others when runs need them */
  pthread_mutex_unlock(&e->mu);
  e->nthreads = o->workers ? o->workers : 2;
  e->threads = calloc(e->nthreads, sizeof(*e->threads));
  for (unsigned i = 0; i < e->nthreads; i++) {
    if (pthread_create(&e->threads[i], NULL, worker_main, e) != 0) {
      e->nthreads = i;
      snprintf(err, RB_ERRLEN, "cannot start remediation workers");
      engine_stop(e);
      return RB_EINTERNAL;
    }
  }
  *out = e;
  return RB_OK;
}

void
engine_reload(struct engine *e, struct plan_set *plans, const struct rl_global *g,
              const char *prometheus_url, const char *pg_conninfo, int dry_run)
{
  struct plan_set *old;
  char *op, *og;
  int was, now;

  if (!e) {
    plan_set_drop(plans);
    return;
  }
  pthread_mutex_lock(&e->mu);
  old = e->plans;
  e->plans = plans;
  e->global = *g;
  op = e->prometheus_url;
  og = e->pg_conninfo;
  e->prometheus_url = dup_or_null(prometheus_url);
  e->pg_conninfo = dup_or_null(pg_conninfo);
  /* Without a cluster every run stays dry whatever is asked. */
  now = dry_run || !e->kube;
  was = atomic_exchange(&e->dry_run, now);
  pthread_mutex_unlock(&e->mu);
  if (was != now)
    rblog(now ? LOG_INFO : LOG_WARN, "dry_run changed", "old", was ? "true" : "false", "new",
          now ? "true" : "false", "effect",
          now ? "runs decided from now on are dry; live runs in progress send nothing more"
              : "runs decided from now on change the cluster; dry runs in progress stay dry",
          NULL);
  plan_set_drop(old);
  free(op);
  if (og)
    explicit_bzero(og, strlen(og));
  free(og);
}

int
engine_wants(struct engine *e, const struct am_labels *labels, int severity)
{
  struct plan_set *ps;
  int want;

  if (!e)
    return 0;
  pthread_mutex_lock(&e->mu);
  ps = plan_set_hold(e->plans);
  pthread_mutex_unlock(&e->mu);
  want = ps && ps->n && plan_match(ps, labels, (enum severity)severity) != NULL;
  plan_set_drop(ps);
  return want;
}

int
engine_dry_run(struct engine *e)
{
  return e ? atomic_load(&e->dry_run) : 1;
}

void
engine_stop(struct engine *e)
{
  if (!e)
    return;
  pthread_mutex_lock(&e->mu);
  e->stopping = 1;
  pthread_cond_broadcast(&e->cv);
  pthread_cond_broadcast(&e->rcv);
  pthread_cond_broadcast(&e->stopcv);
  pthread_mutex_unlock(&e->mu);
  for (unsigned i = 0; i < e->nthreads; i++)
    pthread_join(e->threads[i], NULL);
  /* No executor starts once stopping is set (push_run). */
  for (unsigned i = 0; i < e->nxthreads; i++)
    pthread_join(e->xthreads[i], NULL);
  for (size_t i = 0; i < e->rlen; i++) {
    struct queued_run *q = &e->runs[(e->rhead + i) % e->rcap];
    am_labels_free(&q->labels);
    rem_run_clear(q->run);
    free(q->run);
  }
  free(e->runs);
  free(e->xthreads);
  pthread_cond_destroy(&e->rcv);
  for (size_t i = 0; i < e->qlen; i++) {
    struct work *w = &e->q[(e->qhead + i) % e->qcap];
    if (w->run) {
      rem_run_clear(w->run);
      free(w->run);
    }
  }
  free(e->q);
  free(e->threads);
  plan_set_drop(e->plans);
  rl_history_free(&e->hist);
  free(e->prometheus_url);
  if (e->pg_conninfo)
    explicit_bzero(e->pg_conninfo, strlen(e->pg_conninfo));
  free(e->pg_conninfo);
  pthread_cond_destroy(&e->cv);
  pthread_cond_destroy(&e->stopcv);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

static void
preview_list(struct runctx *c, const char *title, const struct step *list, size_t n, FILE *out)
{
  for (size_t i = 0; i < n; i++) {
    const struct step *s = &list[i];
    const char *d = s->deployment ? s->deployment : c->run->deployment;
    fprintf(out, "      %s %zu %s (%s%s)", title, i, s->name, step_kind_name(s->kind),
            s->optional ? ", optional" : "");
    if (step_mutates(s->kind) && s->kind != STEP_EXEC) {
      struct computed k;
      struct buf b;
      enum compute cr;
      memset(&k, 0, sizeof(k));
      cr = compute_step(c, s, d, &k);
      buf_init(&b, 0);
      reqs_json(&b, k.reqs, k.n);
      if (cr == C_REFUSED || k.note[0])
        fprintf(out, ": %s%s", cr == C_REFUSED ? "refused: " : "", k.note);
      fprintf(out, "\n        requests %s\n", b.data ? b.data : "[]");
      buf_free(&b);
      computed_clear(&k);
    } else if (s->kind == STEP_EXEC) {
      fprintf(out, ": would run %s (%zu arguments)\n", s->argv[0], s->argc - 1);
    } else if (s->kind == STEP_WAIT_ROLLOUT) {
      fprintf(out, ": GET deployment %s until rolled out, up to %us\n", d, s->timeout_s);
    } else if (s->kind == STEP_PROMQL) {
      char *q = expand(s->query, c->run->namespace_, d);
      fprintf(out, ": %s %s %g, up to %us\n", q, cmp_op_name(s->op), s->threshold,
              s->timeout_s);
      free(q);
    } else if (s->kind == STEP_HTTP_CHECK) {
      fprintf(out, ": %s %s expects %d, up to %us\n", s->method ? s->method : "GET", s->url,
              s->expect_status, s->timeout_s);
    } else if (s->kind == STEP_POSTGRES) {
      fprintf(out, ": %s%s\n", s->maintenance ? "maintenance: " : "read only: ", s->query);
    } else {
      fprintf(out, "\n");
    }
  }
}

void
remediation_preview(const struct plan *p, const char *ns, const char *deploy, FILE *out)
{
  struct engine e;
  struct rem_run run;
  struct runctx c;

  memset(&e, 0, sizeof(e));
  memset(&run, 0, sizeof(run));
  memset(&c, 0, sizeof(c));
  run.namespace_ = (char *)(uintptr_t)ns;
  run.deployment = (char *)(uintptr_t)deploy;
  run.plan = p->name;
  run.dry_run = 1;
  c.e = &e;
  c.run = &run;
  c.plan = p;
  preview_list(&c, "step", p->steps, p->n_steps, out);
  run.phase = PHASE_VERIFY;
  preview_list(&c, "verify", p->verify, p->n_verify, out);
  run.phase = PHASE_ON_FAILURE; /* rollout_undo there undoes the run's own changes */
  preview_list(&c, "on_failure", p->on_failure, p->n_on_failure, out);
}

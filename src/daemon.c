/*
 * daemon.c - the daemon's lifecycle: start the store and the HTTP server,
 * handle signals (SIGHUP reloads, SIGTERM/SIGINT stop), reload atomically
 * and stop gracefully (in-flight requests finish, the store closes clean).
 */
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "kube.h"
#include "metrics.h"
#include "pager.h"
#include "plan.h"
#include "remediate.h"
#include "rbtime.h"
#include "silence_forward.h"
#include "store.h"
#include "version.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a stop waits for in-flight requests before closing anyway. */
#define DRAIN_MS 10000

static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;

struct rb_config *
app_config(struct app *a)
{
  struct rb_config *c;
  pthread_mutex_lock(&a->cfg_mu);
  c = config_hold(a->cfg);
  pthread_mutex_unlock(&a->cfg_mu);
  return c;
}

rb_status
app_reload(struct app *a, char *msg)
{
  struct config_errors errs;
  struct rb_config *next, *old;
  struct plan_set *plans;
  struct esc_policy *pol;
  struct rl_global g;
  const char *field;

  pthread_mutex_lock(&reload_mu);
  config_errors_init(&errs);
  old = app_config(a);
  next = config_reload(old, &errs);
  plans = next ? plan_load_dir(next->remediation_dir, &errs) : NULL;
  pol = next ? esc_policy_load(next->escalation_json, next->file, &errs) : NULL;
  if (next && (!plans || !pol)) {
    config_drop(next);
    plan_set_drop(plans);
    esc_policy_drop(pol);
    next = NULL;
  }
  if (!next) {
    for (struct config_error *e = errs.head; e; e = e->next)
      rblog(LOG_ERROR, "configuration reload refused; keeping the running configuration",
            "where", e->where, "problem", e->what, NULL);
    snprintf(msg, RB_ERRLEN, "%s: %s", errs.head ? errs.head->where : "config",
             errs.head ? errs.head->what : "invalid");
    config_errors_free(&errs);
    config_drop(old);
    metrics_reload(0);
    pthread_mutex_unlock(&reload_mu);
    return RB_EINVAL;
  }
  g.per_minute = next->rem_per_minute;
  g.per_hour = next->rem_per_hour;
  /* remediation.dry_run applies to runs decided from now on; turning it on
   * also stops live runs in progress from sending more (remediate.h). */
  engine_reload(a->engine, plans, &g, next->prometheus_url, next->pg_conninfo, next->dry_run == 1);
  pager_reload(a->pager, pol);
  field = config_restart_needed(old, next);
  if (field)
    rblog(LOG_WARN, "configuration reloaded, but these changed fields take effect only after "
                    "a restart", "fields", field, NULL);
  pthread_mutex_lock(&a->cfg_mu);
  a->cfg = next;
  pthread_mutex_unlock(&a->cfg_mu);
  log_setup((enum log_level)next->log_level, next->log_json);
  config_drop(old); /* our hold */
  config_drop(old); /* the app's reference */
  metrics_reload(1);
  rblog(LOG_INFO, "configuration reloaded", "file", next->file, NULL);
  snprintf(msg, RB_ERRLEN, "ok");
  pthread_mutex_unlock(&reload_mu);
  return RB_OK;
}

static void
drain(struct app *a)
{
  struct timespec ts = { 0, 10 * 1000000 };
  for (int waited = 0; waited < DRAIN_MS && atomic_load(&a->inflight) > 0; waited += 10)
    nanosleep(&ts, NULL);
}

/* Silences keep alerts from being remediated and paged. */
static int
engine_silenced(void *arg, const struct am_labels *labels, char *id, size_t idlen)
{
  struct app *a = arg;
  int64_t ends;
  return silences_match(a->silences, labels, rb_wall_ms(), id, idlen, &ends);
}

static int
pager_silenced(void *arg, const struct am_labels *labels, int64_t now_ms, char *id, size_t idlen,
               int64_t *ends_ms)
{
  struct app *a = arg;
  return silences_match(a->silences, labels, now_ms, id, idlen, ends_ms);
}

/* Remediation that was refused, failed or did not verify pages at once. */
static void
escalate_hook(void *arg, int64_t incident_id, const char *reason)
{
  struct app *a = arg;
  pager_urgent(a->pager, incident_id, reason);
}

static rb_status
start_remediation(struct app *a, struct rb_config *cfg, struct plan_set *plans, char *err)
{
  struct kube_options ko = { cfg->kube_api_url, cfg->kube_token_file, cfg->kube_ca_file,
                             cfg->kube_timeout_s, cfg->kube_retries, 200 };
  struct engine_options eo;
  char kerr[RB_ERRLEN];
  rb_status rc;

  rc = kube_client_new(&ko, &a->kube, kerr);
  if (rc && rc != RB_ENOTFOUND) {
    plan_set_drop(plans);
    snprintf(err, RB_ERRLEN, "%s", kerr);
    return rc;
  }
  memset(&eo, 0, sizeof(eo));
  eo.store = a->store;
  eo.kube = a->kube;
  eo.dry_run = cfg->dry_run == 1 || !a->kube;
  eo.workers = cfg->rem_workers;
  eo.max_runs = cfg->rem_max_runs;
  eo.queue_size = cfg->rem_queue_size;
  eo.global.per_minute = cfg->rem_per_minute;
  eo.global.per_hour = cfg->rem_per_hour;
  eo.prometheus_url = cfg->prometheus_url;
  eo.pg_conninfo = cfg->pg_conninfo;
  eo.escalate = escalate_hook;
  eo.silenced = engine_silenced;
  eo.hook_arg = a;
  rc = engine_start(&eo, plans, &a->engine, err);
  if (!rc) {
    char n[32];
    snprintf(n, sizeof(n), "%zu", plans->n);
    rblog(LOG_INFO, "remediation ready", "plans", n, "cluster",
          a->kube ? kube_client_url(a->kube) : "none", "dry_run",
          engine_dry_run(a->engine) ? "true" : "false", NULL);
  }
  return rc;
}

int
daemon_run(struct rb_config *cfg, struct plan_set *plans, struct esc_policy *policy)
{
  struct pager_options po;
  struct silence_fwd *fwd = NULL;
  struct app a;
  struct store_options so;
  sigset_t set;
  char err[RB_ERRLEN], msg[RB_ERRLEN];
  int sig, code = 0;
  rb_status rc;

  /* One malloc arena: a large delivery's peak then lands in the main heap,
   * which malloc_trim() (api_webhook.c) and free() give back, instead of a
   * per-thread arena that keeps it (46 MB idle after a 10,000-alert
   * webhook before, about 15 MB now).  tcache keeps the threads off the
   * arena lock for the small blocks of ordinary requests. */
  mallopt(M_ARENA_MAX, 1);
  memset(&a, 0, sizeof(a));
  pthread_mutex_init(&a.cfg_mu, NULL);
  a.cfg = cfg;
  log_setup((enum log_level)cfg->log_level, cfg->log_json);
  metrics_init();

  /* Signals go to this thread only: block them before any thread starts. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  memset(&so, 0, sizeof(so));
  so.sqlite_dir = cfg->storage_path;
  so.max_bytes = cfg->storage_max_bytes;
  /* The store first: its lock keeps a second runbookd off the same
   * storage.path (store.h), before either has done anything. */
  rc = store_open(&so, &a.store, err);
  if (rc) {
    rblog(LOG_ERROR, "cannot open the store", "path", cfg->storage_path, "error", err, NULL);
    code = 1;
    goto out;
  }
  /* Then the listener's port, before anything that pages, forwards or
   * remediates starts: a daemon that cannot have its port (another
   * runbookd on it) fails before it has sent a page or a request.
   * Connections wait in the listen queue until http_start serves them. */
  rc = http_listen(cfg, &a.http, err);
  if (rc) {
    rblog(LOG_ERROR, "cannot start the HTTP server", "error", err, NULL);
    code = 1;
    goto out;
  }
  /* Silences: loaded from the store, written through it. */
  rc = silences_open(a.store, &a.silences, err);
  if (rc) {
    rblog(LOG_ERROR, "cannot load silences", "error", err, NULL);
    code = 1;
    goto out;
  }
  /* Optionally forwarded to an upstream Alertmanager, after each local
   * change (silence_forward.h). */
  if (cfg->sil_upstream_url) {
    struct silence_fwd_options fo;
    memset(&fo, 0, sizeof(fo));
    fo.url = cfg->sil_upstream_url;
    fo.bearer_token = cfg->sil_upstream_token;
    fo.timeout_s = cfg->sil_upstream_timeout_s;
    fo.max_attempts = cfg->sil_upstream_attempts;
    fo.backoff_ms = cfg->sil_upstream_backoff_ms;
    fo.queue_size = cfg->sil_upstream_queue;
    fo.store = a.store;
    rc = silence_fwd_start(&fo, &fwd, err);
    if (rc) {
      rblog(LOG_ERROR, "cannot start silence forwarding", "error", err, NULL);
      code = 1;
      goto out;
    }
    silences_set_hook(a.silences, silence_fwd_hook, fwd);
  }
  rc = start_remediation(&a, cfg, plans, err);
  plans = NULL;
  if (rc) {
    rblog(LOG_ERROR, "cannot start remediation", "error", err, NULL);
    code = 1;
    goto out;
  }
  memset(&po, 0, sizeof(po));
  po.store = a.store;
  po.silenced = pager_silenced;
  po.silence_arg = &a;
  rc = pager_start(&po, policy, &a.pager, err);
  policy = NULL;
  if (rc) {
    rblog(LOG_ERROR, "cannot start escalation", "error", err, NULL);
    code = 1;
    goto out;
  }
  rc = http_start(a.http, &a, cfg, err);
  if (rc) {
    rblog(LOG_ERROR, "cannot start the HTTP server", "error", err, NULL);
    code = 1;
    goto out;
  }
  rblog(LOG_INFO, "runbookd started", "version", RUNBOOKD_VERSION, "config",
        cfg->file ? cfg->file : "(built-in defaults)", "storage", cfg->storage_path, NULL);

  for (;;) {
    if (sigwait(&set, &sig) != 0)
      continue;
    if (sig == SIGHUP) {
      app_reload(&a, msg);
      continue;
    }
    rblog(LOG_INFO, "stopping: finishing in-flight requests", "signal",
          sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    break;
  }
  atomic_store(&a.stopping, 1);
  http_quiesce(a.http);
  drain(&a);
out:
  http_stop(a.http);
  engine_stop(a.engine);
  pager_stop(a.pager);
  if (a.silences)
    silences_set_hook(a.silences, NULL, NULL);
  silence_fwd_stop(fwd); /* before the store it records upstream ids in */
  silences_free(a.silences); /* after everything that matches or serves them */
  esc_policy_drop(policy);
  kube_client_free(a.kube);
  plan_set_drop(plans);
  store_close(a.store);
  config_drop(a.cfg);
  pthread_mutex_destroy(&a.cfg_mu);
  rblog(code ? LOG_ERROR : LOG_INFO, code ? "runbookd failed to start" : "runbookd stopped",
        NULL);
  return code;
}

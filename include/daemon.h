/*
 * daemon.h - the running daemon: its configuration, store and HTTP server,
 * and the lifecycle that ties them (start, reload, graceful stop).
 */
#ifndef RUNBOOKD_DAEMON_H
#define RUNBOOKD_DAEMON_H

#include "config.h"
#include "rb.h"
#include "silence.h" /* struct silences; the /api/v2 silence handlers */

#include <pthread.h>
#include <stdatomic.h>

struct store;
struct http_server;
struct engine;
struct kube_client;
struct plan_set;
struct pager;
struct esc_policy;

struct app {
  pthread_mutex_t cfg_mu;
  struct rb_config *cfg;      /* current; guarded by cfg_mu */
  struct store *store;
  struct http_server *http;
  struct kube_client *kube;   /* NULL without a cluster */
  struct engine *engine;
  struct silences *silences;  /* Alertmanager-style silences (silence.h) */
  struct pager *pager;
  atomic_int inflight;        /* requests between first call and completion */
  atomic_int stopping;
};

/* Returns the current configuration with a reference the caller drops
 * (config_drop).  Any thread. */
struct rb_config *app_config(struct app *a);

/* Reloads the configuration from the same file and flags.  On any problem
 * the old configuration stays and msg (RB_ERRLEN) names the first one.
 * Any thread; reloads are serialised. */
rb_status app_reload(struct app *a, char *msg);

/* Runs the daemon until SIGTERM or SIGINT; SIGHUP reloads.  The
 * references to cfg and plans pass to the daemon.  Returns the process
 * exit code. */
int daemon_run(struct rb_config *cfg, struct plan_set *plans, struct esc_policy *policy);

#endif

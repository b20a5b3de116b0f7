/*
 * incident.h - incidents and their timeline: the model, the rules that turn
 * Alertmanager notifications into incidents, and the people's actions on
 * them (ack, unack, resolve, comment).
 *
 * The rules (INTERFACE.md, "Incidents"):
 *  - one incident per alert fingerprint from first firing to resolution;
 *  - a notification's identity is (fingerprint, startsAt): the same one
 *    delivered again (repeat_interval, retries, HA peers) changes nothing
 *    but the incident's delivery counter;
 *  - `resolved` closes the incident; a firing with a new startsAt after
 *    resolution opens a new incident;
 *  - severity is normalised to the seed's five levels.
 * All functions here that write run as store jobs on the store's writer
 * thread (see store.h); they take `now_ms` so tests control time.
 */
#ifndef RUNBOOKD_INCIDENT_H
#define RUNBOOKD_INCIDENT_H

#include "rb.h"
#include "severity.h"

struct am_payload;
struct store;
struct buf;

enum incident_state { INC_OPEN = 0, INC_ACKED, INC_RESOLVED, INC_STATE_COUNT };

/* Which incident an alert's fingerprint last opened, and what decides an
 * alert's effect on it: all a re-delivery needs read. */
struct incident_ref {
  int64_t id;
  enum incident_state state;
  int64_t firing_starts_at_ns;
};

struct incident {
  int64_t id;
  char fingerprint[17];
  enum incident_state state;
  enum severity severity;
  char *alertname;
  char *namespace_;
  char *summary;
  char *labels_json;      /* the alert's labels as a JSON object */
  char *annotations_json; /* its annotations as a JSON object */
  int64_t starts_at_ns;   /* the alert's startsAt */
  int64_t ends_at_ns;     /* the resolved alert's endsAt, 0 while firing */
  int64_t opened_ms;      /* received by runbookd */
  int64_t last_seen_ms;   /* last delivery */
  int64_t acked_ms;       /* 0 when not acknowledged */
  char *acked_by;
  int64_t resolved_ms;    /* 0 while open */
  char *resolved_by;
  int64_t deliveries;     /* notifications that mentioned it */
  int remediation_pending; /* firing, not yet evaluated by remediation */
  /* The startsAt of the firing it follows: starts_at_ns, or a refire's
   * later one.  Notifications are judged against it (repeat or stale). */
  int64_t firing_starts_at_ns;
};

struct tl_event {
  int64_t id;
  int64_t incident_id;
  int64_t at_ms;
  char *kind;   /* "received", "repeated", "resolved", "acknowledged", ... */
  char *actor;  /* "alertmanager", "runbookd", or a person */
  char *detail; /* a JSON object */
};

/* Frees the strings of an incident or event (not the struct itself). */
void incident_clear(struct incident *inc);
void tl_event_clear(struct tl_event *ev);

const char *incident_state_name(enum incident_state s);
/* -1 when unknown. */
int incident_state_parse(const char *s);

/* What one alert of a notification did. */
enum ingest_outcome {
  INGEST_NEW = 0,   /* opened an incident */
  INGEST_REPEAT,    /* same notification again: counter only */
  INGEST_REFIRED,   /* firing again (new startsAt) while still open */
  INGEST_RESOLVED,  /* closed its incident */
  INGEST_STALE,     /* about a resolved incident: counter only */
  INGEST_OUTCOME_COUNT
};

struct ingest_result {
  size_t count[INGEST_OUTCOME_COUNT];
  /* Per alert, in payload order: incident id and outcome (for the
   * remediation and escalation modules that act after the commit). */
  int64_t *incident_id;
  enum ingest_outcome *outcome;
  size_t n;
};

const char *ingest_outcome_name(enum ingest_outcome o);

/* Applies every alert of a notification to the store, durably, as one job
 * of the writer's group commit.  Blocks until committed.  Returns RB_OK,
 * RB_EUNAVAIL (store full, busy or failing: answer 503) or RB_ENOMEM.
 * res->incident_id/outcome are allocated here; free with
 * ingest_result_free(). */
rb_status incident_ingest(struct store *st, const struct am_payload *p,
                          const struct severity_map *sev, int64_t now_ms,
                          struct ingest_result *res);
void ingest_result_free(struct ingest_result *res);

/* The same without blocking, for a server that suspends the request: the
 * alerts are prepared on the calling thread (JSON, severity), then queued.
 * On RB_OK, done(arg, rc) is called exactly once, on a store thread, after
 * the commit holding the notification is durable (rc RB_OK) or has failed
 * (RB_EUNAVAIL); *out is set before the job is queued.  p must stay valid
 * until done() has been called.  The caller reads the outcome with
 * incident_ingest_result() and frees *out with incident_ingest_free() once
 * done() has been called (not from inside done()).  On any other return
 * nothing was queued and *out is NULL. */
struct ingest_job;
rb_status incident_ingest_start(struct store *st, const struct am_payload *p,
                                const struct severity_map *sev, int64_t now_ms,
                                void (*done)(void *arg, rb_status rc), void *arg,
                                struct ingest_job **out);
const struct ingest_result *incident_ingest_result(const struct ingest_job *j);
/* Accepts NULL. */
void incident_ingest_free(struct ingest_job *j);

enum incident_action { ACT_ACK = 0, ACT_UNACK, ACT_RESOLVE, ACT_COMMENT };

/* Applies a person's action.  RB_ENOTFOUND, RB_ECONFLICT (e.g. ack of a
 * resolved incident; msg says why), RB_EUNAVAIL.  msg (RB_ERRLEN) gets a
 * human sentence either way. */
rb_status incident_act(struct store *st, int64_t id, enum incident_action act,
                       const char *by, const char *comment, int64_t now_ms,
                       char *msg);

/* Appends the incident as a JSON object to b; with_timeline adds
 * "timeline" from events[0..n_events). */
rb_status incident_to_json(struct buf *b, const struct incident *inc,
                           int with_timeline, const struct tl_event *events,
                           size_t n_events);

#endif

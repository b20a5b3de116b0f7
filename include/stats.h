/*
 * stats.h - operations statistics over a time window, after the seed's
 * "Continuous Improvement" metrics: MTTD, MTTA, MTTR (mean, median, p90),
 * incident frequency by alertname, severity and namespace, remediation
 * success rate, the share of incidents resolved without a human, and
 * availability per service.  The exact computation of every figure is in
 * docs/reports.md; the per-incident times are the report's
 * (report_times_compute), so a report and the statistics always agree.
 *
 * The store answers with rows and SQL aggregates (the stats_* entries of
 * struct store_backend); this module turns them into figures.
 * Threads: any thread.
 */
#ifndef RUNBOOKD_STATS_H
#define RUNBOOKD_STATS_H

#include "buf.h"
#include "rb.h"

struct store;

/* ---- rows the store returns --------------------------------------- */

/* One incident, slimmed to what statistics use. */
struct stats_incident {
  int64_t id;
  int severity;            /* enum severity */
  char *alertname;
  char *namespace_;        /* NULL when the alert had none */
  char *service;           /* deployment label, else alertname */
  int resolved;
  int64_t starts_at_ns, ends_at_ns, opened_ms, resolved_ms;
  char *resolved_by;
  int64_t first_response_ms; /* first ack, or a person's resolve; 0 none */
  int person_acted;        /* any timeline event by a person */
};

/* One value of a dimension and how many incidents had it. */
struct stats_count {
  char *value;
  int64_t count;
};

enum stats_dim { STATS_BY_ALERTNAME = 0, STATS_BY_SEVERITY, STATS_BY_NAMESPACE, STATS_DIM_COUNT };

/* Remediation runs started in the window, by how they ended. */
struct stats_runs {
  int64_t started, running, succeeded, failed, unverified, dry_run;
};

void stats_incidents_free(struct stats_incident *v, size_t n);
void stats_counts_free(struct stats_count *v, size_t n);

/* ---- figures --------------------------------------------------------- */

/* A distribution of durations in ms; mean/median/p90 are -1 when n is 0. */
struct stats_dist {
  size_t n;
  double mean_ms, median_ms, p90_ms;
};

struct stats_service {
  char *service;
  int64_t incidents;       /* received in the window */
  int64_t down_ms;         /* union of outage spans within the window */
  double availability;     /* 1 - down / window */
};

struct stats {
  int64_t from_ms, to_ms, now_ms;
  int64_t incidents, resolved, open;
  struct stats_dist mttd, mtta, mttr;
  struct stats_count *by[STATS_DIM_COUNT];
  size_t n_by[STATS_DIM_COUNT];
  struct stats_runs runs;
  double success_rate;     /* -1 when no run ended (dry runs excluded) */
  int64_t auto_resolved;   /* resolved by Alertmanager with no person acting */
  double auto_share;       /* auto_resolved / resolved; -1 when none */
  struct stats_service *services;
  size_t n_services;
};

/* Computes the statistics of incidents received in [from_ms, to_ms);
 * now_ms ends the spans of incidents still open.  RB_EINVAL when
 * from >= to; RB_EUNAVAIL, RB_ENOMEM.  Free with stats_clear(). */
rb_status stats_compute(struct store *st, int64_t from_ms, int64_t to_ms, int64_t now_ms,
                        struct stats *out);
void stats_clear(struct stats *s);

/* Appends s as JSON (the API's answer) or as text for a terminal. */
rb_status stats_to_json(const struct stats *s, struct buf *b);
rb_status stats_to_text(const struct stats *s, struct buf *b);

/* Parses a window bound: RFC 3339 or unix seconds (with an optional
 * fraction).  RB_EINVAL. */
rb_status stats_parse_time(const char *s, int64_t *out_ms);

/* Pure helpers, exported for the tests. */
void stats_dist_compute(int64_t *v, size_t n, struct stats_dist *out); /* sorts v */
struct stats_span {
  int64_t start_ms, end_ms;
};
/* Total length of the union of the spans clipped to [from, to) (sorts v). */
int64_t stats_union_ms(struct stats_span *v, size_t n, int64_t from, int64_t to);

/* Its HTTP handler (api_stats.c) is declared in http.h. */

#endif

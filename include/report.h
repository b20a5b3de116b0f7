/*
 * report.h - post-incident reports, after the seed's "Post-Incident
 * Procedures": summary; impact and duration; the times to detect,
 * acknowledge and resolve; the full timeline; each remediation step with
 * its requests and outcome; who was paged, when and how; the silences that
 * applied; and empty sections for the root cause and follow-up actions.
 *
 * A report is read from the store (report_load), then rendered as
 * Markdown, HTML (one self-contained file with an SVG timeline chart) or
 * JSON.  Markdown and JSON are deterministic: the same store gives the
 * same bytes, so they can be compared with golden files.  The only clock a
 * report reads is the now_ms its caller passes, and it shows it ("as of")
 * only while the incident is unresolved, because only then does it change
 * the figures.  Every figure is defined in docs/reports.md.
 *
 * Everything in a report that came from the network (labels, annotations,
 * comments, names) is escaped for the format it is written in.
 *
 * Threads: any thread; the store's reads serialise themselves.
 */
#ifndef RUNBOOKD_REPORT_H
#define RUNBOOKD_REPORT_H

#include "buf.h"
#include "incident.h"
#include "rb.h"

struct store;
struct report;

enum report_format { REPORT_MD = 0, REPORT_HTML, REPORT_JSON, REPORT_FORMAT_COUNT };

/* "md", "html", "json" (also "markdown"); -1 when unknown. */
int report_format_parse(const char *s);
/* The Content-Type of a format, e.g. "text/markdown; charset=utf-8". */
const char *report_format_type(enum report_format f);

/* The times of one incident, as the report and the statistics define
 * them (docs/reports.md).  Times are wall-clock ms; a duration is -1 when
 * it is not defined for this incident. */
struct report_times {
  int64_t start_ms;     /* the alert's startsAt, or the receipt when unset */
  int64_t received_ms;  /* runbookd received the first notification */
  int64_t response_ms;  /* first person's ack (or resolve); 0 when none */
  int64_t end_ms;       /* resolution (endsAt when Alertmanager resolved
                           it, else the resolve); 0 while unresolved */
  int64_t ttd_ms;       /* time to detect: received - startsAt */
  int64_t tta_ms;       /* time to acknowledge: response - received */
  int64_t ttr_ms;       /* time to resolve: end - start */
  int end_is_ends_at;   /* end_ms is Alertmanager's endsAt */
  int missed_firing;    /* first seen already resolved: no detection */
};

/* Computes t for inc.  first_response_ms is the time of the first
 * `acknowledged` event, or of a person's `resolved` event when earlier or
 * when there was no ack; 0 when neither happened. */
void report_times_compute(const struct incident *inc, int64_t first_response_ms,
                          struct report_times *t);

/* Whether a timeline actor is a person (not "alertmanager" or "runbookd"). */
int report_actor_is_person(const char *actor);

/* The service an incident is about: its `deployment` label, else its
 * alertname.  Writes into out (NUL-terminated, truncated to outlen). */
void report_service(const struct incident *inc, char *out, size_t outlen);

/* Reads incident id with its timeline, remediation runs and silences.
 * now_ms is "now" for an unresolved incident.  RB_ENOTFOUND, RB_EUNAVAIL,
 * RB_ENOMEM.  *out is the caller's (report_free). */
rb_status report_load(struct store *st, int64_t id, int64_t now_ms, struct report **out);
/* Accepts NULL. */
void report_free(struct report *r);

/* Appends the report to out in format f.  RB_ENOMEM. */
rb_status report_render(const struct report *r, enum report_format f, struct buf *out);

/* report_load + report_render.  RB_ENOTFOUND when there is no such
 * incident. */
rb_status report_build(struct store *st, int64_t id, enum report_format f, int64_t now_ms,
                       struct buf *out);

#endif

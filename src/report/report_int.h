/*
 * report_int.h - private to the report module: the report's model (what
 * report.c reads from the store and derives), the writers shared by the
 * renderers, and each renderer's entry point.
 */
#ifndef RUNBOOKD_REPORT_INT_H
#define RUNBOOKD_REPORT_INT_H

#include "report.h"
#include "store.h"

#include <cjson/cJSON.h>

/* One remediation step as its events tell it (grouped by run, phase and
 * index).  Pointers borrow from the report's parsed details. */
struct rp_step {
  int64_t run_id;
  size_t seq;               /* 1-based over the whole report: "S3" */
  const char *phase, *name, *kind, *ns, *deployment;
  int index;
  int64_t started_ms, ended_ms;
  const char *outcome;      /* succeeded, failed, refused, skipped, conflict, running */
  const cJSON *requests;    /* array or NULL */
  const cJSON *responses;   /* array or NULL */
  const cJSON *result;      /* a check's result, or NULL */
  const cJSON *argv;        /* exec in dry-run, or NULL */
  const char *note;
  int sent;                 /* -1 unknown, 0 recorded only, 1 sent */
  int attempts;             /* checks: tries; mutating: starts (retries) */
  int resumed, conflicts;
};

/* A page attempt (`paged` or `page failed`). */
struct rp_page {
  size_t ev;                /* index in the timeline */
  size_t seq;               /* "P2" */
  int delivered;
  const char *contact, *method, *notice, *reason, *detail, *delivery;
  int level;
  long attempts, status;
};

/* `escalated`, `escalation requested`, `escalation exhausted`. */
struct rp_esc {
  size_t ev;
  size_t seq;               /* "E1" */
  const char *kind, *contact, *severity, *reason;
  int level;                /* -1 when the event names none */
};

struct rp_silence {
  char id[48];
  char *matchers;           /* {a="b"} or NULL when no longer stored */
  int64_t starts_ms, ends_ms;
  char *created_by, *comment;
  int on_timeline;          /* a `silenced` event names it */
};

struct report {
  struct incident inc;
  cJSON *labels, *annotations;  /* parsed objects (may be NULL) */
  char service[256];
  struct tl_event *ev;
  size_t n_ev;
  cJSON **det;                  /* parsed detail per event (NULL if bad) */
  struct rem_run *runs;
  size_t n_runs;
  struct rp_step *steps;
  size_t n_steps;
  struct rp_page *pages;
  size_t n_pages;
  struct rp_esc *escs;
  size_t n_escs;
  struct rp_silence *sil;
  size_t n_sil;
  size_t n_people;              /* distinct contacts reached */
  int max_level;                /* highest escalation level paged, -1 none */
  struct report_times t;
  const char *ack_by, *resolved_by;  /* borrowed */
  int64_t as_of_ms;             /* now, while unresolved; 0 when resolved */
  int64_t t0_ms;                /* the report's zero: the alert's start */
};

/* ---- a writer that remembers its first failure ------------------------ */

struct rp_w {
  struct buf *b;
  rb_status rc;
};

void w_puts(struct rp_w *w, const char *s);
void w_printf(struct rp_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal; NULL as null. */
void w_json(struct rp_w *w, const char *s);
/* s escaped for HTML text and attribute values. */
void w_html(struct rp_w *w, const char *s);
/* s escaped for Markdown inline text (table cells, list items). */
void w_md(struct rp_w *w, const char *s);
/* A fenced Markdown code block holding s, fence longer than any run of
 * backticks in s. */
void w_md_code(struct rp_w *w, const char *lang, const char *s);

/* ---- shared formatting ------------------------------------------------- */

/* "2026-12-03T15:19:42.911Z" or "—" for 0. */
const char *rp_time(int64_t ms, char *out, size_t outlen);
/* A duration for people: "850 ms", "42 s", "12 m 5 s", "3 h 2 m", "2 d 4 h". */
const char *rp_dur(int64_t ms, char *out, size_t outlen);
/* "+12 m 5 s" from the report's zero ("-3 s" before it). */
const char *rp_offset(const struct report *r, int64_t ms, char *out, size_t outlen);
/* One line about event i, for people (unescaped). */
void rp_event_text(const struct report *r, size_t i, struct buf *out);
/* A short reference to a step: "S2 plan/name (kind)". */
const char *rp_step_outcome_label(const char *outcome);
/* String member of a detail object, or NULL. */
const char *rp_str(const cJSON *o, const char *key);
/* Numeric member, or dflt. */
double rp_num(const cJSON *o, const char *key, double dflt);
/* Compact JSON of a node (caller frees) or NULL. */
char *rp_compact(const cJSON *o);
/* An array's elements one per line, compact (caller frees); else compact. */
char *rp_lines(const cJSON *v);

/* The summary sentence (unescaped). */
void rp_summary(const struct report *r, struct buf *out);

/* Renderers. */
void rp_render_md(const struct report *r, struct rp_w *w);
void rp_render_json(const struct report *r, struct rp_w *w);
void rp_render_html(const struct report *r, struct rp_w *w);
/* The SVG timeline chart (inline, self-contained). */
void rp_svg(const struct report *r, struct rp_w *w);

#endif

/*
 * escalation.h - who is paged, when, and how: the escalation policy (the
 * seed's matrix by default), the per-incident escalation state, and the
 * pure decision that turns (state, policy, now) into pages.
 *
 * Policy: per severity, the levels to page in order (each a contact), the
 * time a level has to acknowledge before the next is paged, the contact
 * methods in order, and how often the last level is paged again.
 * Decisions take `now` so tests step a clock instead of sleeping.
 */
#ifndef RUNBOOKD_ESCALATION_H
#define RUNBOOKD_ESCALATION_H

#include "config.h"
#include "notify.h"
#include "rb.h"
#include "severity.h"

#include <stdatomic.h>

#define ESC_MAX_LEVELS 8
#define ESC_MAX_METHODS NM_COUNT

struct esc_contact {
  char *id;                 /* "l2-support" */
  char *name;               /* "L2 Support" */
  struct notify_target *targets; /* indexed by enum notify_method; method 0 = unset */
  int has[NM_COUNT];
};

struct esc_severity_policy {
  unsigned respond_s;               /* a level's time to acknowledge */
  char *path[ESC_MAX_LEVELS];       /* contact ids */
  size_t n_path;
  enum notify_method methods[ESC_MAX_METHODS];
  size_t n_methods;
  unsigned repeat_last;             /* extra pages of the last level */
};

struct esc_policy {
  atomic_int refs;
  int enabled;                      /* contacts are configured */
  struct esc_severity_policy sev[SEV_COUNT];
  struct esc_contact *contacts;
  size_t n_contacts;
  unsigned first_page_delay_s;      /* give remediation a moment (default 0) */
  unsigned progress_s;              /* progress updates while open (1800) */
  unsigned unavailable_s;           /* open this long -> emergency (900) */
  struct matchers *unavailable_match; /* which alerts mean "system unavailable" */
  unsigned multi_deployments;       /* N distinct deployments ... (3) */
  unsigned multi_window_s;          /* ... critical+ within M (600) -> emergency */
  struct notify_settings notify;
  /* owned strings behind notify */
  char *smtp_url, *smtp_from, *smtp_username, *smtp_password, *smtp_ca_file, *ca_file,
    *external_url;
};

/* Parses the "escalation" section (JSON text, may be NULL: the seed's
 * matrix with no contacts, i.e. paging off).  Problems go to errs as
 * "FILE: escalation.FIELD".  The caller owns the result. */
struct esc_policy *esc_policy_load(const char *json, const char *file, struct config_errors *errs);
struct esc_policy *esc_policy_hold(struct esc_policy *p);
void esc_policy_drop(struct esc_policy *p);
const struct esc_contact *esc_contact_find(const struct esc_policy *p, const char *id);

/* The escalation state of one incident, as stored. */
enum esc_phase { ESC_ACTIVE = 0, ESC_ACKED, ESC_DONE };

/* Room for the ids of the contacts paged so far, NULs included. */
#define ESC_PAGED_BYTES 2048

struct esc_state {
  int64_t incident_id;
  enum severity severity;   /* may be raised to emergency by a trigger */
  enum esc_phase phase;
  int level;                /* index in the path of the last level paged; -1 none yet */
  int repeats;              /* pages of the last level after its first */
  int64_t opened_ms;
  int64_t level_due_ms;     /* when the next level is paged (0: none) */
  int64_t progress_due_ms;  /* next progress update (0: none) */
  int64_t unavailable_due_ms; /* when "unavailable too long" upgrades (0: n/a) */
  /* Contacts paged so far (a first notice or an escalation page), by
   * contact id, so a reload that adds, removes or reorders contacts
   * changes nobody's notices: paged_len bytes of NUL-terminated ids (see
   * esc_paged_*). */
  char paged[ESC_PAGED_BYTES];
  size_t paged_len;
  /* A row stored by an older runbookd kept who was paged as bits by index
   * in the contacts of the configuration of that time; the pager reads
   * them against the current one once (esc_paged_from_mask), 0 after. */
  unsigned legacy_mask;
  int urgent;               /* page the current level now (remediation failed) */
  /* The incident's acked_ms of the ack this escalation took into account
   * (0: none), so the pager tells an ack it has not handled yet (a hook
   * lost in a crash) from an escalation made active again after an ack. */
  int64_t ack_seen_ms;
  /* Read back from the store (esc_get): the due time stored with the row,
   * i.e. the pager's timer for it (0: none). */
  int64_t stored_due_ms;
};

/* Records contact id as paged (once).  -1 when the list is full (the
 * contact then gets no notices), else 0. */
int esc_paged_add(struct esc_state *s, const char *id);
/* 1 when contact id was paged. */
int esc_paged_has(const struct esc_state *s, const char *id);
/* The paged contact ids in the order they were first paged: the first
 * with prev NULL, the next after prev (a pointer this returned), NULL at
 * the end. */
const char *esc_paged_next(const struct esc_state *s, const char *prev);
/* Moves a legacy_mask into the paged list, read against p's contacts. */
void esc_paged_from_mask(struct esc_state *s, const struct esc_policy *p);

/* What is due now, in order. */
enum esc_action_kind {
  EA_PAGE = 0,       /* page a level (first page or escalation) */
  EA_PROGRESS,       /* progress update to those paged */
  EA_UPGRADE,        /* raise the severity to emergency, then page its first level */
  EA_EXHAUSTED,      /* the last level was paged as often as allowed */
};

struct esc_action {
  enum esc_action_kind kind;
  int level;                 /* EA_PAGE */
  const char *contact;       /* EA_PAGE: contact id (points into the policy) */
  const char *reason;        /* static text */
};

#define ESC_MAX_ACTIONS 4

/* Starts an escalation for a newly opened incident. */
void esc_start(struct esc_state *s, const struct esc_policy *p, int64_t incident_id,
               enum severity sev, int unavailable_kind, int64_t now_ms);

/* Decides what is due at now_ms and advances s.  Returns the number of
 * actions written to out (at most ESC_MAX_ACTIONS). */
size_t esc_due(struct esc_state *s, const struct esc_policy *p, int64_t now_ms,
               struct esc_action *out);

/* The earliest time anything is due, or 0 when nothing is. */
int64_t esc_next_due(const struct esc_state *s);

/* People act: ack stops escalation (progress updates go on), unack resumes
 * it from the current level, resolve ends it. */
void esc_ack(struct esc_state *s, int64_t now_ms);
void esc_unack(struct esc_state *s, const struct esc_policy *p, int64_t now_ms);
void esc_resolve(struct esc_state *s);
/* Something failed (remediation): page the current level again now, or
 * the first level if nobody was paged yet; an acked incident is not
 * re-paged (its acknowledger gets a progress update). */
void esc_urgent(struct esc_state *s, int64_t now_ms);
/* Raises the severity to emergency now (multi-component trigger). */
void esc_upgrade(struct esc_state *s, const struct esc_policy *p, int64_t now_ms);
/* A silence matches: nothing may be due before until_ms.  Every due time
 * (level, progress, unavailable) earlier than until_ms becomes until_ms;
 * later ones and unset ones (0) stay.  The pager asks the silence again at
 * until_ms (see PAGER_SILENCE_RECHECK_MS in pager.h). */
void esc_hold(struct esc_state *s, int64_t until_ms);

#endif

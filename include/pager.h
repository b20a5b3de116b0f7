/*
 * pager.h - the escalation runtime: durable timers per incident, a page
 * outbox, and notifier workers.
 *
 * Each open incident has an escalation row (struct esc_state) with its
 * next due time (wall clock); a min-heap of (due, incident) in memory, on
 * a monotonic clock, points at them and is rebuilt from the store at start
 * (cheap at 100,000 rows).  When a timer fires, the decision (escalate.c)
 * and the pages it produces are committed together (the pages into an
 * outbox), then notifier workers send them, one lane per destination
 * (PAGER_DOWN_MS), trying the severity's methods in order and recording
 * every attempt on the timeline.  After a crash, pages still in the outbox are
 * sent again with the same delivery id: delivery is at least once
 * (PagerDuty's dedup_key and a webhook receiver that drops a delivery id it
 * has seen make the re-send harmless; Slack, phone and email may show it
 * twice), and no decision is repeated because it was committed with its
 * pages.
 */
#ifndef RUNBOOKD_PAGER_H
#define RUNBOOKD_PAGER_H

#include "escalation.h"
#include "rb.h"

struct pager;
struct store;
struct am_labels;

/* While a silence matches an incident's labels, nothing of its escalation
 * is sent (first notice, next level, "page at once", progress updates, the
 * unavailable upgrade), whatever started the work: open, timer, unack,
 * remediation's urgent page.  Its due times are held (esc_hold) until the
 * silence's end or the next multiple of this interval on the clock,
 * whichever comes first; then the timer fires, the silence is asked again,
 * and the incident is held again or paged.  Nothing tells the pager that a
 * silence was expired or shortened, so this bounds how long paging stays
 * off after that: at most this long.  The rechecks are aligned to the
 * clock so that every silenced incident's recheck comes due at once and
 * runs in the same few batched transactions (one commit per 256), not one
 * commit per incident spread over the minute. */
#define PAGER_SILENCE_RECHECK_MS 60000LL

/* An open escalation with nothing due (acknowledged, or every level paged,
 * with progress updates off) is looked at again this long after its last
 * job, so that it follows its incident's state even when a hook was lost
 * without a restart (at a restart the start-up scan does it at once). */
#define PAGER_CHECK_MS 3600000LL

/* Timers run on a monotonic clock; the store keeps wall-clock due times.
 * A change of (wall - monotonic) larger than this is a step of the wall
 * clock (settimeofday, an NTP step, a VM resumed with its clock set): the
 * stored due times are moved by it, so a step of +1 h escalates nothing
 * early and one of -1 h delays nothing.  Smaller changes add up until
 * they pass it. */
#define PAGER_STEP_MS 1000LL

/* Notifier workers (pager_options.workers, default 4) take pages from one
 * lane per destination: a contact's pages, and apart from them its
 * notices (progress, acknowledged, resolved).  One page of a lane is sent
 * at a time and the ready lanes take turns, so a contact whose receiver
 * hangs holds one worker and delays only its own pages.  A target (a
 * method of a contact) that gave no usable answer (no connection,
 * timeouts, 429 or 5xx after the retries) is down this long: pages with
 * another method left skip it, the others make a single attempt. */
#define PAGER_DOWN_MS 60000LL

struct pager_options {
  struct store *store;
  unsigned workers;          /* notifier threads (default 4) */
  /* Clocks, for tests and the benchmark.  now_ms: the wall clock (what
   * is stored and shown); NULL means the real one.  mono_ms: a monotonic
   * clock the timers run on; NULL means CLOCK_BOOTTIME, or now_ms itself
   * when now_ms is set (one stepped clock that never jumps). */
  int64_t (*now_ms)(void *arg);
  void *now_arg;
  int64_t (*mono_ms)(void *arg);
  void *mono_arg;
  /* Tests: no timer thread; pager_tick() does the work. */
  int manual;
  /* Silences: 1 and the silence's id and end when labels are silenced
   * at now_ms (asked again every PAGER_SILENCE_RECHECK_MS while it is). */
  int (*silenced)(void *arg, const struct am_labels *labels, int64_t now_ms, char *id,
                  size_t idlen, int64_t *ends_ms);
  void *silence_arg;
};

rb_status pager_start(const struct pager_options *o, struct esc_policy *policy,
                      struct pager **out, char *err);
void pager_reload(struct pager *p, struct esc_policy *policy);
void pager_stop(struct pager *p);

/* Hooks, called after the corresponding commit; they only queue work for
 * the pager's thread, so they never block. */
void pager_opened(struct pager *p, int64_t incident_id);
void pager_acked(struct pager *p, int64_t incident_id);
void pager_unacked(struct pager *p, int64_t incident_id);
void pager_resolved(struct pager *p, int64_t incident_id);
/* Remediation was refused, failed or did not verify: page at once. */
void pager_urgent(struct pager *p, int64_t incident_id, const char *reason);

/* Pending timers (for metrics and the benchmark). */
size_t pager_pending(struct pager *p);

/* Processes queued hooks, then every timer due at or before now (tests
 * drive this with a stepped clock instead of waiting).  now_ms is a
 * reading of the pager's monotonic clock (pager_options.mono_ms, or now_ms
 * when that is NULL).  First, when the wall clock stepped by more than
 * PAGER_STEP_MS against the monotonic one since the last look, every
 * stored due time is moved by the step.  Returns how many timers fired.
 * Sending pages stays on the notifier workers. */
size_t pager_tick(struct pager *p, int64_t now_ms);

#endif

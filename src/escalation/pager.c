/*
 * pager.c - the escalation runtime (see pager.h).
 *
 * Threads: one timer thread waits for the earliest due time; notifier
 * workers send pages from the outbox.  Every change of an escalation is a
 * store job, so the read-decide-write of a timer and the hooks (ack,
 * resolve...) are serialised by the store's writer and never race.
 */
#include "pager.h"
#include "buf.h"
#include "incident.h"
#include "log.h"
#include "matcher.h"
#include "metrics.h"
#include "payload.h"
#include "rbtime.h"
#include "store.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct timer {
  int64_t due;
  int64_t incident_id;
};

struct hook {
  int64_t incident_id;
  int kind;
  char *reason;
};

/* A lane: the pages waiting for one destination, a contact's pages
 * (first notices and escalations) or its notices (progress, acknowledged,
 * resolved).  At most one of a lane's pages is sent at a time, so a
 * contact whose receiver hangs holds one worker while the other lanes go
 * on, and its notices do not wait behind its pages.  A lane exists while
 * pages wait in it or one is being sent. */
struct lane {
  char *contact;
  int notice;
  int64_t *q; /* page ids, a ring */
  size_t head, len, cap;
  int busy;   /* a worker is sending one of its pages */
  int queued; /* in the ready list */
  struct lane *next;
};

struct target_down {
  char *contact;
  int method;
  int64_t since, until; /* monotonic ms */
  char detail[160];
};

struct pager {
  struct store *st;
  int64_t (*now_fn)(void *);
  void *now_arg;
  int64_t (*mono_fn)(void *);
  void *mono_arg;
  /* The wall clock minus the monotonic one as the pager last accepted it
   * (mu): the heap holds monotonic due times (stored wall due time -
   * wall_off), and decisions are taken at monotonic now + wall_off.  A
   * step of the wall clock changes the real difference; the timer thread
   * notices (pager_tick), moves every stored due time by the step, and
   * then accepts the new difference. */
  int64_t wall_off;
  int (*silenced)(void *, const struct am_labels *, int64_t, char *, size_t, int64_t *);
  void *silence_arg;
  struct hook *hooks;      /* queued hook calls (mu) */
  size_t nhooks, caphooks;

  pthread_mutex_t mu;
  pthread_cond_t tcv;      /* timer heap changed, or stopping */
  pthread_cond_t wcv;      /* outbox work, or stopping */
  struct esc_policy *pol;  /* guarded by mu */
  struct timer *heap;
  size_t nheap, capheap;
  /* Pages to send, in one lane per destination (below); a worker takes
   * the first lane of the ready list, sends one page and puts the lane
   * back at the end when more wait.  (mu) */
  struct lane **lanes;
  size_t nlanes, caplanes;
  struct lane *ready_head, *ready_tail;
  size_t nready;
  /* Targets (method of a contact) whose last send failed for lack of an
   * answer, skipped while they are down (see PAGER_DOWN_MS).  (mu) */
  struct target_down *down;
  size_t ndown, capdown;
  int stopping;
  pthread_t timer_thread;
  int timer_started;
  pthread_t *workers;      /* started as pages wait: none while none do */
  unsigned nworkers, maxworkers;
  unsigned widle;          /* workers waiting for a page */
  atomic_llong seq;        /* delivery id sequence for this process */
};

static int64_t
wall_of(struct pager *p)
{
  return p->now_fn ? p->now_fn(p->now_arg) : rb_wall_ms();
}

/* The monotonic clock: CLOCK_BOOTTIME, which, unlike CLOCK_MONOTONIC,
 * goes on during a suspend (time that passed for the escalations too). */
static int64_t
mono_of(struct pager *p)
{
  struct timespec ts;
  if (p->mono_fn)
    return p->mono_fn(p->mono_arg);
  if (p->now_fn)
    return p->now_fn(p->now_arg); /* one stepped clock for both */
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_off(struct pager *p)
{
  int64_t off;
  pthread_mutex_lock(&p->mu);
  off = p->wall_off;
  pthread_mutex_unlock(&p->mu);
  return off;
}

/* The pager's wall time: monotonic now in the accepted frame. */
static int64_t
now_of(struct pager *p)
{
  return mono_of(p) + wall_off(p);
}

static struct esc_policy *
policy(struct pager *p)
{
  struct esc_policy *pol;
  pthread_mutex_lock(&p->mu);
  pol = esc_policy_hold(p->pol);
  pthread_mutex_unlock(&p->mu);
  return pol;
}

/* ---- timer heap (mu held) --------------------------------------------- */

static void
heap_push(struct pager *p, int64_t due, int64_t id)
{
  size_t i;
  if (rb_grow((void **)&p->heap, &p->capheap, p->nheap, sizeof(*p->heap)))
    return;
  i = p->nheap++;
  while (i > 0 && p->heap[(i - 1) / 2].due > due) {
    p->heap[i] = p->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  p->heap[i].due = due;
  p->heap[i].incident_id = id;
}

static struct timer
heap_pop(struct pager *p)
{
  struct timer top = p->heap[0], last = p->heap[--p->nheap];
  size_t i = 0;

  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= p->nheap)
      break;
    if (c + 1 < p->nheap && p->heap[c + 1].due < p->heap[c].due)
      c++;
    if (p->heap[c].due >= last.due)
      break;
    p->heap[i] = p->heap[c];
    i = c;
  }
  if (p->nheap)
    p->heap[i] = last;
  return top;
}

/* Schedules a stored (wall) due time on the monotonic heap. */
static void
schedule(struct pager *p, int64_t due, int64_t id)
{
  if (!due)
    return;
  pthread_mutex_lock(&p->mu);
  heap_push(p, due - p->wall_off, id);
  metrics_timers(p->nheap);
  pthread_cond_signal(&p->tcv);
  pthread_mutex_unlock(&p->mu);
}

static void *worker_main(void *arg);

/* A page and the lane it waits in. */
struct page_ref {
  int64_t id;
  const char *contact;
  int notice;
};

static int
is_notice(int event)
{
  return event == NE_PROGRESS || event == NE_ACKNOWLEDGED || event == NE_RESOLVED;
}

/* The lane of (contact, notice), made when missing (mu held). */
static struct lane *
lane_get(struct pager *p, const char *contact, int notice)
{
  struct lane *l;
  for (size_t i = 0; i < p->nlanes; i++)
    if (p->lanes[i]->notice == notice && strcmp(p->lanes[i]->contact, contact) == 0)
      return p->lanes[i];
  if (rb_grow((void **)&p->lanes, &p->caplanes, p->nlanes, sizeof(*p->lanes)))
    return NULL;
  l = calloc(1, sizeof(*l));
  if (!l || !(l->contact = strdup(contact))) {
    free(l);
    return NULL;
  }
  l->notice = notice;
  p->lanes[p->nlanes++] = l;
  return l;
}

static void
lane_free(struct lane *l)
{
  free(l->contact);
  free(l->q);
  free(l);
}

/* Drops a lane nobody uses any more (mu held). */
static void
lane_drop_if_idle(struct pager *p, struct lane *l)
{
  if (l->len || l->busy || l->queued)
    return;
  for (size_t i = 0; i < p->nlanes; i++)
    if (p->lanes[i] == l) {
      p->lanes[i] = p->lanes[--p->nlanes];
      break;
    }
  lane_free(l);
}

static int
lane_push(struct lane *l, int64_t id)
{
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    int64_t *q = malloc(cap * sizeof(*q));
    if (!q)
      return -1;
    for (size_t k = 0; k < l->len; k++)
      q[k] = l->q[(l->head + k) % l->cap];
    free(l->q);
    l->q = q;
    l->head = 0;
    l->cap = cap;
  }
  l->q[(l->head + l->len++) % l->cap] = id;
  return 0;
}

/* Puts a lane with pages and no page being sent at the end of the ready
 * list (mu held). */
static void
lane_ready(struct pager *p, struct lane *l)
{
  if (l->queued || l->busy || !l->len)
    return;
  l->queued = 1;
  l->next = NULL;
  if (p->ready_tail)
    p->ready_tail->next = l;
  else
    p->ready_head = l;
  p->ready_tail = l;
  p->nready++;
}

static void
queue_pages(struct pager *p, const struct page_ref *pages, size_t n)
{
  pthread_mutex_lock(&p->mu);
  for (size_t i = 0; i < n; i++) {
    struct lane *l = lane_get(p, pages[i].contact ? pages[i].contact : "", pages[i].notice);
    if (!l || lane_push(l, pages[i].id)) {
      /* Left in the outbox: sent at the next start. */
      rblog(LOG_ERROR, "out of memory: a page waits in the outbox until the next start", NULL);
      if (l)
        lane_drop_if_idle(p, l);
      continue;
    }
    lane_ready(p, l);
  }
  /* More lanes ready than workers waiting: all are busy. */
  while (p->nready > p->widle && !p->stopping && p->nworkers < p->maxworkers
         && pthread_create(&p->workers[p->nworkers], NULL, worker_main, p) == 0)
    p->nworkers++;
  pthread_cond_broadcast(&p->wcv);
  pthread_mutex_unlock(&p->mu);
}

/* ---- store jobs --------------------------------------------------------- */

#define MAX_PAGES 40

/* What a job decided: pages to send and the next due time. */
struct esc_job {
  struct pager *p;
  struct esc_policy *pol;
  int64_t incident_id;
  int64_t now;
  enum { J_OPEN, J_TIMER, J_ACK, J_UNACK, J_RESOLVE, J_URGENT } kind;
  const char *reason;
  struct page_ref pages[MAX_PAGES]; /* contacts point into pol */
  size_t npages;
  int64_t prev_due;  /* the due time before this job (-1: a new escalation) */
  int64_t next_due;
  int scheduled; /* run_jobs pushed next_due onto the heap */
};

static rb_status
add_page(struct store *st, struct esc_job *j, const struct esc_state *s, const char *contact,
         enum notify_event ev, int level, const char *reason)
{
  struct page_row pr;
  char did[64];
  rb_status rc;

  if (j->npages >= MAX_PAGES)
    return RB_OK;
  memset(&pr, 0, sizeof(pr));
  /* Unique: the incident, the time and this process's page sequence; the
   * same row keeps it if it is sent again after a restart. */
  snprintf(did, sizeof(did), "%lld-%lld-%lld", (long long)s->incident_id, (long long)j->now,
           (long long)atomic_fetch_add(&j->p->seq, 1));
  pr.incident_id = s->incident_id;
  pr.contact = (char *)(uintptr_t)contact;
  pr.event = (int)ev;
  pr.level = level;
  pr.reason = (char *)(uintptr_t)reason;
  pr.delivery_id = did;
  pr.severity = (int)s->severity;
  pr.created_ms = j->now;
  rc = store_w_page_insert(st, &pr);
  if (!rc) {
    j->pages[j->npages].id = pr.id;
    j->pages[j->npages].contact = contact;
    j->pages[j->npages++].notice = is_notice(pr.event);
  }
  return rc;
}

/* Pages every contact paged so far (progress, ack, resolution notices),
 * by the ids recorded when they were paged; one the configuration no
 * longer has cannot be reached and is skipped. */
static rb_status
notify_paged(struct store *st, struct esc_job *j, const struct esc_state *s,
             enum notify_event ev, const char *reason)
{
  rb_status rc = RB_OK;
  for (const char *c = esc_paged_next(s, NULL); c && !rc; c = esc_paged_next(s, c)) {
    const struct esc_contact *ct = esc_contact_find(j->pol, c);
    if (ct)
      rc = add_page(st, j, s, ct->id, ev, s->level, reason);
  }
  return rc;
}

static rb_status
event(struct store *st, struct esc_job *j, const char *kind, const char *fmt_detail)
{
  return store_w_append_event(st, j->incident_id, j->now, kind, "runbookd", fmt_detail);
}

static int
is_unavailable(const struct esc_policy *pol, const struct incident *inc)
{
  struct am_labels ls;
  int r = 0;
  if (!pol->unavailable_match || am_labels_from_json(inc->labels_json, &ls) != RB_OK)
    return 0;
  r = matchers_match(pol->unavailable_match, &ls);
  am_labels_free(&ls);
  return r;
}

/* Several components failing at once: distinct Deployments among open
 * critical-or-worse incidents opened within the window.  Lists them into
 * names (comma separated) and returns how many. */
static unsigned
failing_components(struct store *st, const struct esc_policy *pol, int64_t now, char *names,
                   size_t nlen)
{
  struct incident_filter f = { INC_OPEN, -1, NULL, 500, 0 };
  struct incident *v = NULL;
  size_t n = 0, used = 0;
  unsigned count = 0;
  char seen[32][128];

  names[0] = '\0';
  for (int sev = SEV_EMERGENCY; sev <= SEV_CRITICAL; sev++) {
    f.severity = sev;
    if (store_list(st, &f, &v, &n) != RB_OK)
      continue;
    for (size_t i = 0; i < n; i++) {
      struct am_labels ls;
      const char *d;
      unsigned k;
      if (now - v[i].opened_ms > (int64_t)pol->multi_window_s * 1000)
        continue;
      if (am_labels_from_json(v[i].labels_json, &ls) != RB_OK)
        continue;
      d = am_label(&ls, "deployment");
      for (k = 0; d && k < count; k++)
        if (strcmp(seen[k], d) == 0)
          break;
      if (d && k == count && count < 32) {
        snprintf(seen[count++], sizeof(seen[0]), "%s", d);
        used += (size_t)snprintf(names + used, used < nlen ? nlen - used : 0, "%s%s",
                                 used ? ", " : "", d);
      }
      am_labels_free(&ls);
    }
    incidents_free(v, n);
  }
  return count;
}

/* An escalation became an emergency: so does its incident. */
static rb_status
raise_incident(struct store *st, int64_t id)
{
  struct incident inc;
  rb_status rc = store_w_get(st, id, &inc);
  if (rc)
    return rc == RB_ENOTFOUND ? RB_OK : rc;
  if (inc.severity != SEV_EMERGENCY) {
    inc.severity = SEV_EMERGENCY;
    rc = store_w_update_incident(st, &inc);
  }
  incident_clear(&inc);
  return rc;
}

/* Brings the escalation in line with its incident's stored state:
 * resolved -> done, with the resolution notice to those paged; an ack not
 * taken into account yet (s->ack_seen_ms) -> acknowledged, with the
 * acknowledged notice (an escalation made active again after the ack, by
 * the unavailable trigger, stays active); open again while acknowledged
 * -> esc_unack (*unacked set). */
static rb_status
follow_incident(struct store *st, struct esc_job *j, struct esc_state *s,
                const struct incident *inc, int *unacked)
{
  if (s->phase == ESC_DONE)
    return RB_OK;
  if (inc->state == INC_RESOLVED) {
    esc_resolve(s);
    return notify_paged(st, j, s, NE_RESOLVED, "resolved");
  }
  if (inc->state == INC_ACKED && inc->acked_ms != s->ack_seen_ms) {
    /* Acknowledged with no ack recorded: a row stored by an older runbookd,
     * which told those paged already. */
    int told = s->phase == ESC_ACKED && !s->ack_seen_ms;
    esc_ack(s, j->now);
    s->ack_seen_ms = inc->acked_ms;
    return told ? RB_OK : notify_paged(st, j, s, NE_ACKNOWLEDGED, "acknowledged");
  }
  if (inc->state == INC_OPEN && s->phase == ESC_ACKED) {
    esc_unack(s, j->pol, j->now);
    *unacked = 1;
  }
  return RB_OK;
}

/* The end of a silence hold that starts at now: the silence's end or the
 * next multiple of PAGER_SILENCE_RECHECK_MS, whichever comes first (see
 * pager.h).  Always after now, so the timer fires again. */
static int64_t
silence_hold_until(int64_t now, int64_t ends)
{
  int64_t next = (now / PAGER_SILENCE_RECHECK_MS + 1) * PAGER_SILENCE_RECHECK_MS;
  return ends > now && ends < next ? ends : next;
}

/* Whether esc_due would send anything at now (a dry run on a copy). */
static int
would_send(const struct esc_state *s, const struct esc_policy *pol, int64_t now)
{
  struct esc_state c = *s;
  struct esc_action a[ESC_MAX_ACTIONS];
  size_t n = esc_due(&c, pol, now, a);
  for (size_t i = 0; i < n; i++)
    if (a[i].kind != EA_EXHAUSTED)
      return 1;
  return 0;
}

static rb_status
esc_job_fn(struct store *st, void *arg)
{
  struct esc_job *j = arg;
  struct esc_state s;
  struct incident inc;
  struct esc_action act[ESC_MAX_ACTIONS];
  struct buf d;
  size_t n;
  rb_status rc;
  int have_inc = 0, silenced = 0, held = 0, unacked = 0;
  char sid[64] = "";

  j->npages = 0;
  j->next_due = 0;
  j->prev_due = -1;
  memset(&inc, 0, sizeof(inc));
  buf_init(&d, 0);
  rc = store_w_esc_get(st, j->incident_id, &s);
  if (rc == RB_OK)
    j->prev_due = s.stored_due_ms; /* what the heap holds for it */
  if (rc == RB_OK && s.legacy_mask)
    esc_paged_from_mask(&s, j->pol); /* a row from before names were kept */
  if (rc == RB_ENOTFOUND) {
    if (j->kind != J_OPEN && j->kind != J_URGENT)
      return RB_OK; /* never escalated (paging was off) */
    rc = store_w_get(st, j->incident_id, &inc);
    if (rc)
      return rc == RB_ENOTFOUND ? RB_OK : rc;
    have_inc = 1;
    if (inc.state == INC_RESOLVED)
      goto out;
    esc_start(&s, j->pol, j->incident_id, inc.severity, is_unavailable(j->pol, &inc), j->now);
    if (inc.state == INC_ACKED) {
      esc_ack(&s, j->now);
      s.ack_seen_ms = inc.acked_ms; /* nobody to tell */
    }
    if (s.severity <= SEV_CRITICAL && s.severity != SEV_EMERGENCY && j->pol->multi_deployments) {
      char names[1024], detail[1400];
      unsigned k = failing_components(st, j->pol, j->now, names, sizeof(names));
      if (k >= j->pol->multi_deployments) {
        esc_upgrade(&s, j->pol, j->now);
        rc = raise_incident(st, j->incident_id);
        if (rc)
          goto out;
        snprintf(detail, sizeof(detail), "%u components failing at once: %s", k, names);
        buf_puts(&d, "{\"severity\":\"emergency\",\"reason\":");
        buf_json_str(&d, detail);
        buf_puts(&d, "}");
        rc = event(st, j, "escalated", d.data ? d.data : "{}");
        if (rc)
          goto out;
      }
    }
  } else if (rc) {
    return rc;
  }
  /* The incident: its state, and its labels for the silence check. */
  if (!have_inc)
    have_inc = store_w_get(st, j->incident_id, &inc) == RB_OK;
  /* Whatever the job, the escalation follows the incident's state: the ack,
   * unack and resolve hooks only say when to look, and a hook lost in a
   * crash between the incident's commit and this one is made up for by
   * the next job (a timer, the start-up scan: see pager_start). */
  if (have_inc)
    rc = follow_incident(st, j, &s, &inc, &unacked);
  if (!rc && j->kind == J_URGENT)
    esc_urgent(&s, j->now); /* its event follows the silence check */
  /* Silenced: whatever this job was, nothing is sent while the silence
   * lasts; the due times wait for its end or the next recheck. */
  if (!rc && have_inc && s.phase != ESC_DONE && j->p->silenced) {
    struct am_labels ls;
    int64_t ends = 0;
    if (am_labels_from_json(inc.labels_json, &ls) == RB_OK) {
      silenced = j->p->silenced(j->p->silence_arg, &ls, j->now, sid, sizeof(sid), &ends);
      am_labels_free(&ls);
    }
    if (silenced) {
      held = would_send(&s, j->pol, j->now);
      esc_hold(&s, silence_hold_until(j->now, ends));
      /* On the timeline once when the escalation starts silenced, and when
       * an unack or "page at once" was held back; not at each recheck. */
      if ((j->kind == J_OPEN && j->prev_due < 0) || ((unacked || j->kind == J_URGENT) && held)) {
        buf_reset(&d);
        buf_puts(&d, "{\"silence\":");
        buf_json_str(&d, sid);
        if (unacked) {
          buf_puts(&d, ",\"held\":\"page on unack\"");
        } else if (j->kind == J_URGENT) {
          buf_puts(&d, ",\"held\":\"page at once\",\"reason\":");
          buf_json_str(&d, j->reason);
        }
        buf_puts(&d, ",\"effect\":\"not paged while the silence lasts\"}");
        rc = event(st, j, "silenced", d.data);
      }
    }
  }
  if (!rc && j->kind == J_URGENT && !held) {
    buf_reset(&d);
    buf_puts(&d, "{\"reason\":");
    buf_json_str(&d, j->reason);
    buf_puts(&d, ",\"action\":\"page at once\"}");
    rc = event(st, j, "escalated", d.data);
  }
  /* Held: nothing is decided now (esc_due would still send an urgent
   * page, which is due at once whatever its due time says). */
  n = rc || silenced ? 0 : esc_due(&s, j->pol, j->now, act);
  for (size_t i = 0; i < n && !rc; i++) {
    buf_reset(&d);
    switch (act[i].kind) {
    case EA_PAGE: {
      const struct esc_contact *ct = esc_contact_find(j->pol, act[i].contact);
      rc = add_page(st, j, &s, act[i].contact, act[i].level == 0 ? NE_TRIGGER : NE_ESCALATED,
                    act[i].level, act[i].reason);
      if (!rc && act[i].level > 0) {
        buf_printf(&d, "{\"severity\":\"%s\",\"level\":%d,\"contact\":", severity_name(s.severity),
                   act[i].level);
        buf_json_str(&d, ct ? ct->name : act[i].contact);
        buf_puts(&d, ",\"reason\":");
        buf_json_str(&d, act[i].reason);
        buf_puts(&d, "}");
        rc = event(st, j, "escalated", d.data);
      }
      break;
    }
    case EA_PROGRESS:
      rc = notify_paged(st, j, &s, NE_PROGRESS, act[i].reason);
      if (!rc)
        rc = event(st, j, "progress update", "{}");
      break;
    case EA_UPGRADE:
      rc = raise_incident(st, j->incident_id);
      if (rc)
        break;
      buf_puts(&d, "{\"severity\":\"emergency\",\"reason\":");
      buf_json_str(&d, act[i].reason);
      buf_puts(&d, "}");
      rc = event(st, j, "escalated", d.data);
      break;
    case EA_EXHAUSTED:
      buf_puts(&d, "{\"reason\":");
      buf_json_str(&d, act[i].reason);
      buf_puts(&d, "}");
      rc = event(st, j, "escalation exhausted", d.data);
      break;
    }
  }
  if (!rc) {
    j->next_due = esc_next_due(&s);
    /* An open escalation with nothing due (acknowledged, or exhausted,
     * without progress updates) keeps a check timer, so that a hook lost
     * without a restart is made up for within PAGER_CHECK_MS. */
    if (!j->next_due && s.phase != ESC_DONE)
      j->next_due = s.stored_due_ms > j->now ? s.stored_due_ms : j->now + PAGER_CHECK_MS;
    rc = store_w_esc_put(st, &s, j->next_due);
  }
out:
  buf_free(&d);
  incident_clear(&inc);
  return rc;
}

/* Escalation work done in one store transaction: one commit (one fsync)
 * however many timers came due together. */
#define BATCH_MAX 256

struct work_item {
  int64_t incident_id;
  int kind;
  const char *reason;
};

struct esc_batch {
  struct esc_job *jobs;
  size_t n;
};

static rb_status
batch_fn(struct store *st, void *arg)
{
  struct esc_batch *b = arg;
  rb_status rc = RB_OK;
  for (size_t i = 0; i < b->n && !rc; i++)
    rc = esc_job_fn(st, &b->jobs[i]);
  return rc;
}

static void
run_jobs(struct pager *p, const struct work_item *w, size_t n, int64_t now)
{
  struct esc_policy *pol = policy(p);
  struct esc_batch b;

  if (!pol || !pol->enabled || !n) {
    /* Paging is off: the timers popped are dropped, and pager_reload
     * rebuilds them all from the store when paging comes back. */
    esc_policy_drop(pol);
    return;
  }
  b.n = n;
  b.jobs = calloc(n, sizeof(*b.jobs));
  if (!b.jobs) {
    esc_policy_drop(pol);
    for (size_t i = 0; i < n; i++)
      schedule(p, now + 5000, w[i].incident_id);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    b.jobs[i].p = p;
    b.jobs[i].pol = pol;
    b.jobs[i].incident_id = w[i].incident_id;
    b.jobs[i].now = now;
    b.jobs[i].kind = w[i].kind;
    b.jobs[i].reason = w[i].reason;
  }
  if (store_submit(p->st, batch_fn, &b) == RB_OK) {
    for (size_t i = 0; i < n; i++) {
      struct esc_job *j = &b.jobs[i];
      /* The heap may hold stale entries for this incident; a new one is
       * only needed when the due time moved (stale ones fire harmlessly).
       * A timer that fired with nothing due yet is scheduled again, unless
       * an earlier job of this batch already scheduled that time for the
       * incident (two entries that came due together, e.g. a stale one and
       * a silence recheck, would otherwise stay two at every recheck). */
      if (j->next_due != j->prev_due)
        j->scheduled = 1;
      else if (j->kind == J_TIMER && j->next_due > now) {
        j->scheduled = 1;
        for (size_t k = 0; k < i && j->scheduled; k++)
          if (b.jobs[k].scheduled && b.jobs[k].incident_id == j->incident_id
              && b.jobs[k].next_due == j->next_due)
            j->scheduled = 0;
      }
      if (j->scheduled)
        schedule(p, j->next_due, j->incident_id);
      queue_pages(p, j->pages, j->npages);
    }
  } else {
    rblog(LOG_ERROR, "escalation could not be recorded; retrying in 5s", NULL);
    for (size_t i = 0; i < n; i++)
      schedule(p, now + 5000, w[i].incident_id);
  }
  free(b.jobs);
  esc_policy_drop(pol);
}

static void
hook(struct pager *p, int64_t id, int kind, const char *reason)
{
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  if (!p->pol || !p->pol->enabled) {
    /* Paging is off: nothing to queue, and no thread to wake on every new
     * incident (the webhook's hot path). */
    pthread_mutex_unlock(&p->mu);
    return;
  }
  if (rb_grow((void **)&p->hooks, &p->caphooks, p->nhooks, sizeof(*p->hooks))) {
    pthread_mutex_unlock(&p->mu);
    return; /* the timer catches up with the incident's state */
  }
  p->hooks[p->nhooks].incident_id = id;
  p->hooks[p->nhooks].kind = kind;
  p->hooks[p->nhooks].reason = reason ? strdup(reason) : NULL;
  /* The thread drains every queued hook: one wake-up is enough. */
  if (p->nhooks++ == 0)
    pthread_cond_signal(&p->tcv);
  pthread_mutex_unlock(&p->mu);
}

static void
drain_hooks(struct pager *p)
{
  for (;;) {
    struct hook *h;
    size_t n;
    pthread_mutex_lock(&p->mu);
    h = p->hooks;
    n = p->nhooks;
    p->hooks = NULL;
    p->nhooks = p->caphooks = 0;
    pthread_mutex_unlock(&p->mu);
    if (!n) {
      free(h);
      return;
    }
    for (size_t i = 0; i < n; i += BATCH_MAX) {
      struct work_item w[BATCH_MAX];
      size_t k = n - i < BATCH_MAX ? n - i : BATCH_MAX;
      for (size_t x = 0; x < k; x++) {
        w[x].incident_id = h[i + x].incident_id;
        w[x].kind = h[i + x].kind;
        w[x].reason = h[i + x].reason;
      }
      run_jobs(p, w, k, now_of(p));
    }
    for (size_t i = 0; i < n; i++)
      free(h[i].reason);
    free(h);
  }
}

void pager_opened(struct pager *p, int64_t id) { hook(p, id, J_OPEN, NULL); }
void pager_acked(struct pager *p, int64_t id) { hook(p, id, J_ACK, NULL); }
void pager_unacked(struct pager *p, int64_t id) { hook(p, id, J_UNACK, NULL); }
void pager_resolved(struct pager *p, int64_t id) { hook(p, id, J_RESOLVE, NULL); }
void pager_urgent(struct pager *p, int64_t id, const char *reason) { hook(p, id, J_URGENT, reason); }

/* ---- timers --------------------------------------------------------------- */

/* Moves the due times of every escalation in the store by delta ms (a
 * step of the wall clock), in batched transactions.  The heap's monotonic
 * times stay right. */
struct shift_batch {
  const struct esc_due_row *rows;
  size_t n;
  int64_t delta;
};

static rb_status
shift_fn(struct store *st, void *arg)
{
  struct shift_batch *b = arg;
  rb_status rc = RB_OK;
  for (size_t i = 0; i < b->n && !rc; i++) {
    struct esc_state s;
    rc = store_w_esc_get(st, b->rows[i].incident_id, &s);
    if (rc == RB_ENOTFOUND) {
      rc = RB_OK;
      continue;
    }
    if (rc || s.phase == ESC_DONE)
      continue;
    if (s.level_due_ms)
      s.level_due_ms += b->delta;
    if (s.progress_due_ms)
      s.progress_due_ms += b->delta;
    if (s.unavailable_due_ms)
      s.unavailable_due_ms += b->delta;
    rc = store_w_esc_put(st, &s, s.stored_due_ms ? s.stored_due_ms + b->delta : 0);
  }
  return rc;
}

static rb_status
shift_due_times(struct pager *p, int64_t delta)
{
  struct esc_due_row *due = NULL;
  size_t n = 0;
  rb_status rc = store_esc_due_all(p->st, &due, &n);

  for (size_t i = 0; !rc && i < n; i += BATCH_MAX) {
    struct shift_batch b = { due + i, n - i < BATCH_MAX ? n - i : BATCH_MAX, delta };
    rc = store_submit(p->st, shift_fn, &b);
  }
  free(due);
  return rc;
}

/* A step of the wall clock (wall minus monotonic moved by more than
 * PAGER_STEP_MS since accepted): the stored due times move with it, so
 * that each escalation keeps the time it had left. */
static void
follow_wall_clock(struct pager *p, int64_t mono_now)
{
  int64_t off = wall_of(p) - mono_now, delta = off - wall_off(p);
  char d[32];

  if (delta > -PAGER_STEP_MS && delta < PAGER_STEP_MS)
    return;
  snprintf(d, sizeof(d), "%lld", (long long)delta);
  if (shift_due_times(p, delta) != RB_OK) {
    rblog(LOG_ERROR, "the wall clock stepped; escalation due times could not be moved yet",
          "step_ms", d, NULL);
    return; /* tried again at the next tick */
  }
  rblog(LOG_WARN, "the wall clock stepped; escalation due times moved with it", "step_ms", d, NULL);
  pthread_mutex_lock(&p->mu);
  p->wall_off = off;
  pthread_mutex_unlock(&p->mu);
}

size_t
pager_tick(struct pager *p, int64_t now_ms)
{
  size_t fired = 0;
  follow_wall_clock(p, now_ms);
  drain_hooks(p);
  for (;;) {
    struct work_item w[BATCH_MAX];
    size_t k = 0;
    int64_t off;
    pthread_mutex_lock(&p->mu);
    off = p->wall_off;
    while (k < BATCH_MAX && p->nheap && p->heap[0].due <= now_ms) {
      struct timer t = heap_pop(p);
      metrics_timer_lateness(mono_of(p) - t.due);
      w[k].incident_id = t.incident_id;
      w[k].kind = J_TIMER;
      w[k].reason = NULL;
      k++;
    }
    metrics_timers(p->nheap);
    pthread_mutex_unlock(&p->mu);
    if (!k)
      break;
    /* Decide at the tick's time: what was picked as due is due. */
    run_jobs(p, w, k, now_ms + off);
    fired += k;
  }
  return fired;
}

static void *
timer_main(void *arg)
{
  struct pager *p = arg;
  sigset_t all;

  rb_thread_name("rb-timers");

  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    int64_t now = mono_of(p), due;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    due = p->nheap ? p->heap[0].due : 0;
    if (!p->nhooks && (!due || due > now)) {
      struct timespec ts;
      int64_t wait = due ? due - now : 60000;
      if (wait > 1000)
        wait = 1000; /* re-read the clocks at least every second */
      pthread_mutex_unlock(&p->mu);
      follow_wall_clock(p, now);
      pthread_mutex_lock(&p->mu);
      if (p->stopping || p->nhooks) {
        pthread_mutex_unlock(&p->mu);
        continue;
      }
      clock_gettime(CLOCK_MONOTONIC, &ts); /* tcv waits on CLOCK_MONOTONIC */
      ts.tv_sec += wait / 1000;
      ts.tv_nsec += (wait % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&p->tcv, &p->mu, &ts);
      pthread_mutex_unlock(&p->mu);
      continue;
    }
    pthread_mutex_unlock(&p->mu);
    pager_tick(p, now);
  }
  return NULL;
}

/* ---- sending -------------------------------------------------------------- */

static void
fill_message(struct notify_message *m, const struct page_row *pr, const struct incident *inc,
             const struct esc_contact *ct, char *title, size_t tlen, char *dedup, size_t dlen)
{
  const char *ns = inc->namespace_ ? inc->namespace_ : "";
  memset(m, 0, sizeof(*m));
  snprintf(title, tlen, "[%s] %s%s%s", severity_name((enum severity)pr->severity),
           inc->alertname ? inc->alertname : "alert", *ns ? " in " : "", ns);
  for (char *c = title + 1; *c && *c != ']'; c++)
    if (*c >= 'a' && *c <= 'z')
      *c = (char)(*c - 'a' + 'A');
  snprintf(dedup, dlen, "runbookd-%s-%lld", inc->fingerprint, (long long)inc->id);
  m->event = (enum notify_event)pr->event;
  m->incident_id = inc->id;
  m->dedup_key = dedup;
  m->delivery_id = pr->delivery_id;
  m->title = title;
  m->summary = inc->summary ? inc->summary : "";
  m->severity = severity_name((enum severity)pr->severity);
  m->state = incident_state_name(inc->state);
  m->level = ct ? ct->name : pr->contact;
  m->recipient = pr->contact;
  m->reason = pr->reason;
  m->labels_json = inc->labels_json;
  m->at_ms = rb_wall_ms();
}

struct done_job {
  int64_t page_id;
  int64_t incident_id;
  int64_t now;
  char *events[NM_COUNT + 1];
  const char *kinds[NM_COUNT + 1];
  size_t n;
};

static rb_status
done_fn(struct store *st, void *arg)
{
  struct done_job *d = arg;
  rb_status rc = store_w_page_done(st, d->page_id);
  for (size_t i = 0; i < d->n && !rc; i++)
    rc = store_w_append_event(st, d->incident_id, d->now, d->kinds[i], "runbookd", d->events[i]);
  return rc;
}

/* ---- targets that do not answer ------------------------------------------ */

/* A target (one method of one contact) whose last send failed for lack of
 * a usable answer (no connection, timeouts, 429, 5xx after the retries)
 * is down for PAGER_DOWN_MS: a page that has another method left skips it
 * ("page failed" with 0 attempts, saying so), one that has not makes a
 * single attempt.  So a hanging or failing receiver costs its contact's
 * pages the timeouts once, not at every page.  A delivery brings it back
 * up.  (mu held for the table.) */
static struct target_down *
down_find(struct pager *p, const char *contact, int method)
{
  for (size_t i = 0; i < p->ndown; i++)
    if (p->down[i].method == method && strcmp(p->down[i].contact, contact) == 0)
      return &p->down[i];
  return NULL;
}

static int
target_down(struct pager *p, const char *contact, int method, int64_t now, int64_t *since,
            char *detail, size_t dlen)
{
  struct target_down *t;
  int down = 0;
  pthread_mutex_lock(&p->mu);
  t = down_find(p, contact, method);
  if (t && now < t->until) {
    down = 1;
    *since = t->since;
    snprintf(detail, dlen, "%s", t->detail);
  }
  pthread_mutex_unlock(&p->mu);
  return down;
}

static void
target_result(struct pager *p, const char *contact, int method, int64_t now, int failed,
              const char *detail)
{
  struct target_down *t;
  pthread_mutex_lock(&p->mu);
  t = down_find(p, contact, method);
  if (!failed) {
    if (t) {
      free(t->contact);
      *t = p->down[--p->ndown];
    }
  } else {
    if (!t && p->ndown < 256
        && !rb_grow((void **)&p->down, &p->capdown, p->ndown, sizeof(*p->down))) {
      t = &p->down[p->ndown];
      memset(t, 0, sizeof(*t));
      t->contact = strdup(contact);
      if (t->contact)
        p->ndown++;
      else
        t = NULL;
    }
    if (t) {
      t->method = method;
      t->since = now;
      t->until = now + PAGER_DOWN_MS;
      snprintf(t->detail, sizeof(t->detail), "%s", detail);
    }
  }
  pthread_mutex_unlock(&p->mu);
}

/* Asked before each method of a page and during its retries (through
 * notify_send_until): whether the page is no longer wanted.  A trigger or
 * escalated page stops once the incident is resolved, or acknowledged at
 * or after the moment the page was decided (a page decided after the ack,
 * as the unavailable trigger does when it makes an acknowledged incident's
 * escalation active again, stands); a progress update stops once the
 * incident is resolved.  Acknowledged and resolved notices always go out.
 * Reads the incident (the store's read connection): the ack or resolve is
 * seen as soon as it is committed, before its hook reaches the pager. */
struct page_check {
  struct pager *p;
  const struct page_row *pr;
  char why[160];
};

static int
page_unwanted(void *arg)
{
  struct page_check *c = arg;
  struct incident inc;
  int stop = 0;

  if (c->pr->event != NE_TRIGGER && c->pr->event != NE_ESCALATED && c->pr->event != NE_PROGRESS)
    return 0;
  memset(&inc, 0, sizeof(inc));
  if (store_get(c->p->st, c->pr->incident_id, &inc) != RB_OK)
    return 0; /* cannot tell: send */
  if (inc.state == INC_RESOLVED) {
    stop = 1;
    snprintf(c->why, sizeof(c->why), "the incident was resolved%s%s", inc.resolved_by ? " by " : "",
             inc.resolved_by ? inc.resolved_by : "");
  } else if (inc.state == INC_ACKED && c->pr->event != NE_PROGRESS
             && inc.acked_ms >= c->pr->created_ms) {
    stop = 1;
    snprintf(c->why, sizeof(c->why), "the incident was acknowledged%s%s",
             inc.acked_by ? " by " : "", inc.acked_by ? inc.acked_by : "");
  }
  incident_clear(&inc);
  return stop;
}

static void
send_page(struct pager *p, int64_t page_id)
{
  struct esc_policy *pol = policy(p);
  struct page_row pr;
  struct incident inc;
  struct done_job dj;
  struct page_check chk;
  const struct esc_contact *ct;
  const struct esc_severity_policy *sp;
  char title[256], dedup[96];
  int delivered = 0, cancelled = 0;
  const char *cancel_method = NULL;
  unsigned cancel_attempts = 0;

  memset(&dj, 0, sizeof(dj));
  memset(&inc, 0, sizeof(inc));
  if (!pol || store_page_get(p->st, page_id, &pr) != RB_OK) {
    esc_policy_drop(pol);
    return;
  }
  if (store_get(p->st, pr.incident_id, &inc) != RB_OK)
    goto out;
  ct = esc_contact_find(pol, pr.contact);
  sp = &pol->sev[pr.severity < SEV_COUNT ? pr.severity : SEV_MEDIUM];
  dj.page_id = page_id;
  dj.incident_id = pr.incident_id;
  chk.p = p;
  chk.pr = &pr;
  chk.why[0] = '\0';
  for (size_t i = 0; ct && i < sp->n_methods && !delivered && !cancelled; i++) {
    enum notify_method m = sp->methods[i];
    struct notify_message msg;
    struct notify_result res;
    struct buf d;
    rb_status rc;
    struct notify_settings ns;
    int later = 0, down;
    int64_t since = 0;
    char why_down[160];

    if (!ct->has[m])
      continue;
    if (page_unwanted(&chk)) {
      cancelled = 1;
      break;
    }
    for (size_t k = i + 1; k < sp->n_methods && !later; k++)
      later = ct->has[sp->methods[k]];
    down = target_down(p, ct->id, m, mono_of(p), &since, why_down, sizeof(why_down));
    memset(&res, 0, sizeof(res));
    if (down && later) {
      /* Down: straight to the next method (recorded as not tried). */
      snprintf(res.detail, sizeof(res.detail),
               "not tried: no answer from this %s target %llds ago (%s); the next method is "
               "used while it is down",
               notify_method_name(m), (long long)((mono_of(p) - since) / 1000), why_down);
      memset(&msg, 0, sizeof(msg));
      msg.event = (enum notify_event)pr.event;
      rc = RB_EUNAVAIL;
    } else {
      fill_message(&msg, &pr, &inc, ct, title, sizeof(title), dedup, sizeof(dedup));
      ns = pol->notify;
      if (down)
        ns.retries = 0; /* the last method: one attempt while it is down */
      rc = notify_send_until(&ns, &ct->targets[m], &msg, &res, page_unwanted, &chk);
      if (res.cancelled) {
        cancelled = 1;
        cancel_method = notify_method_name(m);
        cancel_attempts = res.attempts;
        break;
      }
      if ((rc == RB_OK && res.ok) || rc == RB_EUNAVAIL)
        target_result(p, ct->id, m, mono_of(p), rc != RB_OK, res.detail);
      metrics_page(notify_method_name(m), rc == RB_OK && res.ok);
    }
    delivered = rc == RB_OK && res.ok;
    buf_init(&d, 0);
    buf_puts(&d, "{\"contact\":");
    buf_json_str(&d, ct->name);
    buf_printf(&d, ",\"method\":\"%s\",\"event\":\"%s\",\"level\":%d,\"attempts\":%u,"
                   "\"status\":%ld,\"delivery\":",
               notify_method_name(m), notify_event_name(msg.event), pr.level, res.attempts,
               res.status);
    buf_json_str(&d, pr.delivery_id);
    buf_puts(&d, ",\"reason\":");
    buf_json_str(&d, pr.reason);
    buf_puts(&d, ",\"detail\":");
    buf_json_str(&d, res.detail);
    buf_puts(&d, "}");
    dj.kinds[dj.n] = delivered ? "paged" : "page failed";
    dj.events[dj.n++] = buf_steal(&d);
  }
  if (cancelled) {
    /* The rest of this page is not sent: say so, and why. */
    struct buf d;
    buf_init(&d, 0);
    buf_puts(&d, "{\"contact\":");
    buf_json_str(&d, ct ? ct->name : pr.contact);
    if (cancel_method)
      buf_printf(&d, ",\"method\":\"%s\",\"attempts\":%u", cancel_method, cancel_attempts);
    buf_printf(&d, ",\"event\":\"%s\",\"level\":%d,\"delivery\":",
               notify_event_name((enum notify_event)pr.event), pr.level);
    buf_json_str(&d, pr.delivery_id);
    buf_puts(&d, ",\"reason\":");
    buf_json_str(&d, pr.reason);
    buf_puts(&d, ",\"why\":");
    buf_json_str(&d, chk.why);
    buf_puts(&d, "}");
    dj.kinds[dj.n] = "page cancelled";
    dj.events[dj.n++] = buf_steal(&d);
  }
  if (!ct || !dj.n) {
    struct buf d;
    buf_init(&d, 0);
    buf_puts(&d, "{\"contact\":");
    buf_json_str(&d, pr.contact);
    buf_puts(&d, ",\"detail\":\"no configured method of this severity reaches this contact\"}");
    dj.kinds[dj.n] = "page failed";
    dj.events[dj.n++] = buf_steal(&d);
  }
  dj.now = rb_wall_ms();
  if (store_submit(p->st, done_fn, &dj) != RB_OK)
    rblog(LOG_ERROR, "a page's outcome could not be recorded; it will be sent again", NULL);
  for (size_t i = 0; i < dj.n; i++)
    free(dj.events[i]);
out:
  incident_clear(&inc);
  page_row_clear(&pr);
  esc_policy_drop(pol);
}

static void *
worker_main(void *arg)
{
  struct pager *p = arg;
  sigset_t all;

  rb_thread_name("rb-pager");

  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    struct lane *l;
    int64_t id;
    while (!p->nready && !p->stopping) {
      p->widle++;
      pthread_cond_wait(&p->wcv, &p->mu);
      p->widle--;
    }
    if (p->stopping)
      break;
    l = p->ready_head;
    p->ready_head = l->next;
    if (!p->ready_head)
      p->ready_tail = NULL;
    p->nready--;
    l->queued = 0;
    l->busy = 1;
    id = l->q[l->head];
    l->head = (l->head + 1) % l->cap;
    l->len--;
    pthread_mutex_unlock(&p->mu);
    send_page(p, id);
    pthread_mutex_lock(&p->mu);
    l->busy = 0;
    lane_ready(p, l); /* its next page, after the other lanes ready now */
    lane_drop_if_idle(p, l);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* ---- lifecycle -------------------------------------------------------------- */

rb_status
pager_start(const struct pager_options *o, struct esc_policy *pol, struct pager **out,
            char *err)
{
  struct pager *p = calloc(1, sizeof(*p));
  struct esc_due_row *due = NULL;
  struct page_row *pages = NULL;
  int64_t *missing = NULL;
  size_t ndue = 0, npages = 0, nmissing = 0;

  *out = NULL;
  if (!p) {
    esc_policy_drop(pol);
    return RB_ENOMEM;
  }
  p->st = o->store;
  p->now_fn = o->now_ms;
  p->now_arg = o->now_arg;
  p->mono_fn = o->mono_ms;
  p->mono_arg = o->mono_arg;
  p->wall_off = wall_of(p) - mono_of(p);
  p->silenced = o->silenced;
  p->silence_arg = o->silence_arg;
  p->pol = pol;
  pthread_mutex_init(&p->mu, NULL);
  {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a wall clock step moves no wait */
    pthread_cond_init(&p->tcv, &ca);
    pthread_condattr_destroy(&ca);
  }
  pthread_cond_init(&p->wcv, NULL);
  p->maxworkers = o->workers ? o->workers : 4;
  p->workers = calloc(p->maxworkers, sizeof(*p->workers));
  if (!p->workers) {
    pager_stop(p);
    return RB_ENOMEM;
  }
  if (store_esc_due_all(p->st, &due, &ndue) != RB_OK
      || store_pages_pending(p->st, &pages, &npages) != RB_OK
      || (pol && pol->enabled && store_esc_missing(p->st, &missing, &nmissing) != RB_OK)) {
    snprintf(err, RB_ERRLEN, "cannot read escalation state from the store");
    free(due);
    page_rows_free(pages, npages);
    free(missing);
    pager_stop(p);
    return RB_EUNAVAIL;
  }
  pthread_mutex_lock(&p->mu);
  for (size_t i = 0; i < ndue; i++)
    heap_push(p, due[i].due_ms - p->wall_off, due[i].incident_id);
  pthread_mutex_unlock(&p->mu);
  free(due);
  /* Pages a previous process left unsent go out now. */
  for (size_t i = 0; i < npages; i++) {
    struct page_ref r = { pages[i].id, pages[i].contact, is_notice(pages[i].event) };
    queue_pages(p, &r, 1);
  }
  page_rows_free(pages, npages);
  if (!o->manual && pthread_create(&p->timer_thread, NULL, timer_main, p) == 0)
    p->timer_started = 1;
  /* Incidents opened while no escalation was recorded (a crash between
   * the webhook's commit and the escalation's) start now. */
  for (size_t i = 0; i < nmissing; i++)
    pager_opened(p, missing[i]);
  free(missing);
  {
    char n1[32], n2[32];
    snprintf(n1, sizeof(n1), "%zu", ndue);
    snprintf(n2, sizeof(n2), "%zu", npages);
    rblog(LOG_INFO, "escalation ready", "enabled", pol && pol->enabled ? "true" : "false",
          "timers", n1, "unsent_pages", n2, NULL);
  }
  *out = p;
  return RB_OK;
}

void
pager_reload(struct pager *p, struct esc_policy *pol)
{
  struct esc_policy *old;
  int was_enabled;

  if (!p) {
    esc_policy_drop(pol);
    return;
  }
  pthread_mutex_lock(&p->mu);
  old = p->pol;
  was_enabled = old && old->enabled;
  p->pol = pol;
  pthread_cond_signal(&p->tcv);
  pthread_mutex_unlock(&p->mu);
  esc_policy_drop(old);
  if (!was_enabled && pol && pol->enabled) {
    /* Paging was just turned on.  The timers that came due while it was
     * off were dropped: every escalation's timer is rebuilt from its
     * stored due time (those past are due at once), and incidents opened
     * meanwhile start now. */
    int64_t *missing = NULL;
    struct esc_due_row *due = NULL;
    size_t n = 0, ndue = 0;
    if (store_esc_due_all(p->st, &due, &ndue) == RB_OK) {
      pthread_mutex_lock(&p->mu);
      p->nheap = 0;
      for (size_t i = 0; i < ndue; i++)
        heap_push(p, due[i].due_ms - p->wall_off, due[i].incident_id);
      metrics_timers(p->nheap);
      pthread_cond_signal(&p->tcv);
      pthread_mutex_unlock(&p->mu);
    } else {
      rblog(LOG_ERROR, "escalation timers could not be read back after paging was turned on", NULL);
    }
    free(due);
    if (store_esc_missing(p->st, &missing, &n) == RB_OK)
      for (size_t i = 0; i < n; i++)
        pager_opened(p, missing[i]);
    free(missing);
  }
}

size_t
pager_pending(struct pager *p)
{
  size_t n;
  if (!p)
    return 0;
  pthread_mutex_lock(&p->mu);
  n = p->nheap;
  pthread_mutex_unlock(&p->mu);
  return n;
}

void
pager_stop(struct pager *p)
{
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stopping = 1;
  pthread_cond_broadcast(&p->tcv);
  pthread_cond_broadcast(&p->wcv);
  pthread_mutex_unlock(&p->mu);
  if (p->timer_started)
    pthread_join(p->timer_thread, NULL);
  for (unsigned i = 0; i < p->nworkers; i++)
    pthread_join(p->workers[i], NULL);
  free(p->workers);
  for (size_t i = 0; i < p->nhooks; i++)
    free(p->hooks[i].reason);
  free(p->hooks);
  free(p->heap);
  for (size_t i = 0; i < p->nlanes; i++)
    lane_free(p->lanes[i]);
  free(p->lanes);
  for (size_t i = 0; i < p->ndown; i++)
    free(p->down[i].contact);
  free(p->down);
  esc_policy_drop(p->pol);
  pthread_cond_destroy(&p->tcv);
  pthread_cond_destroy(&p->wcv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

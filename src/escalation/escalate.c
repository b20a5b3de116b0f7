/*
 * escalate.c - the escalation decision: (state, policy, now) -> pages.
 * Pure: no I/O, no clock; the pager module stores the state and sends.
 */
#include "escalation.h"

#include <string.h>

const char *
esc_paged_next(const struct esc_state *s, const char *prev)
{
  const char *p = prev ? prev + strlen(prev) + 1 : s->paged;
  return p < s->paged + s->paged_len ? p : NULL;
}

int
esc_paged_has(const struct esc_state *s, const char *id)
{
  for (const char *c = esc_paged_next(s, NULL); c; c = esc_paged_next(s, c))
    if (strcmp(c, id) == 0)
      return 1;
  return 0;
}

int
esc_paged_add(struct esc_state *s, const char *id)
{
  size_t n = strlen(id) + 1;
  if (esc_paged_has(s, id))
    return 0;
  if (s->paged_len + n > sizeof(s->paged))
    return -1;
  memcpy(s->paged + s->paged_len, id, n);
  s->paged_len += n;
  return 0;
}

void
esc_paged_from_mask(struct esc_state *s, const struct esc_policy *p)
{
  for (size_t i = 0; i < p->n_contacts && i < 32; i++)
    if (s->legacy_mask & (1u << i))
      esc_paged_add(s, p->contacts[i].id);
  s->legacy_mask = 0;
}

void
esc_start(struct esc_state *s, const struct esc_policy *p, int64_t incident_id,
          enum severity sev, int unavailable_kind, int64_t now_ms)
{
  memset(s, 0, sizeof(*s));
  s->incident_id = incident_id;
  s->severity = sev;
  s->phase = ESC_ACTIVE;
  s->level = -1;
  s->opened_ms = now_ms;
  s->level_due_ms = now_ms + (int64_t)p->first_page_delay_s * 1000;
  s->progress_due_ms = p->progress_s ? now_ms + (int64_t)p->progress_s * 1000 : 0;
  if (unavailable_kind && sev != SEV_EMERGENCY && p->unavailable_s)
    s->unavailable_due_ms = now_ms + (int64_t)p->unavailable_s * 1000;
}

int64_t
esc_next_due(const struct esc_state *s)
{
  int64_t due = 0;
  const int64_t cand[3] = { s->phase == ESC_ACTIVE ? s->level_due_ms : 0, s->progress_due_ms,
                            s->unavailable_due_ms };

  if (s->phase == ESC_DONE)
    return 0;
  for (int i = 0; i < 3; i++)
    if (cand[i] && (!due || cand[i] < due))
      due = cand[i];
  return due;
}

static void
page(struct esc_state *s, const struct esc_policy *p, int level, const char *reason,
     struct esc_action *out, size_t *n)
{
  const struct esc_severity_policy *sp = &p->sev[s->severity];

  if (*n >= ESC_MAX_ACTIONS || level < 0 || (size_t)level >= sp->n_path)
    return;
  out[*n].kind = EA_PAGE;
  out[*n].level = level;
  out[*n].contact = sp->path[level];
  out[*n].reason = reason;
  (*n)++;
  esc_paged_add(s, sp->path[level]);
}

size_t
esc_due(struct esc_state *s, const struct esc_policy *p, int64_t now_ms, struct esc_action *out)
{
  const struct esc_severity_policy *sp;
  size_t n = 0;

  if (s->phase == ESC_DONE)
    return 0;
  if (s->unavailable_due_ms && now_ms >= s->unavailable_due_ms) {
    s->unavailable_due_ms = 0;
    if (s->severity != SEV_EMERGENCY) {
      out[n].kind = EA_UPGRADE;
      out[n].reason = "system unavailable for longer than the emergency threshold";
      out[n].level = -1;
      out[n].contact = NULL;
      n++;
      esc_upgrade(s, p, now_ms);
    }
  }
  sp = &p->sev[s->severity];
  if (s->urgent && s->phase == ESC_ACTIVE) {
    s->urgent = 0;
    if (s->level < 0 && sp->n_path)
      s->level = 0;
    page(s, p, s->level, "remediation failed, was refused or did not verify", out, &n);
    s->level_due_ms = now_ms + (int64_t)sp->respond_s * 1000;
  } else if (s->phase == ESC_ACTIVE && s->level_due_ms && now_ms >= s->level_due_ms) {
    s->level_due_ms = now_ms + (int64_t)sp->respond_s * 1000;
    if (s->level < 0 && sp->n_path) {
      s->level = 0;
      page(s, p, 0, n ? "emergency: system unavailable too long" : "first notice", out, &n);
    } else if (s->level + 1 < (int)sp->n_path) {
      s->level++;
      page(s, p, s->level, "not acknowledged in time: escalated to the next level", out, &n);
    } else if (s->repeats < (int)sp->repeat_last && sp->n_path) {
      s->repeats++;
      page(s, p, s->level, "still not acknowledged: the last level is paged again", out, &n);
    } else {
      s->level_due_ms = 0;
      if (n < ESC_MAX_ACTIONS) {
        out[n].kind = EA_EXHAUSTED;
        out[n].level = s->level;
        out[n].contact = NULL;
        out[n].reason = "every level was paged and nobody acknowledged";
        n++;
      }
    }
  }
  if (s->progress_due_ms && now_ms >= s->progress_due_ms) {
    s->progress_due_ms = p->progress_s ? now_ms + (int64_t)p->progress_s * 1000 : 0;
    if (s->paged_len && n < ESC_MAX_ACTIONS) {
      out[n].kind = EA_PROGRESS;
      out[n].level = s->level;
      out[n].contact = NULL;
      out[n].reason = "progress update";
      n++;
    }
  }
  return n;
}

void
esc_ack(struct esc_state *s, int64_t now_ms)
{
  (void)now_ms;
  if (s->phase == ESC_ACTIVE) {
    s->phase = ESC_ACKED;
    s->level_due_ms = 0;
    /* A "page at once" still waiting (held by a silence) is answered:
     * someone acknowledged.  Unack resumes the usual way. */
    s->urgent = 0;
  }
}

void
esc_unack(struct esc_state *s, const struct esc_policy *p, int64_t now_ms)
{
  if (s->phase != ESC_ACKED)
    return;
  s->phase = ESC_ACTIVE;
  /* Resume: the current level has its full time again; nobody paged yet
   * means page now. */
  s->level_due_ms = s->level < 0 ? now_ms : now_ms + (int64_t)p->sev[s->severity].respond_s * 1000;
}

void
esc_resolve(struct esc_state *s)
{
  s->phase = ESC_DONE;
  s->level_due_ms = s->progress_due_ms = s->unavailable_due_ms = 0;
}

void
esc_urgent(struct esc_state *s, int64_t now_ms)
{
  if (s->phase == ESC_ACTIVE) {
    /* The current level (the first if none was paged) is paged at once;
     * its time to acknowledge starts again. */
    s->urgent = 1;
    s->level_due_ms = now_ms;
  } else if (s->phase == ESC_ACKED) {
    s->progress_due_ms = now_ms;
  }
}

void
esc_upgrade(struct esc_state *s, const struct esc_policy *p, int64_t now_ms)
{
  (void)p;
  s->severity = SEV_EMERGENCY;
  s->phase = ESC_ACTIVE;
  s->level = -1;
  s->repeats = 0;
  s->level_due_ms = now_ms;
  s->unavailable_due_ms = 0;
}

void
esc_hold(struct esc_state *s, int64_t until_ms)
{
  if (s->level_due_ms && s->level_due_ms < until_ms)
    s->level_due_ms = until_ms;
  if (s->progress_due_ms && s->progress_due_ms < until_ms)
    s->progress_due_ms = until_ms;
  if (s->unavailable_due_ms && s->unavailable_due_ms < until_ms)
    s->unavailable_due_ms = until_ms;
}

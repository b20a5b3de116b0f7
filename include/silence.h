/*
 * silence.h - silences with Alertmanager's semantics and API v2 wire
 * format, so `amtool silence add|query|expire` pointed at runbookd work
 * unmodified.
 *
 * A silence has matchers (all must match), startsAt and endsAt; it is
 * pending before startsAt, active until endsAt, expired after.  The set is
 * kept in memory (a read-write lock; matching is on hot paths) and every
 * change is written through the store first.  A silenced alert's incident
 * is recorded as silenced and is neither remediated nor paged.
 */
#ifndef RUNBOOKD_SILENCE_H
#define RUNBOOKD_SILENCE_H

#include "rb.h"

struct am_labels;
struct store;
struct silences;

enum silence_state { SIL_PENDING = 0, SIL_ACTIVE, SIL_EXPIRED };

const char *silence_state_name(enum silence_state s);

/* Loads every silence from the store.  err (RB_ERRLEN). */
rb_status silences_open(struct store *st, struct silences **out, char *err);
void silences_free(struct silences *s);

/* Whether an active silence (at now_ms) matches labels: 1 and its id
 * (and end time) when one does.  Thread-safe; no I/O. */
int silences_match(struct silences *s, const struct am_labels *labels, int64_t now_ms, char *id,
                   size_t idlen, int64_t *ends_ms);

#endif
